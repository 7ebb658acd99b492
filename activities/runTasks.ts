// Activity: runs attempts of nodes on the activity runner — one attempt (a task node), or a batch of
// a fan-out's children (one activity call, one statement to start them, one to record their
// results: a wide fan-out costs two history events per batch, not per child). It writes its own
// transitions to Postgres (running, then each result, idempotently keyed by task id), so the
// orchestration needs no extra activity per transition, and returns {ok} or {ok: false, error,
// retryable} per attempt.
import { setMaxListeners } from 'node:events';
import { maxRetries, retryDelaySeconds } from '../dag/retryDelay';
import type { FanOutNode, TaskNode } from '../dag/workflowModel';
import {
  getJob,
  recordLightAttempts,
  recordTaskResults,
  type LightAttemptInput,
  startAttempts,
  type StartAttemptOutcome,
  type TaskResultInput,
} from '../db';
import { executeHandler, type AttemptResult } from '../handlers/executeHandler';
import { handlerServicesOf, type ActivityDeps } from './activityDeps';
import { RunTasksInputSchema, type RunTaskOutput, type RunTasksOutput, type TaskAttempt } from './contracts';
import { renderNodeTemplates } from './renderNodeTemplates';
import { reportResultRecorded, setSpanAttributes, untraced } from '../handlers/telemetry';
import { loadJobData, referencedNodeIds, templateContextFor } from './jobData';
import { prepareAttempts, taskSpec, type PreparedAttempt } from './prepareAttempts';

export async function runTasks(deps: ActivityDeps, rawInput: unknown): Promise<RunTasksOutput> {
  const calledAt = Date.now();
  const { attempts, then, budgetMs } = RunTasksInputSchema.parse(rawInput);
  const out = await runBatch(deps, attempts);
  if (!then?.length || out.results.length !== 1 || !out.results[0]!.ok) return out;
  const chained: RunTaskOutput[] = [];
  try {
    await runChain(deps, then, chained, budgetMs ? calledAt + budgetMs : undefined);
  } catch (err) {
    // The attempt and the chain so far are recorded: report them, and leave the rest to the
    // orchestration (failing the call would fail the attempt that succeeded).
    deps.log.error('running the chain after an attempt failed; the orchestration dispatches the rest', {
      job_id: attempts[0]!.jobId,
      node_id: attempts[0]!.key,
      chained: chained.length,
      error: err instanceof Error ? err.message : String(err),
    });
  }
  return chained.length ? { ...out, chained } : out;
}

/**
 * Runs the task nodes that follow a finished attempt in a straight line, in order, while the one
 * before succeeded. Light ones run back to back in memory and are recorded together (start and
 * result of each, with the times they really ran) by one statement that applies all of them or
 * none; a node whose params read the output of one not recorded yet has the run so far recorded
 * first. One that is not light runs only before `until` (the call's chain budget), as a dispatched
 * attempt would: its start recorded first, the job's cancel watched, its result recorded after.
 * Stops at the first node that cannot run here, cannot render, or after a failure; what was not
 * recorded is not reported (the orchestration then dispatches it itself). Outcomes go to `out` as
 * they are recorded, so that what was recorded is reported even if the chain then throws.
 */
async function runChain(
  deps: ActivityDeps,
  then: TaskAttempt[],
  out: RunTaskOutput[],
  until?: number,
): Promise<void> {
  const data = await loadJobData(deps, then[0]!.jobId);
  if (!data) return;
  let ran: Array<{ node: string; input: LightAttemptInput; result: AttemptResult }> = [];
  /** Records what ran; false when not all of it applied (the chain stops). */
  const flush = async (): Promise<boolean> => {
    if (!ran.length) return true;
    const outcomes = await recordLightAttempts(
      deps.pool,
      deps.schema,
      ran.map((r) => r.input),
      { sourceApp: deps.sourceApp, allOrNothing: true },
    );
    // All or nothing on one snapshot; should a concurrent writer still split it, the applied prefix.
    let k = 0;
    for (; k < ran.length && outcomes[k]!.applied; k++) out.push(outcomeOf(ran[k]!.result));
    const all = k === ran.length;
    ran = [];
    return all;
  };
  const stop = new AbortController();
  const onShutdown = () => stop.abort(new Error('The Function App is shutting down'));
  deps.shutdown?.addEventListener('abort', onShutdown, { once: true });
  try {
    for (const a of then) {
      if (deps.shutdown?.aborted) return; // what ran and was not recorded is dropped
      const spec = a.jobId === data.job.job_id && a.index === undefined ? taskSpec(data, a.node) : undefined;
      if (!spec || data.workflow.nodes[a.node]?.type !== 'task') break;
      const values = [(spec as TaskNode).params];
      const reads = referencedNodeIds(data, a.node, values);
      if (ran.some((r) => reads.includes(r.node)) && !(await flush())) return;
      const ctx = await templateContextFor(deps, data, a.node, values);
      const r = await renderNodeTemplates(data.plan, 'task_params', a.node, ctx);
      if (!r.ok) break;
      if (!isLight(deps, spec.handler, r.value)) {
        if (until === undefined || Date.now() >= until || !(await flush())) break;
        const result = await runChained(deps, { a, spec, params: r.value, renderError: undefined });
        if (!result) return;
        out.push(result);
        if (!result.ok) return;
        continue;
      }
      const startedAt = new Date();
      // The chain's own clock: each node's timeout counts from its own start.
      const result = await runAttempt(deps, a, spec.handler, r.value, stop.signal, {
        timeoutMs: a.timeoutSeconds * 1000,
        mayHaveCheckpoint: false,
      });
      if (stop.signal.aborted) return;
      ran.push({ node: a.node, input: lightInput(a, spec, r.value, startedAt, result, new Date()), result });
      if (!result.ok) break;
    }
    await flush();
  } finally {
    deps.shutdown?.removeEventListener('abort', onShutdown);
  }
}

