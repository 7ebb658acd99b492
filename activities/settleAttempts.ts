// Activity: the orchestration's timeout path. An attempt whose deadline passed without its result
// reaching the orchestration is not simply failed: the worker may have finished it while the
// Function App was down, or while the result message was held by a crashed instance. Postgres is the
// truth, so this records the timeout (idempotent by task id: a result recorded first wins) and
// answers, per attempt, the outcome Postgres holds — the worker's result, the timeout, or the node's
// state when it has moved on.
import { parseKey } from '../dag/jobState';
import { retryDelaySeconds } from '../dag/retryDelay';
import { placeTask } from '../dag/runners';
import { readAttemptStates, recordTaskResults, type AttemptState, type TaskResultInput } from '../db';
import type { ActivityDeps } from './activityDeps';
import { SettleAttemptsInputSchema, type SettleAttemptsOutput } from './contracts';
import type { RunTaskOutput } from './contracts';
import { appliedResultOutcome } from '../lib/containerMessages';
import { loadJobData } from './jobData';
import { taskSpec } from './prepareAttempts';

export async function settleAttempts(deps: ActivityDeps, rawInput: unknown): Promise<SettleAttemptsOutput> {
  const { jobId, attempts } = SettleAttemptsInputSchema.parse(rawInput);
  const data = await loadJobData(deps, jobId);
  if (!data)
    return {
      results: attempts.map(() => ({ ok: false, error: `Job ${jobId} does not exist`, retryable: false })),
    };
  const refs = attempts.map((a) => ({ nodeId: a.key, taskId: a.taskId }));
  const before = await readAttemptStates(deps.pool, deps.schema, jobId, refs);
  const errors = attempts.map((a, i) => {
    // Still dispatched: no worker ever took the task from its queue.
    if (before[i]!.node?.status !== 'dispatched' || before[i]!.node?.taskId !== a.taskId)
      return timeoutError(a.timeoutSeconds);
    const spec = taskSpec(data, parseKey(a.key).node);
    const queue = spec
      ? placeTask(deps.registry.catalog().get(spec.handler), spec.queue, deps.queueConfig).queue
      : undefined;
    return `${timeoutError(a.timeoutSeconds)}: no worker took it from queue "${queue ?? 'unknown'}" (is a container worker consuming that queue? see DAG_WORKER_QUEUES)`;
  });
  const timeouts: TaskResultInput[] = attempts.map((a, i) => {
    const spec = taskSpec(data, parseKey(a.key).node);
    return {
      taskId: a.taskId,
      jobId,
      nodeId: a.key,
      attempt: a.attempt,
      status: 'failed',
      errorMessage: errors[i]!,
      retryable: true,
      retryDelayMs: retryDelaySeconds(spec?.retry, a.attempt - (before[i]!.node?.firstAttempt ?? 0)) * 1000,
      timedOut: true,
    };
  });
  await recordTaskResults(deps.pool, deps.schema, timeouts, { sourceApp: deps.sourceApp });
  const after = await readAttemptStates(deps.pool, deps.schema, jobId, refs);
  return {
    results: attempts.map((a, i) => canonicalOutcome(a.attempt, after[i]!, errors[i]!)),
  };
}

const timeoutError = (seconds: number) => `Task timed out after ${seconds}s`;

/** The outcome of an attempt as Postgres records it (exported for tests). */
export function canonicalOutcome(attempt: number, s: AttemptState, timedOut: string): RunTaskOutput {
  if (s.jobStatus === null || ['completed', 'failed', 'cancelled'].includes(s.jobStatus))
    return {
      ok: false,
      error: `The job has ended (${s.jobStatus ?? 'deleted'})`,
      retryable: false,
      cancelled: true,
    };
  const node = s.node;
  if (!node) return { ok: false, error: 'The node does not exist', retryable: false };
  // A retry follows iff the node went on to a later attempt.
  const retried = node.attempt > attempt;
  if (s.result?.disposition === 'applied')
    return appliedResultOutcome(s.result.status, s.result.errorMessage, retried, timedOut);
  // The node moved on without this attempt's result (another attempt, or a transition of its own).
  if (node.status === 'completed') return { ok: true };
  if (node.status === 'failed' || node.status === 'skipped')
    return { ok: false, error: node.errorMessage ?? timedOut, retryable: false };
  return { ok: false, error: timedOut, retryable: true };
}
