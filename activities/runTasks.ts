// Activity: runs attempts of nodes on the activity runner — one attempt (a task node), or a batch of
// a fan-out's children (one activity call, one statement to start them, one to record their
// results: a wide fan-out costs two history events per batch, not per child). It writes its own
// transitions to Postgres (running, then each result, idempotently keyed by task id), so the
// orchestration needs no extra activity per transition, and returns {ok} or {ok: false, error,
// retryable} per attempt.
import { retryDelaySeconds } from '../dag/retryDelay';
import type { FanOutNode, TaskNode } from '../dag/workflowModel';
import {
  getJob,
  recordTaskResults,
  startAttempts,
  type StartAttemptOutcome,
  type TaskResultInput,
} from '../db';
import { executeHandler, type AttemptResult } from '../handlers/executeHandler';
import type { ActivityDeps } from './activityDeps';
import { RunTasksInputSchema, type RunTaskOutput, type RunTasksOutput, type TaskAttempt } from './contracts';
import { renderNodeTemplates } from './renderNodeTemplates';
import { reportResultRecorded } from '../handlers/telemetry';
import { loadJobData, templateContextFor, type JobData } from './jobData';

export async function runTasks(deps: ActivityDeps, rawInput: unknown): Promise<RunTasksOutput> {
  const { attempts } = RunTasksInputSchema.parse(rawInput);
  const results: RunTaskOutput[] = new Array(attempts.length);
  const jobId = attempts[0]!.jobId;
  const data = await loadJobData(deps, jobId);
  if (!data)
    return {
      results: attempts.map(() => ({ ok: false, error: `Job ${jobId} does not exist`, retryable: false })),
    };

  // Static tasks render their params now (from upstream outputs); children got theirs at expansion.
  const prepared = await Promise.all(
    attempts.map(async (a) => {
      const spec = a.jobId === jobId ? taskSpec(data, a.node) : undefined;
      if (!spec)
        return {
          a,
          spec,
          params: undefined,
          renderError: `Node "${a.node}" is not a task or fan_out of job ${a.jobId}`,
        };
      if (a.index !== undefined) return { a, spec, params: undefined, renderError: undefined };
      const ctx = await templateContextFor(deps, data, a.node, [(spec as TaskNode).params]);
      const r = await renderNodeTemplates(data.plan, 'task_params', a.node, ctx);
      return r.ok
        ? { a, spec, params: r.value, renderError: undefined }
        : { a, spec, params: undefined, renderError: r.error };
    }),
  );
  const starts = await startAttempts(
    deps.pool,
    deps.schema,
    prepared.map(({ a, spec, params }) => ({
      jobId: a.jobId,
      nodeId: a.key,
      taskId: a.taskId,
      attempt: a.attempt,
      to: 'running' as const,
      deadlineAt: new Date(a.deadline),
      ...(a.index === undefined ? { inputParams: params ?? null } : {}),
      handler: spec?.handler ?? 'unknown',
      queue: 'activity',
      sourceApp: deps.sourceApp,
    })),
  );

  const toRecord: TaskResultInput[] = [];
  const recordedAt: number[] = [];
  // Handlers running here stop when the job is cancelled (the orchestration has ended it already),
  // and when the process shuts down (then nothing is recorded: the activity runs again).
  const cancel = new AbortController();
  const watcher = watchCancel(deps, jobId, cancel);
  const onShutdown = () => cancel.abort(new Error('The Function App is shutting down'));
  deps.shutdown?.addEventListener('abort', onShutdown, { once: true });
  if (deps.shutdown?.aborted) onShutdown();
  try {
    await Promise.all(
      prepared.map(async ({ a, spec, params, renderError }, i) => {
        const start = starts[i]!;
        const early = notStarted(start, a);
        if (early) {
          results[i] = early;
          return;
        }
        const node = (start as Extract<StartAttemptOutcome, { kind: 'started' | 'already_started' }>).node;
        const result: AttemptResult =
          renderError !== undefined || !spec
            ? {
                ok: false,
                error: renderError ?? 'unknown node',
                retryable: false,
                timedOut: false,
                aborted: false,
                durationMs: 0,
              }
            : await executeHandler(
                deps,
                {
                  jobId: a.jobId,
                  nodeId: a.key,
                  taskId: a.taskId,
                  attempt: a.attempt,
                  handler: spec.handler,
                  params: a.index === undefined ? params : (node.input_params ?? {}),
                  timeoutMs: Math.min(a.timeoutSeconds * 1000, Math.max(0, a.deadline - Date.now())),
                  timeoutSeconds: a.timeoutSeconds,
                  runner: 'activity',
                  mayHaveCheckpoint: a.attempt > 0 || start.kind === 'already_started',
                },
                cancel.signal,
              );
        results[i] = result.ok
          ? { ok: true }
          : { ok: false, error: result.error, retryable: result.retryable };
        recordedAt.push(i);
        toRecord.push({
          taskId: a.taskId,
          jobId: a.jobId,
          nodeId: a.key,
          attempt: a.attempt,
          status: result.ok ? 'completed' : 'failed',
          ...(result.ok
            ? { output: result.output }
            : { errorMessage: result.error, retryable: result.retryable }),
          durationMs: result.durationMs,
          retryDelayMs: retryDelaySeconds(spec?.retry, a.attempt - node.first_attempt) * 1000,
          ...(!result.ok && result.timedOut ? { timedOut: true } : {}),
        });
      }),
    );
  } finally {
    watcher.stop();
    deps.shutdown?.removeEventListener('abort', onShutdown);
  }
  if (deps.shutdown?.aborted) {
    throw new Error(
      'The Function App shut down while these attempts ran: they are not recorded and run again',
    );
  }
  if (toRecord.length) {
    const recorded = await recordTaskResults(deps.pool, deps.schema, toRecord, { sourceApp: deps.sourceApp });
    recorded.forEach((r, k) => {
      const t = toRecord[k]!;
      reportResultRecorded(
        r,
        { job_id: t.jobId, node_id: t.nodeId, task_id: t.taskId, attempt: t.attempt, runner: 'activity' },
        t.errorMessage,
      );
      if (r.kind === 'ignored_job_terminal') {
        results[recordedAt[k]!] = {
          ok: false,
          error: 'The job has ended',
          retryable: false,
          cancelled: true,
        };
      }
    });
  }
  return { results };
}

