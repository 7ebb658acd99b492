// The original orchestrator's HTTP callbacks for workers outside the product (its worker's
// HTTPReporter): POST /api/v1/callbacks/task-result, /task-progress and /checkpoint. They go through
// the same Postgres operations as the container worker, so the same rules hold:
// * idempotent by task id (a repeated result is a duplicate and changes nothing);
// * stale results (an attempt that is no longer the node's, a job that ended) are recorded, not applied;
// * a result that applied rings the result queue with the same doorbell message the worker sends, so
//   the waiting orchestration learns it the same way (functions/queueResults.ts reads the outcome
//   back from Postgres, whatever the message says);
// * auth: the function key (the queue path needs write access to the storage account and Postgres).
// Only container tasks can be reported this way (their message names the orchestration that waits).
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { z } from 'zod';
import { AppError } from './appError';
import type { ContainerResultMessage } from '../lib/containerMessages';
import { retryDelaySeconds } from '../dag/retryDelay';
import { RetryPolicySchema } from '../dag/workflowModel';
import {
  getJob,
  getNode,
  recordHeartbeat,
  recordTaskResult,
  replyToOfTask,
  saveCheckpoint,
  markTaskStarted,
} from '../db';
import { json, parseBody } from './http';
import { services } from './services';

const id = (max: number) => z.string().min(1).max(max);

/** TaskResultCreate of the original. */
const TaskResultBody = z.looseObject({
  task_id: id(200),
  job_id: id(64),
  node_id: id(140),
  status: z.enum(['received', 'running', 'completed', 'failed']),
  output: z.unknown().optional(),
  error_message: z.string().max(100_000).nullish(),
  worker_id: z.string().max(64).nullish(),
  execution_duration_ms: z.number().min(0).nullish(),
  checkpoint_id: z.string().nullish(),
  /** This product's addition: false when retrying cannot help. */
  retryable: z.boolean().optional(),
});

async function currentNode(jobId: string, nodeId: string) {
  const s = services();
  const [job, node] = await Promise.all([
    getJob(s.pool, s.schema, jobId),
    getNode(s.pool, s.schema, jobId, nodeId),
  ]);
  if (!job || !node) throw new AppError('NOT_FOUND', `Job ${jobId} has no node "${nodeId}".`);
  return { job, node };
}

/** The attempt a task id names: the node's current one, else the number at the end of the id. */
function attemptOf(taskId: string, node: { task_id?: string | null; attempt: number }): number {
  if (node.task_id === taskId) return node.attempt;
  const m = /(\d+)$/.exec(taskId);
  return m ? Number(m[1]) : node.attempt;
}

export async function postTaskResultCallback(req: HttpRequest): Promise<HttpResponseInit> {
  const b = await parseBody(req, TaskResultBody);
  const s = services();
  await s.ready();
  const { job, node } = await currentNode(b.job_id, b.node_id);
  const attempt = attemptOf(b.task_id, node);
  const workerId = b.worker_id ?? 'external';
  if (b.status === 'received' || b.status === 'running') {
    // The attempt started (dispatched → running, node_started); a repeat or a stale one changes nothing.
    const r = await markTaskStarted(
      s.pool,
      s.schema,
      { taskId: b.task_id, jobId: b.job_id, nodeId: b.node_id, workerId },
      { sourceApp: 'functionapp' },
    );
    if (r.kind === 'not_found')
      throw new AppError('NOT_FOUND', `Job ${b.job_id} has no node "${b.node_id}".`);
    await recordHeartbeat(s.pool, s.schema, {
      taskId: b.task_id,
      jobId: b.job_id,
      nodeId: b.node_id,
      workerId,
    });
    return json(202, { status: 'accepted', task_id: b.task_id, disposition: r.kind });
  }
  const failed = b.status === 'failed';
  const retryable = failed && b.retryable !== false;
  let retryDelayMs = 0;
  if (retryable) {
    const def = (
      job.workflow_snapshot as {
        nodes?: Record<string, { type?: string; retry?: unknown; task?: { retry?: unknown } }>;
      }
    ).nodes?.[b.node_id.split('__')[0]!];
    const raw = def?.type === 'fan_out' ? (def.task?.retry ?? def.retry) : def?.retry;
    const policy = RetryPolicySchema.safeParse(raw ?? {});
    retryDelayMs =
      retryDelaySeconds(
        policy.success ? policy.data : undefined,
        Math.max(0, attempt - (node.first_attempt ?? 0)),
      ) * 1000;
  }
  const outcome = await recordTaskResult(
    s.pool,
    s.schema,
    {
      taskId: b.task_id,
      jobId: b.job_id,
      nodeId: b.node_id,
      attempt,
      status: failed ? 'failed' : 'completed',
      ...(failed ? { errorMessage: b.error_message ?? 'failed', retryable } : { output: b.output ?? null }),
      workerId,
      durationMs: b.execution_duration_ms ?? null,
      retryDelayMs,
    },
    { sourceApp: 'functionapp' },
  );
  if (outcome.kind === 'not_found')
    throw new AppError('NOT_FOUND', `Job ${b.job_id} has no node "${b.node_id}".`);
  const ring =
    outcome.kind === 'applied' ||
    (outcome.kind === 'duplicate' && outcome.existing?.disposition === 'applied');
  let delivered = false;
  if (ring) {
    const replyTo = await replyToOfTask(s.pool, s.schema, b.task_id);
    if (replyTo) {
      const message: ContainerResultMessage = {
        v: 1,
        task_id: b.task_id,
        job_id: b.job_id,
        node_id: b.node_id,
        attempt,
        status: failed ? 'failed' : 'completed',
        error_message: failed ? (b.error_message ?? 'failed').slice(0, 2000) : null,
        retryable,
        worker_id: workerId,
        execution_duration_ms: b.execution_duration_ms == null ? null : Math.round(b.execution_duration_ms),
        reported_at: new Date().toISOString(),
        reply_to: replyTo,
      };
      await s.sendToQueue(s.config.DAG_RESULT_QUEUE, message);
      delivered = true;
    }
  }
  return json(202, { status: 'accepted', task_id: b.task_id, disposition: outcome.kind, delivered });
}

