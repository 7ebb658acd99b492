// Job lifecycle operations behind the HTTP routes: submit (idempotent), cancel, rerun, and the
// JSON views of jobs, nodes and events. The durable client starts and signals orchestrations;
// Postgres is written first, so a crash in between is repaired by the reconciler.
import type * as df from 'durable-functions';
import { jobInstanceId, ORCHESTRATION, type JobOrchestrationInput } from '../activities/contracts';
import { AppError } from './appError';
import { didYouMean } from '../dag/suggest';
import { validateInputs } from '../dag/validateInputs';
import { formatPath } from '../dag/workflowIssue';
import type { LoadedWorkflow } from '../dag/loadWorkflow';
import type { Workflow } from '../dag/workflowModel';
import {
  canonical,
  createJob,
  getJob,
  rerunJob,
  requestCancel,
  type JobRow,
  type JobSummaryRow,
  type NodeRow,
  type JobEventRow,
} from '../db';
import { annotateSpan, metrics } from '../handlers/telemetry';
import { lookupInstance } from './instanceStatus';
import { traceMetadata } from './traceMetadata';
import type { Services } from './services';

export interface SubmitInput {
  workflowId: string;
  inputs: unknown;
  idempotencyKey?: string;
  correlationId?: string;
  submittedBy?: string;
}

export async function submitJob(
  s: Services,
  client: df.DurableClient,
  input: SubmitInput,
): Promise<{ created: boolean; job: JobRow; warnings: string[] }> {
  const loaded = lookupLoadedWorkflow(s, input.workflowId);
  const workflow = loaded.workflow!;
  if (workflow.is_active === false) {
    throw new AppError(
      'CONFLICT',
      `Workflow "${workflow.workflow_id}" is inactive (is_active: false in its file) and accepts no new jobs; set is_active: true to enable it.`,
    );
  }
  const inputs = validateInputs(workflow, input.inputs);
  if (!inputs.ok) {
    throw new AppError(
      'VALIDATION',
      `Invalid inputs for workflow "${workflow.workflow_id}": ${inputs.problems.map((p) => p.message).join('; ')}`,
      inputs.problems,
    );
  }
  const r = await createJob(s.pool, s.schema, {
    workflowId: workflow.workflow_id,
    workflowVersion: workflow.version,
    workflowSnapshot: workflow as unknown as Record<string, unknown>,
    inputParams: inputs.value,
    idempotencyKey: input.idempotencyKey ?? null,
    correlationId: input.correlationId ?? null,
    submittedBy: input.submittedBy ?? null,
    nodes: nodeSpecs(workflow),
    sourceApp: 'functionapp',
    ...traceMetadata(),
  });
  annotateSpan({ job_id: r.job.job_id, workflow_id: workflow.workflow_id });
  if (r.created) {
    metrics.jobSubmitted({ workflow_id: workflow.workflow_id, job_id: r.job.job_id });
    s.log.info('job submitted', { job_id: r.job.job_id, workflow_id: workflow.workflow_id });
  }
  if (!r.created && r.job.workflow_id !== workflow.workflow_id) {
    throw new AppError(
      'CONFLICT',
      `Idempotency key "${input.idempotencyKey}" was already used for job ${r.job.job_id} of another workflow ("${r.job.workflow_id}", not "${workflow.workflow_id}"); use a new key for a new submission.`,
    );
  }
  if (!r.created && canonical(r.job.input_params) !== canonical(inputs.value)) {
    throw new AppError(
      'CONFLICT',
      `Idempotency key "${input.idempotencyKey}" was already used for job ${r.job.job_id} (workflow "${r.job.workflow_id}") with other inputs; use a new key for a new submission.`,
    );
  }
  await ensureOrchestration(client, r.job, { created: r.created });
  return { ...r, warnings: (loaded.warnings ?? []).map((w) => `${formatPath(w.path)}: ${w.message}`) };
}

/**
 * A runnable workflow of the catalog by id; an unknown id is NOT_FOUND (with a "did you mean"), a
 * workflow whose file is invalid is CONFLICT with its problems.
 */
export function lookupWorkflow(s: Services, workflowId: string): Workflow {
  return lookupLoadedWorkflow(s, workflowId).workflow!;
}

/** lookupWorkflow, with what the catalog knows of the file (its warnings). */
export function lookupLoadedWorkflow(s: Services, workflowId: string): LoadedWorkflow {
  let catalog = s.catalog();
  // A workflow file added a moment ago is found without waiting for the periodic check.
  if (!catalog.workflows.has(workflowId)) catalog = s.catalog(true);
  const loaded = catalog.workflows.get(workflowId);
  if (loaded?.workflow) return loaded;
  const invalid = catalog.files.find((f) => f.workflow?.workflow_id === workflowId);
  if (invalid) {
    throw new AppError(
      'CONFLICT',
      `Workflow "${workflowId}" is invalid and cannot run; see GET /api/workflows/${workflowId}.`,
      { problems: invalid.issues.map((i) => `${i.line}:${i.col}: ${i.message}`) },
    );
  }
  const hint = didYouMean(workflowId, catalog.workflows.keys());
  throw new AppError('NOT_FOUND', `Workflow "${workflowId}" does not exist${hint ? ` (${hint})` : ''}.`);
}

export function nodeSpecs(workflow: Workflow) {
  return Object.entries(workflow.nodes).map(([nodeId, n]) => ({
    nodeId,
    nodeType: n.type,
    maxRetries: n.type === 'task' ? (n.retry?.max_attempts ?? 3) : 0,
  }));
}

/**
 * Starts the job's orchestration for its current run unless it exists (idempotent). `created`: the
 * job row was just inserted, so its instance cannot exist yet (saves a status call).
 */
