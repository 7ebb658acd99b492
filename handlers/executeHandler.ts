// Runs one attempt of a handler, the same way on both runners: params validated by the handler's
// zod schema, the latest checkpoint handed in, a signal that fires on timeout/cancel/shutdown,
// checkpoints and progress written to Postgres. Expected failures come back as values.
import type { DbPool } from '../db/createPool';
import { getLatestCheckpoint, recordHeartbeat, saveCheckpoint } from '../db';
import type { Logger } from './createLogger';
import type { HandlerRegistry } from './handlerRegistry';
import type { Checkpoint, HandlerContext, HandlerServices } from './handlerTypes';
import type { Span } from '@opentelemetry/api';
import { markSpanFailed, metrics, telemetryEnabled, trackException, withSpan } from './telemetry';

export interface AttemptSpec {
  jobId: string;
  /** The node's row id (a fan-out child: `<fan_out>__<index>`). */
  nodeId: string;
  taskId: string;
  attempt: number;
  handler: string;
  params: unknown;
  /** Hard limit for this attempt (ms); the handler's signal fires when it is reached. */
  timeoutMs: number;
  timeoutSeconds: number;
  runner: 'activity' | 'container';
  workerId?: string;
  /**
   * Whether an earlier run of this node may have left a checkpoint (a retry, a rerun, a redelivery
   * of the same attempt). The first attempt has none: skipping the read saves a round trip per task.
   */
  mayHaveCheckpoint?: boolean;
}

export type AttemptResult =
  | { ok: true; output: unknown; durationMs: number }
  | { ok: false; error: string; retryable: boolean; timedOut: boolean; aborted: boolean; durationMs: number };

export interface ExecuteDeps {
  pool: DbPool;
  schema: string;
  registry: HandlerRegistry;
  log: Logger;
  sourceApp: string;
  /** What handlers get of the process (pool, blobs, config): built once by the runner. */
  services: HandlerServices;
}

/**
 * Runs the attempt (runAttempt) and, with Application Insights on, inside a span named after the
 * handler; its duration is the attempt-duration metric (by handler and runner) and a failure is an
 * exception with the attempt's ids (the Failures blade).
 */
export function executeHandler(
  deps: ExecuteDeps,
  spec: AttemptSpec,
  external?: AbortSignal,
): Promise<AttemptResult> {
  if (!telemetryEnabled()) return runAttempt(deps, spec, external);
  const dims = attemptDimensions(spec);
  const body = async (span: Span | undefined) => {
    const r = await runAttempt(deps, spec, external);
    metrics.attempt(r.durationMs, r.ok, dims);
    if (!r.ok) {
      markSpanFailed(span, r.error);
      if (r.timedOut) metrics.timeout(dims);
      if (!r.aborted)
        trackException(r.timedOut ? 'TaskTimeout' : 'TaskAttemptFailed', r.error, dims, {
          retryable: r.retryable,
        });
    }
    return r;
  };
  // Fan-out children run by the activity runner come in batches (DAG_ACTIVITY_BATCH_SIZE) inside one
  // activity span: each child's duration is a metric and a failure an exception, without a span per
  // child (a 10,000-child fan-out would otherwise send 10,000 spans), nor a context of its own: its
  // logs carry its ids through the handler's logger. Container children have their own consumer span
  // anyway; so has every single task.
  if (spec.runner === 'activity' && spec.nodeId.includes('__')) return body(undefined);
  return withSpan(`handler ${spec.handler}`, { dimensions: dims }, body);
}

/** The ids of an attempt, as telemetry dimensions and logger fields. */
function attemptDimensions(spec: AttemptSpec) {
  return {
    job_id: spec.jobId,
    node_id: spec.nodeId,
    task_id: spec.taskId,
    attempt: spec.attempt,
    handler: spec.handler,
    runner: spec.runner,
  };
}