/**
 * A chained task that is not light, run as runBatch runs a dispatched one; its deadline counts from
 * its first start. Undefined when a shutdown stopped it: the orchestration dispatches it itself, and
 * its recorded start makes that attempt resume it.
 */
async function runChained(deps: ActivityDeps, p: Prepared): Promise<RunTaskOutput | undefined> {
  const a = { ...p.a, deadline: Date.now() + p.a.timeoutSeconds * 1000 };
  try {
    return (await runPrepared(deps, [{ ...p, a }])).results[0];
  } catch (err) {
    if (deps.shutdown?.aborted) return undefined;
    throw err;
  }
}

async function runBatch(deps: ActivityDeps, attempts: TaskAttempt[]): Promise<RunTasksOutput> {
  const ready = await prepareAttempts(deps, attempts);
  if (!ready.ok) return { results: ready.results };
  return runPrepared(deps, ready.prepared);
}

async function runPrepared(deps: ActivityDeps, prepared: Prepared[]): Promise<RunTasksOutput> {
  const results: RunTaskOutput[] = new Array(prepared.length);
  const jobId = prepared[0]!.a.jobId;
  // Light tasks run first and are recorded (start and result) by one statement; what that statement
  // did not apply goes the normal way below with the rest.
  const done = await runLightAttempts(deps, prepared, results);
  const rest = done.size ? prepared.filter((_, i) => !done.has(i)) : prepared;
  if (!rest.length) return { results };
  const restIndex = done.size ? prepared.flatMap((_, i) => (done.has(i) ? [] : [i])) : undefined;

  // A batch of fan-out children records its starts and results in a few set-based statements: with
  // Application Insights on they are not dependencies of their own (thousands per fan-out, as costly as
  // the work); the batch's activity span stands for them, as it does for the children themselves.
  const childBatch = prepared.every((p) => p.a.index !== undefined);
  if (childBatch) setSpanAttributes({ 'dag.fan_out_children': prepared.length });
  const bookkeeping = <T>(fn: () => Promise<T>) => (childBatch ? untraced(fn) : fn());
  const starts = await bookkeeping(() =>
    startAttempts(
      deps.pool,
      deps.schema,
      rest.map(({ a, spec, params }) => ({
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
    ),
  );

  const toRecord: TaskResultInput[] = [];
  const recordedAt: number[] = [];
  // Handlers running here stop when the job is cancelled (the orchestration has ended it already),
  // and when the process shuts down (then nothing is recorded: the activity runs again).
  const cancel = new AbortController();
  // Every attempt of a batch listens on this one signal while its handler runs: not a leak.
  setMaxListeners(0, cancel.signal);
  const watcher = watchCancel(deps, jobId, cancel);
  const onShutdown = () => cancel.abort(new Error('The Function App is shutting down'));
  deps.shutdown?.addEventListener('abort', onShutdown, { once: true });
  if (deps.shutdown?.aborted) onShutdown();
  try {
    // One promise for the batch and one reaction per attempt: Promise.all over async closures made
    // three per attempt, and with telemetry on each promise also carries its context.
    await new Promise<void>((resolve, reject) => {
      let pending = rest.length;
      const settled = () => {
        if (--pending === 0) resolve();
      };
      rest.forEach(({ a, spec, params, renderError }, k) => {
        const start = starts[k]!;
        const i = restIndex ? restIndex[k]! : k;
        const early = notStarted(start, a);
        if (early) {
          results[i] = early;
          settled();
          return;
        }
        const node = (start as Extract<StartAttemptOutcome, { kind: 'started' | 'already_started' }>).node;
        // Runs in a promise reaction: what it throws fails the batch (the activity is retried).
        const record = (result: AttemptResult) => {
          try {
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
            settled();
          } catch (err) {
            reject(err);
          }
        };
        if (renderError !== undefined || !spec) {
          record({
            ok: false,
            error: renderError ?? 'unknown node',
            retryable: false,
            timedOut: false,
            aborted: false,
            durationMs: 0,
          });
          return;
        }
        runAttempt(
          deps,
          a,
          spec.handler,
          a.index === undefined ? params : (node.input_params ?? {}),
          cancel.signal,
          {
            // A redelivered attempt has what is left of the deadline its first start recorded.
            timeoutMs:
              start.kind === 'already_started' && node.deadline_at
                ? Math.min(untilDeadline(a), Math.max(0, node.deadline_at.getTime() - Date.now()))
                : untilDeadline(a),
            mayHaveCheckpoint: a.attempt > 0 || start.kind === 'already_started',
          },
        ).then(record, reject);
      });
    });
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
    const recorded = await bookkeeping(() =>
      recordTaskResults(deps.pool, deps.schema, toRecord, { sourceApp: deps.sourceApp }),
    );
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

type Prepared = PreparedAttempt<TaskAttempt>;

/** Runs one attempt on this runner with the process's handler services. */
function runAttempt(
  deps: ActivityDeps,
  a: TaskAttempt,
  handler: string,
  params: unknown,
  signal: AbortSignal,
  o: { timeoutMs: number; mayHaveCheckpoint: boolean },
): Promise<AttemptResult> {
  return executeHandler(
    { ...deps, services: handlerServicesOf(deps) },
    {
      jobId: a.jobId,
      nodeId: a.key,
      taskId: a.taskId,
      attempt: a.attempt,
      handler,
      params,
      timeoutMs: o.timeoutMs,
      timeoutSeconds: a.timeoutSeconds,
      runner: 'activity',
      mayHaveCheckpoint: o.mayHaveCheckpoint,
    },
    signal,
  );
}

/** An attempt's time limit: its timeout, or what is left until its deadline when that is sooner. */
const untilDeadline = (a: TaskAttempt) =>
  Math.min(a.timeoutSeconds * 1000, Math.max(0, a.deadline - Date.now()));

/**
 * Runs the light static tasks among the attempts (see HandlerDefinition.light) and records each one's
 * start and result with one statement. Returns the indices it settled (their results are filled in).
 */
async function runLightAttempts(
  deps: ActivityDeps,
  prepared: Prepared[],
  results: RunTaskOutput[],
): Promise<Set<number>> {
  const done = new Set<number>();
  if (deps.shutdown?.aborted) return done;
  const light = prepared.flatMap((p, i) =>
    p.a.index === undefined &&
    p.spec &&
    p.renderError === undefined &&
    isLight(deps, p.spec.handler, p.params)
      ? [{ ...p, spec: p.spec, i }]
      : [],
  );
  if (!light.length) return done;
  // A light handler is quick: no cancel watch; a shutdown still stops it (then nothing is recorded).
  const stop = new AbortController();
  const onShutdown = () => stop.abort(new Error('The Function App is shutting down'));
  deps.shutdown?.addEventListener('abort', onShutdown, { once: true });
  let ran;
  try {
    ran = await Promise.all(
      light.map(async (p) => {
        const startedAt = new Date();
        const result = await runAttempt(deps, p.a, p.spec.handler, p.params, stop.signal, {
          timeoutMs: untilDeadline(p.a),
          mayHaveCheckpoint: false,
        });
        return { p, startedAt, result };
      }),
    );
  } finally {
    deps.shutdown?.removeEventListener('abort', onShutdown);
  }
  if (stop.signal.aborted) return done;
  const outcomes = await recordLightAttempts(
    deps.pool,
    deps.schema,
    ran.map(({ p, startedAt, result }) => lightInput(p.a, p.spec, p.params, startedAt, result)),
    { sourceApp: deps.sourceApp },
  );
  outcomes.forEach((o, k) => {
    if (!o.applied) return;
    const { p, result } = ran[k]!;
    results[p.i] = outcomeOf(result);
    done.add(p.i);
  });
  return done;
}

/** What recordLightAttempts needs to know of an attempt that ran. */
function lightInput(
  a: TaskAttempt,
  spec: TaskNode | FanOutNode['task'],
  params: unknown,
  startedAt: Date,
  result: AttemptResult,
  completedAt?: Date,
): LightAttemptInput {
  return {
    jobId: a.jobId,
    nodeId: a.key,
    taskId: a.taskId,
    attempt: a.attempt,
    startedAt,
    ...(completedAt ? { completedAt } : {}),
    inputParams: params ?? null,
    handler: spec.handler,
    status: result.ok ? 'completed' : 'failed',
    ...(result.ok
      ? { output: result.output }
      : { errorMessage: result.error, retryable: result.retryable, timedOut: result.timedOut }),
    durationMs: result.durationMs,
    retryDelaysMs: Array.from(
      { length: Math.min(maxRetries(spec.retry), MAX_DELAYS) },
      (_, n) => retryDelaySeconds(spec.retry, n) * 1000,
    ),
  };
}

const outcomeOf = (result: AttemptResult): RunTaskOutput =>
  result.ok ? { ok: true } : { ok: false, error: result.error, retryable: result.retryable };

/** Retry delays sent per light attempt (beyond them the last one applies). */
const MAX_DELAYS = 100;

function isLight(deps: ActivityDeps, handler: string, params: unknown): boolean {
  const def = deps.registry.get(handler);
  if (!def?.light || !def.runners.includes('activity')) return false;
  if (def.light === true) return true;
  const parsed = def.params.safeParse(params ?? {});
  return parsed.success && (def.light as (p: unknown) => boolean)(parsed.data);
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