export async function ensureOrchestration(
  client: df.DurableClient,
  job: Pick<JobRow, 'job_id' | 'status' | 'run_count'>,
  opts: { created?: boolean } = {},
): Promise<void> {
  if (job.status !== 'pending' && job.status !== 'running') return;
  const instanceId = jobInstanceId(job.job_id, job.run_count);
  if (!opts.created && (await instanceExists(client, instanceId))) return;
  const input: JobOrchestrationInput = { jobId: job.job_id, run: job.run_count };
  try {
    await client.startNew(ORCHESTRATION.job, { instanceId, input });
  } catch (err) {
    // Two submissions raced to start it: the other one won, which is what we want.
    if (await instanceExists(client, instanceId)) return;
    throw err;
  }
}

/** Whether the instance exists; throws when the durable client cannot tell (not a 404). */
export async function instanceExists(client: df.DurableClient, instanceId: string): Promise<boolean> {
  return (await lookupInstance(client, instanceId)).found;
}

export async function cancelJob(
  s: Services,
  client: df.DurableClient,
  jobId: string,
  reason?: string,
): Promise<JobRow> {
  const r = await requestCancel(s.pool, s.schema, {
    jobId,
    ...(reason ? { reason } : {}),
    sourceApp: 'functionapp',
  });
  if (r.kind === 'not_found') throw new AppError('NOT_FOUND', `Job ${jobId} does not exist.`);
  if (r.kind === 'terminal') {
    throw new AppError(
      'CONFLICT',
      `Job ${jobId} is ${r.job.status}: only pending or running jobs can be cancelled.`,
    );
  }
  const instanceId = jobInstanceId(jobId, r.job.run_count);
  try {
    await client.raiseEvent(instanceId, 'cancel', { reason: reason ?? null });
  } catch {
    // Not started yet (it reads the cancel flag when it starts) or already finished.
  }
  return r.job;
}

export async function retryJob(s: Services, client: df.DurableClient, jobId: string): Promise<JobRow> {
  const r = await rerunJob(s.pool, s.schema, { jobId, sourceApp: 'functionapp' });
  if (r.kind === 'not_found') throw new AppError('NOT_FOUND', `Job ${jobId} does not exist.`);
  if (r.kind === 'conflict') {
    throw new AppError('CONFLICT', `Job ${jobId} is ${r.current.status}: only a failed job can be retried.`);
  }
  await ensureOrchestration(client, r.job);
  return r.job;
}

export async function getJobOrThrow(s: Services, jobId: string): Promise<JobRow> {
  const job = await getJob(s.pool, s.schema, jobId);
  if (!job) throw new AppError('NOT_FOUND', `Job ${jobId} does not exist.`);
  return job;
}

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

/** The fields a job shows in lists and in its detail alike. */
function jobFields(job: JobSummaryRow) {
  return {
    job_id: job.job_id,
    workflow_id: job.workflow_id,
    workflow_version: job.workflow_version,
    status: job.status,
    error_message: job.error_message ?? null,
    created_at: iso(job.created_at),
    started_at: iso(job.started_at),
    completed_at: iso(job.completed_at),
    updated_at: iso(job.updated_at),
    correlation_id: job.correlation_id ?? null,
    idempotency_key: job.idempotency_key ?? null,
    submitted_by: job.submitted_by ?? null,
    asset_id: job.asset_id ?? null,
    run_count: job.run_count,
    cancel_requested_at: iso(job.cancel_requested_at),
  };
}

/** A job in a list: no inputs, result or snapshot (GET /api/jobs/{id} has them). */
export function jobSummaryView(job: JobSummaryRow) {
  return { ...jobFields(job), links: jobLinks(job.job_id) };
}

export function jobView(job: Omit<JobRow, 'workflow_snapshot'> & { workflow_snapshot?: unknown }) {
  return { ...jobFields(job), input_params: job.input_params, result_data: job.result_data ?? null };
}

export function nodeView(n: NodeRow) {
  return {
    node_id: n.node_id,
    node_type: n.node_type,
    status: n.status,
    task_id: n.task_id ?? null,
    attempt: n.attempt,
    max_retries: n.max_retries,
    output: n.output ?? null,
    error_message: n.error_message ?? null,
    skip_reason: n.skip_reason ?? null,
    parent_node_id: n.parent_node_id ?? null,
    fan_out_index: n.fan_out_index ?? null,
    input_params: n.input_params ?? null,
    retry_at: iso(n.retry_at),
    deadline_at: iso(n.deadline_at),
    worker_id: n.worker_id ?? null,
    progress: n.progress ?? null,
    created_at: iso(n.created_at),
    ready_at: iso(n.ready_at),
    dispatched_at: iso(n.dispatched_at),
    started_at: iso(n.started_at),
    completed_at: iso(n.completed_at),
    updated_at: iso(n.updated_at),
  };
}

export function eventView(e: JobEventRow) {
  return {
    event_id: Number(e.event_id),
    job_id: e.job_id,
    node_id: e.node_id ?? null,
    task_id: e.task_id ?? null,
    event_type: e.event_type,
    event_status: e.event_status,
    event_data: e.event_data,
    error_message: e.error_message ?? null,
    duration_ms: e.duration_ms ?? null,
    source_app: e.source_app ?? null,
    created_at: iso(e.created_at),
  };
}

export function jobLinks(jobId: string) {
  const base = `/api/jobs/${jobId}`;
  return {
    self: base,
    nodes: `${base}/nodes`,
    events: `${base}/events`,
    cancel: `${base}/cancel`,
    retry: `${base}/retry`,
  };
}
