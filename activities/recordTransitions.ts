// Activity: the one batched write of the orchestration. It records the structural transitions the
// orchestration decided (job start and end, start/end nodes, skips, fan-in failures, attempt
// timeouts, fan-out completions) and evaluates the nodes that need the job's data (conditionals,
// fan-out expansion with its child rows in one statement, fan-in aggregation), in one transaction.
import { aggregateFanIn } from '../dag/aggregateFanIn';
import { parseKey, taskIdOf, type JobEvent } from '../dag/jobState';
import { maxRetries, retryDelaySeconds } from '../dag/retryDelay';
import { childRetry, type ConditionalNode, type FanInNode, type FanOutNode } from '../dag/workflowModel';
import {
  applyNodeTransitions,
  childSummary,
  finishJob,
  getNode,
  insertFanOutChildren,
  recordTaskResults,
  setJobStatus,
  streamChildOutputs,
  transitionNode,
  withTransaction,
  type NodeTransition,
  type Queryable,
  type TaskResultInput,
} from '../db';
import type { ActivityDeps } from './activityDeps';
import { RecordTransitionsInputSchema, type RecordTransitionsOutput } from './contracts';
import { loadJobData, templateContextFor, type JobData } from './jobData';
import { renderNodeTemplates } from './renderNodeTemplates';
import { taskSpec } from './prepareAttempts';
import { metrics, telemetryEnabled, trackException } from '../handlers/telemetry';
import { versionOutcome } from './versionOutcome';

export async function recordTransitions(
  deps: ActivityDeps,
  rawInput: unknown,
): Promise<RecordTransitionsOutput> {
  const input = RecordTransitionsInputSchema.parse(rawInput);
  const data = await loadJobData(deps, input.jobId);
  if (!data) throw new Error(`recordTransitions: job ${input.jobId} does not exist`);
  const { jobId } = input;
  const results: JobEvent[] = [];

  await withTransaction(deps.pool, async (tx) => {
    const nodeTransitions: NodeTransition[] = [];
    const timeouts: TaskResultInput[] = [];
    let finished: Extract<JobEvent, { type: 'job_finished' }> | undefined;
    for (const e of input.events) {
      switch (e.type) {
        case 'job_started': {
          const r = await setJobStatus(tx, deps.schema, {
            jobId,
            from: ['pending'],
            to: 'running',
            sourceApp: deps.sourceApp,
          });
          void r; // A rerun's job is running already: nothing to do.
          break;
        }
        case 'node_completed':
          nodeTransitions.push({
            jobId,
            nodeId: e.node,
            from: ['pending', 'ready'],
            to: 'completed',
            set: { output: null },
          });
          break;
        case 'node_skipped':
          nodeTransitions.push({
            jobId,
            nodeId: e.node,
            from: ['pending', 'ready'],
            to: 'skipped',
            set: { skipReason: e.reason },
            event: { data: { reason: e.reason } },
          });
          break;
        case 'node_failed':
          nodeTransitions.push({
            jobId,
            nodeId: e.node,
            from: ['pending', 'ready', 'running'],
            to: 'failed',
            set: { errorMessage: e.error },
          });
          break;
        case 'attempt_failed': {
          // Timeouts the orchestration decided (the worker may be gone): the attempt fails here.
          const { node } = parseKey(e.key);
          const spec = taskSpec(data, node);
          const row = await getNode(tx, deps.schema, jobId, e.key);
          const retryNumber = e.attempt - (row?.first_attempt ?? 0);
          timeouts.push({
            taskId: taskIdOf(jobId, e.key, e.attempt),
            jobId,
            nodeId: e.key,
            attempt: e.attempt,
            status: 'failed',
            errorMessage: e.error,
            retryable: e.retryable && retryNumber < maxRetries(spec?.retry),
            retryDelayMs: retryDelaySeconds(spec?.retry, retryNumber) * 1000,
            timedOut: /timed out/.test(e.error),
          });
          break;
        }
        case 'fan_out_finished': {
          const s = await childSummary(tx, deps.schema, { jobId, parentNodeId: e.node });
          nodeTransitions.push({
            jobId,
            nodeId: e.node,
            from: ['running'],
            to: 'completed',
            set: {
              output: { fan_out_count: s.total, completed: s.byStatus.completed, failed: s.byStatus.failed },
            },
          });
          break;
        }
        case 'job_finished':
          finished = e;
          break;
        default:
          break;
      }
    }
    if (nodeTransitions.length)
      await applyNodeTransitions(tx, deps.schema, nodeTransitions, { sourceApp: deps.sourceApp });
    if (timeouts.length) await recordTaskResults(tx, deps.schema, timeouts, { sourceApp: deps.sourceApp });

    for (const ev of input.evaluate) {
      const at = Date.now();
      if (ev.nodeType === 'conditional')
        results.push(await evaluateConditionalNode(deps, tx, data, ev.node, at));
      else if (ev.nodeType === 'fan_out') results.push(await expandFanOut(deps, tx, data, ev.node, at));
      else results.push(await aggregate(deps, tx, data, ev.node, at));
    }

    if (finished) {
      // The job's asset version (if any) ends in the same statement, with its artifacts.
      const version = await versionOutcome(tx, deps.schema, data, finished.status);
      await finishJob(tx, deps.schema, {
        jobId,
        status: finished.status,
        errorMessage: finished.error ?? null,
        sourceApp: deps.sourceApp,
        ...(version ? { version } : {}),
      });
    }
  });
  // Telemetry once the transaction committed: the job's end, structural node failures.
  if (telemetryEnabled()) {
    const dims = { job_id: jobId, workflow_id: data.job.workflow_id };
    for (const e of input.events)
      if (e.type === 'node_failed') trackException('NodeFailed', e.error, { ...dims, node_id: e.node });
    for (const r of results) {
      if (r.type === 'node_failed') trackException('NodeFailed', r.error, { ...dims, node_id: r.node });
      if (r.type === 'fan_out_expanded') metrics.fanOutWidth(r.count, { ...dims, node_id: r.node });
    }
    for (const e of input.events) {
      if (e.type !== 'job_finished') continue;
      metrics.jobEnded(e.status, dims);
      if (e.status === 'failed') trackException('JobFailed', e.error ?? 'failed', dims);
    }
  }
  return { results };
}

