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
  const report = (r: AttemptResult, span: Span | undefined): AttemptResult => {
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
  // anyway; so has every single task. (Reported as the attempt settles, without a promise of its own
  // per child: with telemetry on every promise also carries its context.)
  if (spec.runner === 'activity' && spec.nodeId.includes('__'))
    return runAttempt(deps, spec, external, (r) => report(r, undefined));
  return withSpan(`handler ${spec.handler}`, { dimensions: dims }, async (span) =>
    report(await runAttempt(deps, spec, external), span),
  );
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

function runAttempt(
  deps: ExecuteDeps,
  spec: AttemptSpec,
  external?: AbortSignal,
  report?: (r: AttemptResult) => AttemptResult,
): Promise<AttemptResult> {
  const started = Date.now();
  const refuse = (error: string) => Promise.resolve(failure(started, error, false)).then(report);
  const def = deps.registry.get(spec.handler);
  if (!def) return refuse(`Handler not found: ${spec.handler}`);
  if (!def.runners.includes(spec.runner)) {
    return refuse(
      `Handler "${spec.handler}" cannot run on the ${spec.runner} runner (it runs on ${def.runners.join(', ')})`,
    );
  }
  const parsed = def.params.safeParse(spec.params ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((i) => `${i.path.join('.') || 'params'}: ${i.message}`)
      .join('; ');
    return refuse(`Invalid params for handler "${spec.handler}": ${problems}`);
  }
  const run = (cp: CheckpointRow | null) =>
    new AttemptRun(spec, started, external, report).start((controller) =>
      def.run(parsed.data as never, handlerContext(deps, spec, cp, controller)),
    );
  return spec.mayHaveCheckpoint === false
    ? run(null)
    : getLatestCheckpoint(deps.pool, deps.schema, { jobId: spec.jobId, nodeId: spec.nodeId }).then(run);
}

type CheckpointRow = Awaited<ReturnType<typeof getLatestCheckpoint>>;

/** What the handler gets: the attempt's ids and checkpoint, its signal, logger and services. */
function handlerContext(
  deps: ExecuteDeps,
  spec: AttemptSpec,
  cp: CheckpointRow,
  controller: AbortController,
): HandlerContext {
  const checkpoint: Checkpoint | undefined = cp ? { phase: cp.phase_name, state: cp.state_data } : undefined;
  let phaseIndex = 0;
  return {
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
    // The attempt's ids go with every line the handler logs (also where no telemetry context carries them).
    log: deps.log.child(attemptDimensions(spec)),
    pool: deps.services.pool,
    blobs: deps.services.blobs,
    config: deps.services.config,
  };
}

function failure(
  started: number,
  error: string,
  retryable: boolean,
  extra: { timedOut?: boolean; aborted?: boolean } = {},
): AttemptResult {
  return {
    ok: false,
    error,
    retryable,
    timedOut: extra.timedOut ?? false,
    aborted: extra.aborted ?? false,
    durationMs: Date.now() - started,
  };
}

/**
 * One run of a handler: its result, or a failure as soon as the attempt's signal aborts — at its
 * timeout, or when the caller's signal does (cancel, shutdown); a handler that ignores its signal is
 * not waited for. A fan-out makes one per child, 100,000 of them: one promise of its own (where an
 * async function racing the handler took four; with telemetry on each promise also carries its
 * context), a listener object and a module-level timer callback rather than closures.
 */
class AttemptRun {
  readonly controller = new AbortController();
  private timedOut = false;
  private done = false;
  private timer: NodeJS.Timeout | undefined;
  private resolve: ((r: AttemptResult) => void) | undefined;

  constructor(
    private readonly spec: AttemptSpec,
    private readonly started: number,
    private readonly external: AbortSignal | undefined,
    private readonly report: ((r: AttemptResult) => AttemptResult) | undefined,
  ) {}

  start(run: (controller: AbortController) => unknown): Promise<AttemptResult> {
    return new Promise<AttemptResult>((resolve) => {
      this.resolve = resolve;
      this.timer = setTimeout(attemptTimedOut, Math.max(0, this.spec.timeoutMs), this);
      this.controller.signal.addEventListener('abort', this, { once: true });
      if (this.external?.aborted) this.cancel();
      else this.external?.addEventListener('abort', this, { once: true });
      if (this.done) return;
      let out: unknown;
      try {
        out = run(this.controller);
      } catch (err) {
        this.failed(err);
        return;
      }
      if (isThenable(out))
        out.then(
          (v) => this.succeeded(v),
          (err: unknown) => this.failed(err),
        );
      else this.succeeded(out);
    });
  }

  /** An abort: of the attempt's own signal (it ends the attempt) or of the caller's (passed on). */
  handleEvent(e: Event): void {
    if (e.target === this.controller.signal) this.failed(this.controller.signal.reason);
    else this.cancel();
  }

  timeout(): void {
    this.timedOut = true;
    this.controller.abort(new Error(`Task timed out after ${this.spec.timeoutSeconds}s`));
  }

  private cancel(): void {
    this.controller.abort(this.external?.reason ?? new Error('Task cancelled'));
  }

  private succeeded(v: unknown): void {
    if (this.done) return;
    let output: unknown;
    try {
      output = normalizeJson(v);
    } catch (err) {
      this.failed(err);
      return;
    }
    this.finish({ ok: true, output, durationMs: Date.now() - this.started });
  }

  private failed(err: unknown): void {
    if (this.done) return;
    const { spec, started, controller } = this;
    if (this.timedOut)
      return this.finish(
        failure(started, `Task timed out after ${spec.timeoutSeconds}s`, true, { timedOut: true }),
      );
    if (controller.signal.aborted)
      return this.finish(failure(started, errorMessage(controller.signal.reason), false, { aborted: true }));
    const retryable = !(
      err &&
      typeof err === 'object' &&
      (err as { retryable?: unknown }).retryable === false
    );
    this.finish(failure(started, errorMessage(err), retryable));
  }

  private finish(r: AttemptResult): void {
    this.done = true;
    clearTimeout(this.timer);
    this.controller.signal.removeEventListener('abort', this);
    this.external?.removeEventListener('abort', this);
    let reported = r;
    try {
      if (this.report) reported = this.report(r);
    } catch {
      // Telemetry never changes an attempt's outcome, nor leaves it unsettled.
    }
    this.resolve!(reported);
  }
}

const attemptTimedOut = (a: AttemptRun) => a.timeout();

const isThenable = (v: unknown): v is PromiseLike<unknown> =>
  v !== null &&
  (typeof v === 'object' || typeof v === 'function') &&
  typeof (v as { then?: unknown }).then === 'function';

export function errorMessage(err: unknown): string {
  if (err instanceof Error)
    return err.name && err.name !== 'Error' ? `${err.name}: ${err.message}` : err.message;
  if (typeof err === 'string') return err;
  try {
    return JSON.stringify(err) ?? 'unknown error';
  } catch {
    return 'unknown error (a value that is not JSON was thrown)'; // circular, a BigInt
  }
}

/** Handler outputs are stored as JSON: undefined becomes null, non-JSON values are rejected early. */
function normalizeJson(v: unknown): unknown {
  if (v === undefined) return null;
  return JSON.parse(JSON.stringify(v)) as unknown;
}
