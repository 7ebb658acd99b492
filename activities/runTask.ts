// Activity: runs one attempt of a node on the activity runner. It writes its own transitions to
// Postgres (running, then the result, idempotently keyed by task id) so that the orchestration
// needs no extra activity per transition, and returns {ok} or {ok: false, error, retryable}.
import { renderTaskParams } from '../dag/evaluateNode';
import { retryDelaySeconds } from '../dag/retryDelay';
import type { FanOutNode, TaskNode } from '../dag/workflowModel';
import { recordTaskResult, startAttempt, type StartAttemptOutcome } from '../db';
import { executeHandler } from '../handlers/executeHandler';
import type { ActivityDeps } from './activityDeps';
import { TaskAttemptSchema, type RunTaskOutput, type TaskAttempt } from './contracts';
import { loadJobData, templateContextFor, type JobData } from './jobData';

export async function runTask(deps: ActivityDeps, rawInput: unknown): Promise<RunTaskOutput> {
  const a = TaskAttemptSchema.parse(rawInput);
  const data = await loadJobData(deps, a.jobId);
  if (!data) return { ok: false, error: `Job ${a.jobId} does not exist`, retryable: false };
  const spec = taskSpec(data, a.node);
  if (!spec)
    return {
      ok: false,
      error: `Node "${a.node}" is not a task or fan_out of the job's workflow`,
      retryable: false,
    };

  // Static tasks render their params now (from upstream outputs); children got theirs at expansion.
  let params: unknown;
  let renderError: string | undefined;
  if (a.index === undefined) {
    const ctx = await templateContextFor(deps, data, a.node, [(spec as TaskNode).params]);
    const r = renderTaskParams(data.plan, a.node, ctx);
    if (r.ok) params = r.value;
    else renderError = r.error;
  }
  const start = await startAttempt(deps.pool, deps.schema, {
    jobId: a.jobId,
    nodeId: a.key,
    taskId: a.taskId,
    attempt: a.attempt,
    to: 'running',
    deadlineAt: new Date(a.deadline),
    ...(a.index === undefined ? { inputParams: params ?? null } : {}),
    handler: spec.handler,
    queue: 'activity',
    sourceApp: deps.sourceApp,
  });
  const early = notStarted(start, a);
  if (early) return early;
  const node = (start as Extract<StartAttemptOutcome, { kind: 'started' | 'already_started' }>).node;
  if (a.index !== undefined) params = node.input_params ?? {};

  const result = renderError
    ? {
        ok: false as const,
        error: renderError,
        retryable: false,
        timedOut: false,
        aborted: false,
        durationMs: 0,
      }
    : await executeHandler(deps, {
        jobId: a.jobId,
        nodeId: a.key,
        taskId: a.taskId,
        attempt: a.attempt,
        handler: spec.handler,
        params,
        timeoutMs: Math.min(a.timeoutSeconds * 1000, Math.max(0, a.deadline - Date.now())),
        timeoutSeconds: a.timeoutSeconds,
        runner: 'activity',
      });
  const retryNumber = a.attempt - node.first_attempt;
  const recorded = await recordTaskResult(
    deps.pool,
    deps.schema,
    {
      taskId: a.taskId,
      jobId: a.jobId,
      nodeId: a.key,
      attempt: a.attempt,
      status: result.ok ? 'completed' : 'failed',
      ...(result.ok
        ? { output: result.output }
        : { errorMessage: result.error, retryable: result.retryable }),
      durationMs: result.durationMs,
      retryDelayMs: retryDelaySeconds(spec.retry, retryNumber) * 1000,
      ...(!result.ok && result.timedOut ? { timedOut: true } : {}),
    },
    { sourceApp: deps.sourceApp },
  );
  if (recorded.kind === 'ignored_job_terminal')
    return { ok: false, error: 'The job has ended', retryable: false, cancelled: true };
  return result.ok ? { ok: true } : { ok: false, error: result.error, retryable: result.retryable };
}

/** The task definition of a task node or of a fan-out's children. */
export function taskSpec(data: JobData, nodeId: string): TaskNode | FanOutNode['task'] | undefined {
  const node = data.workflow.nodes[nodeId];
  if (node?.type === 'task') return node;
  if (node?.type === 'fan_out') return node.task;
  return undefined;
}

/** The outcome of an attempt that did not (newly) start, or undefined when it should run. */
export function notStarted(start: StartAttemptOutcome, a: TaskAttempt): RunTaskOutput | undefined {
  switch (start.kind) {
    case 'started':
    case 'already_started':
      return undefined;
    case 'finished':
      // A redelivered attempt that already has a result: report it again, run nothing.
      return start.resultStatus === 'completed'
        ? { ok: true }
        : { ok: false, error: start.errorMessage ?? 'failed', retryable: start.retryable };
    case 'job_closed':
      return {
        ok: false,
        error:
          start.cancelRequested || start.jobStatus === 'cancelled'
            ? 'The job was cancelled'
            : `The job has ended (${start.jobStatus})`,
        retryable: false,
        cancelled: true,
      };
    case 'stale':
      return {
        ok: false,
        error: `Attempt ${a.attempt} of "${a.key}" is stale: the node is ${start.node.status} at attempt ${start.node.attempt}`,
        retryable: false,
      };
    case 'not_found':
      return { ok: false, error: `Node "${a.key}" of job ${a.jobId} does not exist`, retryable: false };
  }
}