/** Evaluates a node the orchestration asked for, inside the transaction: the event it led to. */
type Evaluation = (
  deps: ActivityDeps,
  tx: Queryable,
  data: JobData,
  node: string,
  at: number,
) => Promise<JobEvent>;

const evaluateConditionalNode: Evaluation = async (deps, tx, data, node, at) => {
  const def = data.workflow.nodes[node] as ConditionalNode;
  const ctx = await templateContextFor(deps, data, node, [def.condition ?? '', def.condition_field ?? '']);
  const r = await renderNodeTemplates(data.plan, 'conditional', node, ctx);
  if (!r.ok) return failNode(deps, tx, data.job.job_id, node, r.error, at);
  await transitionNode(
    tx,
    deps.schema,
    {
      jobId: data.job.job_id,
      nodeId: node,
      from: ['pending', 'ready', 'running'],
      to: 'completed',
      set: { output: r.value.output },
      event: { data: { taken_branch: r.value.output.taken_branch, value: r.value.output.value ?? null } },
    },
    { sourceApp: deps.sourceApp },
  );
  return { type: 'conditional_resolved', node, taken: r.value.taken, at };
};

const expandFanOut: Evaluation = async (deps, tx, data, node, at) => {
  const jobId = data.job.job_id;
  const def = data.workflow.nodes[node] as FanOutNode;
  const current = await getNode(tx, deps.schema, jobId, node);
  if (current && (current.status === 'running' || current.status === 'completed')) {
    // A redelivered expansion: the children exist already.
    const s = await childSummary(tx, deps.schema, { jobId, parentNodeId: node });
    return { type: 'fan_out_expanded', node, count: s.total, at };
  }
  const ctx = await templateContextFor(deps, data, node, [def.source, def.task.params]);
  const params = await renderNodeTemplates(data.plan, 'fan_out', node, ctx);
  if (!params.ok) return failNode(deps, tx, jobId, node, params.error, at);
  const children = params.value.map((inputParams, index) => ({ index, inputParams }));
  await insertFanOutChildren(tx, deps.schema, {
    jobId,
    parentNodeId: node,
    children,
    maxRetries: maxRetries(childRetry(def)),
    sourceApp: deps.sourceApp,
  });
  const count = children.length;
  await transitionNode(
    tx,
    deps.schema,
    count === 0
      ? {
          jobId,
          nodeId: node,
          from: ['pending', 'ready'],
          to: 'completed',
          set: { output: { fan_out_count: 0, completed: 0, failed: 0 } },
        }
      : {
          jobId,
          nodeId: node,
          from: ['pending', 'ready'],
          to: 'running',
          event: { data: { fan_out_count: count } },
        },
    { sourceApp: deps.sourceApp },
  );
  return { type: 'fan_out_expanded', node, count, at };
};

const aggregate: Evaluation = async (deps, tx, data, node, at) => {
  const jobId = data.job.job_id;
  const def = data.workflow.nodes[node] as FanInNode;
  const source = data.plan.fanInSource[node];
  const outputs: unknown[] = [];
  if (source) {
    for await (const page of streamChildOutputs(tx, deps.schema, {
      jobId,
      parentNodeId: source,
      pageSize: 5000,
    })) {
      for (const c of page) if (c.status === 'completed') outputs.push(c.output);
    }
  }
  const output = aggregateFanIn(def.aggregation, outputs);
  await transitionNode(
    tx,
    deps.schema,
    { jobId, nodeId: node, from: ['pending', 'ready', 'running'], to: 'completed', set: { output } },
    { sourceApp: deps.sourceApp },
  );
  return { type: 'fan_in_aggregated', node, at };
};

async function failNode(
  deps: ActivityDeps,
  tx: Queryable,
  jobId: string,
  node: string,
  error: string,
  at: number,
): Promise<JobEvent> {
  await transitionNode(
    tx,
    deps.schema,
    {
      jobId,
      nodeId: node,
      from: ['pending', 'ready', 'running'],
      to: 'failed',
      set: { errorMessage: error },
    },
    { sourceApp: deps.sourceApp },
  );
  return { type: 'node_failed', node, error, at };
}