async function runAttempt(
  deps: ExecuteDeps,
  spec: AttemptSpec,
  external?: AbortSignal,
): Promise<AttemptResult> {
  const started = Date.now();
  const fail = (
    error: string,
    retryable: boolean,
    extra: { timedOut?: boolean; aborted?: boolean } = {},
  ) => ({
    ok: false as const,
    error,
    retryable,
    timedOut: extra.timedOut ?? false,
    aborted: extra.aborted ?? false,
    durationMs: Date.now() - started,
  });
  const def = deps.registry.get(spec.handler);
  if (!def) return fail(`Handler not found: ${spec.handler}`, false);
  if (!def.runners.includes(spec.runner)) {
    return fail(
      `Handler "${spec.handler}" cannot run on the ${spec.runner} runner (it runs on ${def.runners.join(', ')})`,
      false,
    );
  }
  const parsed = def.params.safeParse(spec.params ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((i) => `${i.path.join('.') || 'params'}: ${i.message}`)
      .join('; ');
    return fail(`Invalid params for handler "${spec.handler}": ${problems}`, false);
  }

  const cp =
    spec.mayHaveCheckpoint === false
      ? null
      : await getLatestCheckpoint(deps.pool, deps.schema, { jobId: spec.jobId, nodeId: spec.nodeId });
  const checkpoint: Checkpoint | undefined = cp ? { phase: cp.phase_name, state: cp.state_data } : undefined;
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(
    () => {
      timedOut = true;
      controller.abort(new Error(`Task timed out after ${spec.timeoutSeconds}s`));
    },
    Math.max(0, spec.timeoutMs),
  );
  const onExternal = () => controller.abort(external?.reason ?? new Error('Task cancelled'));
  if (external) {
    if (external.aborted) onExternal();
    else external.addEventListener('abort', onExternal, { once: true });
  }
  // The attempt's ids go with every line the handler logs (also where no telemetry context carries them).
  const log = deps.log.child(attemptDimensions(spec));
  let phaseIndex = 0;
  const ctx: HandlerContext = {
    jobId: spec.jobId,
    nodeId: spec.nodeId,
    taskId: spec.taskId,
    attempt: spec.attempt,
    ...(checkpoint ? { checkpoint } : {}),
    async saveCheckpoint(phase, state) {
      const r = await saveCheckpoint(deps.pool, deps.schema, {
        jobId: spec.jobId,
        nodeId: spec.nodeId,
        taskId: spec.taskId,
        attempt: spec.attempt,
        phaseName: phase,
        phaseIndex: phaseIndex++,
        stateData: state,
        sourceApp: deps.sourceApp,
      });
      // A save from an attempt that is no longer current means this attempt was superseded: stop.
      if (r.kind === 'stale') controller.abort(new Error('This attempt is no longer current (superseded)'));
    },
    async progress(current, total, message) {
      await recordHeartbeat(deps.pool, deps.schema, {
        jobId: spec.jobId,
        nodeId: spec.nodeId,
        taskId: spec.taskId,
        progress: { current, total: total ?? null, message: message ?? null },
        ...(spec.workerId ? { workerId: spec.workerId } : {}),
      });
    },
    signal: controller.signal,
    log,
    pool: deps.services.pool,
    blobs: deps.services.blobs,
    config: deps.services.config,
  };

  try {
    const output = await untilAborted(def.run(parsed.data as never, ctx), controller.signal);
    return { ok: true, output: normalizeJson(output), durationMs: Date.now() - started };
  } catch (err) {
    if (timedOut) return fail(`Task timed out after ${spec.timeoutSeconds}s`, true, { timedOut: true });
    if (controller.signal.aborted) {
      return fail(errorMessage(controller.signal.reason), false, { aborted: true });
    }
    const retryable = !(
      err &&
      typeof err === 'object' &&
      (err as { retryable?: unknown }).retryable === false
    );
    return fail(errorMessage(err), retryable);
  } finally {
    clearTimeout(timer);
    external?.removeEventListener('abort', onExternal);
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error)
    return err.name && err.name !== 'Error' ? `${err.name}: ${err.message}` : err.message;
  return typeof err === 'string' ? err : (JSON.stringify(err) ?? 'unknown error');
}

/** Handler outputs are stored as JSON: undefined becomes null, non-JSON values are rejected early. */
function normalizeJson(v: unknown): unknown {
  if (v === undefined) return null;
  return JSON.parse(JSON.stringify(v)) as unknown;
}

/**
 * The handler's result, or a rejection with the signal's reason as soon as it aborts (a handler that
 * ignores its signal is not waited for). Two promises per attempt where Promise.race took four: a
 * fan-out runs this 100,000 times, and with telemetry on each promise also carries its context.
 */
function untilAborted<T>(result: Promise<T> | T, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    Promise.resolve(result).then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
