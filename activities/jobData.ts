// The pinned workflow of a job, compiled once per process and job (version pinning makes the
// cache safe: a job's snapshot and inputs never change), and the template context of a node.
import { envValues } from '../dag/envReferences';
import { compilePlan, type Plan } from '../dag/compilePlan';
import { directUpstream } from '../dag/validateTemplates';
import { withDeclaredInputs } from '../dag/evaluateNode';
import { collectTemplates, inspectTemplate } from '../dag/inspectTemplate';
import type { TemplateContext } from '../dag/templateTypes';
import { WorkflowSchema, type Workflow } from '../dag/workflowModel';
import { getJob, getNodeOutputs, type JobRow } from '../db';
import type { ActivityDeps } from './activityDeps';

export interface JobData {
  job: JobRow;
  workflow: Workflow;
  plan: Plan;
  inputs: Record<string, unknown>;
}

const MAX_CACHED = 500;
const cache = new Map<string, JobData>();
const refsCache = new Map<string, string[]>();

/**
 * The job with its compiled pinned workflow, cached per process: the snapshot and inputs never
 * change, so the row is read once. Callers that need the job's current status read it themselves
 * (startAttempt checks it in the same statement that claims the attempt).
 */
export async function loadJobData(
  deps: ActivityDeps,
  jobId: string,
  opts: { freshRow?: boolean } = {},
): Promise<JobData | undefined> {
  const key = `${deps.schema}/${jobId}`;
  const hit = cache.get(key);
  if (hit && !opts.freshRow) return hit;
  const job = await getJob(deps.pool, deps.schema, jobId);
  if (!job) return undefined;
  if (hit) return { ...hit, job };
  const workflow = WorkflowSchema.parse(job.workflow_snapshot);
  const data: JobData = {
    job,
    workflow,
    plan: compilePlan(workflow),
    inputs: withDeclaredInputs(workflow.inputs, job.input_params),
  };
  if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value!);
  cache.set(key, data);
  return data;
}

/** Node ids that the given template-bearing values reference (nodes.<id>...), cached per key. */
function referencedNodes(cacheKey: string, values: unknown[]): string[] {
  let ids = refsCache.get(cacheKey);
  if (!ids) {
    const set = new Set<string>();
    for (const v of values) {
      for (const t of collectTemplates(v)) {
        for (const ref of inspectTemplate(t.template).references) {
          if (ref.root === 'nodes' && ref.path[0] !== undefined) set.add(ref.path[0]);
        }
      }
    }
    ids = [...set].sort();
    if (refsCache.size >= 10_000) refsCache.clear();
    refsCache.set(cacheKey, ids);
  }
  return ids;
}

/** The nodes whose outputs the template-bearing values of a node reference (cached per node). */
export function referencedNodeIds(data: JobData, nodeId: string, values: unknown[]): string[] {
  return referencedNodes(`${data.job.job_id}/${nodeId}`, values);
}

/**
 * The template context of a node: the job inputs and the finished upstream nodes its templates
 * reference (plus its direct upstream, which a conditional's field path reads).
 */
export async function templateContextFor(
  deps: ActivityDeps,
  data: JobData,
  nodeId: string,
  values: unknown[],
): Promise<TemplateContext> {
  const ids = new Set(referencedNodes(`${data.job.job_id}/${nodeId}`, values));
  if (data.plan.workflow.nodes[nodeId]?.type === 'conditional') {
    for (const p of directUpstream(data.plan, nodeId)) ids.add(p);
  }
  const outputs = ids.size ? await getNodeOutputs(deps.pool, deps.schema, data.job.job_id, [...ids]) : {};
  const nodes: TemplateContext['nodes'] = {};
  for (const [id, o] of Object.entries(outputs)) {
    if (o.status === 'completed') nodes[id] = { status: 'completed', output: o.output ?? null };
    else if (o.status === 'skipped') nodes[id] = { status: 'skipped', output: null };
  }
  return { inputs: data.inputs, nodes, env: envValues(data.plan.workflow, process.env) };
}