const ProgressBody = z.looseObject({
  task_id: id(200),
  job_id: id(64),
  node_id: id(140),
  progress_current: z.number().nullish(),
  progress_total: z.number().nullish(),
  progress_percent: z.number().nullish(),
  progress_message: z.string().max(256).nullish(),
  worker_id: z.string().max(64).nullish(),
});

export async function postTaskProgressCallback(req: HttpRequest): Promise<HttpResponseInit> {
  const b = await parseBody(req, ProgressBody);
  const s = services();
  const progress = {
    current: b.progress_current ?? null,
    total: b.progress_total ?? null,
    percent: b.progress_percent ?? null,
    message: b.progress_message ?? null,
  };
  const r = await recordHeartbeat(s.pool, s.schema, {
    taskId: b.task_id,
    jobId: b.job_id,
    nodeId: b.node_id,
    progress,
    ...(b.worker_id ? { workerId: b.worker_id } : {}),
  });
  return json(202, { status: 'accepted', task_id: b.task_id, disposition: r.kind });
}

/** CheckpointCreate of the original. */
const CheckpointBody = z.looseObject({
  job_id: id(64),
  node_id: id(140),
  task_id: id(200),
  phase_name: z.string().min(1).max(64),
  phase_index: z.int().min(0).default(0),
  total_phases: z.int().min(1).default(1),
  progress_current: z.int().min(0).default(0),
  progress_total: z.int().min(0).nullish(),
  progress_message: z.string().max(256).nullish(),
  state_data: z.unknown().optional(),
});

export async function postCheckpointCallback(req: HttpRequest): Promise<HttpResponseInit> {
  const b = await parseBody(req, CheckpointBody);
  const s = services();
  const { node } = await currentNode(b.job_id, b.node_id);
  const r = await saveCheckpoint(s.pool, s.schema, {
    jobId: b.job_id,
    nodeId: b.node_id,
    taskId: b.task_id,
    attempt: attemptOf(b.task_id, node),
    phaseName: b.phase_name,
    phaseIndex: b.phase_index,
    totalPhases: b.total_phases,
    progressCurrent: b.progress_current,
    progressTotal: b.progress_total ?? null,
    progressMessage: b.progress_message ?? null,
    stateData: b.state_data ?? null,
    sourceApp: 'functionapp',
  });
  if (r.kind === 'not_found') throw new AppError('NOT_FOUND', `Job ${b.job_id} has no node "${b.node_id}".`);
  if (r.kind === 'stale')
    throw new AppError(
      'CONFLICT',
      `Task ${b.task_id} is not the current attempt of node "${b.node_id}": checkpoint refused.`,
    );
  return json(202, {
    status: 'accepted',
    checkpoint_id: String(r.checkpoint.checkpoint_id),
    task_id: b.task_id,
  });
}