/** Polls the job's cancel flag while handlers run; aborts them when it is set. */
export function watchCancel(
  deps: ActivityDeps,
  jobId: string,
  controller: AbortController,
  everyMs = 2000,
): { stop(): void } {
  const timer = setInterval(() => {
    jobClosed(deps, jobId).then(
      (closed) => {
        if (closed) controller.abort(new Error('The job was cancelled'));
      },
      () => undefined, // a failed poll is retried at the next tick
    );
  }, everyMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

async function jobClosed(deps: ActivityDeps, jobId: string): Promise<boolean> {
  const job = await getJob(deps.pool, deps.schema, jobId);
  return (
    !job || job.cancel_requested_at !== null || ['completed', 'failed', 'cancelled'].includes(job.status)
  );
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
      // The node moved on without this orchestration (a result recorded while it could not hear it):
      // Postgres is the truth, so its outcome is reported instead of a failure of this attempt.
      if (start.node.status === 'completed') return { ok: true };
      if (start.node.status === 'failed')
        return { ok: false, error: start.node.error_message ?? 'failed', retryable: false };
      return {
        ok: false,
        error: `Attempt ${a.attempt} of "${a.key}" is stale: the node is ${start.node.status} at attempt ${start.node.attempt}`,
        // Waiting for a later attempt in Postgres: the next attempt of the policy lines up with it.
        retryable:
          (start.node.status === 'ready' || start.node.status === 'pending') &&
          start.node.attempt > a.attempt,
      };
    case 'not_found':
      return { ok: false, error: `Node "${a.key}" of job ${a.jobId} does not exist`, retryable: false };
  }
}
