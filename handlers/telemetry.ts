// Application Insights (docs/monitoring.md): the `applicationinsights` 3.x SDK (the Azure Monitor
// OpenTelemetry distribution) started first thing in each process — the Function App
// (functions/telemetrySetup.ts) and the container worker (container-worker/telemetrySetup.ts) — from
// APPLICATIONINSIGHTS_CONNECTION_STRING. Without it nothing is loaded and every helper here is a
// plain function call: the SDK is required lazily, only when telemetry is on.
//
// What the app adds to the SDK's automatic requests/dependencies (HTTP, pg, the Azure SDK):
// * spans for its units of work — activities, the container enqueue (producer), the worker's receive
//   (consumer) and handler, GDAL child processes, the result trigger — all in the job's trace (the
//   submit request's W3C traceparent is stored with the job and carried in the queue messages);
// * the job's ids (job_id, workflow_id, node_id, task_id, attempt, ...) as custom dimensions of every
//   span and log of that work (kept in the OpenTelemetry context);
// * logs as OpenTelemetry log records (the JSON stdout lines stay as the local fallback);
// * exceptions for failed attempts, jobs and poison messages; the product's metrics.
// Orchestrations never call this module (they are replayed): activities and triggers do.
import {
  context,
  createContextKey,
  metrics as metricsApi,
  ROOT_CONTEXT,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Counter,
  type Histogram,
  type Meter,
  type ObservableGauge,
  type Span,
} from '@opentelemetry/api';
import { logs, SeverityNumber } from '@opentelemetry/api-logs';
import type * as AppInsights from 'applicationinsights';
import os from 'node:os';
import { registerSecretValues, scrubSecrets, scrubValue } from './scrubSecrets';

/** The ids a span, log or metric of a job carries (custom dimensions in Application Insights). */
export type Dimensions = {
  job_id?: string;
  workflow_id?: string;
  node_id?: string;
  task_id?: string;
  attempt?: number;
  handler?: string;
  runner?: 'activity' | 'container';
  queue?: string;
  asset_id?: string;
  request_id?: string;
  correlation_id?: string;
};

type ApplicationInsights = typeof AppInsights;

export type TelemetryRole = 'functionapp' | 'worker';

const DIMENSIONS = createContextKey('rmhdagmaster.dimensions');
/** The OpenTelemetry SDK's own key (created with Symbol.for, so this is the same key). */
const SUPPRESS_TRACING = createContextKey('OpenTelemetry SDK Context Key SUPPRESS_TRACING');
const TRACER = 'rmhdagmaster';

let enabled = false;
let roleName: string | undefined;
let stdout = true;
let shutdownFn: (() => Promise<void>) | undefined;
let flushFn: (() => Promise<void>) | undefined;

/** True once initTelemetry started the SDK in this process. */
export function telemetryEnabled(): boolean {
  return enabled;
}

/**
 * Whether log lines are also written to stdout. DAG_LOG_STDOUT=auto (default): yes, except in the
 * Function App on Azure with telemetry on — the Functions host forwards stdout to Application Insights
 * too, so each line would arrive twice. The container worker keeps stdout (Container Apps console logs).
 */
export function logToStdout(): boolean {
  return stdout;
}

/** The cloud role name this process reports (undefined when telemetry is off). */
export function telemetryRoleName(): string | undefined {
  return roleName;
}

function defaultRoleName(role: TelemetryRole, env: Record<string, string | undefined>): string {
  if (env.DAG_TELEMETRY_ROLE_NAME) return env.DAG_TELEMETRY_ROLE_NAME;
  if (role === 'functionapp') return env.WEBSITE_SITE_NAME || 'rmhdagmaster-functionapp';
  return env.CONTAINER_APP_NAME || 'rmhdagmaster-worker';
}

/**
 * Starts Application Insights for this process when APPLICATIONINSIGHTS_CONNECTION_STRING is set
 * (idempotent; returns whether telemetry is on). Call it before anything else is imported, so that the
 * pg, HTTP and Azure SDK instrumentations see those modules load.
 */
export function initTelemetry(
  role: TelemetryRole,
  env: Record<string, string | undefined> = process.env,
): boolean {
  if (enabled) return true;
  registerSecretValues(env);
  const connectionString = env.APPLICATIONINSIGHTS_CONNECTION_STRING?.trim();
  if (!connectionString || /^(1|true|yes|on)$/i.test(env.DAG_TELEMETRY_DISABLED ?? '')) return false;
  roleName = defaultRoleName(role, env);
  const stdoutSetting = (env.DAG_LOG_STDOUT ?? 'auto').toLowerCase();
  stdout =
    stdoutSetting === 'auto'
      ? !(role === 'functionapp' && !!env.WEBSITE_SITE_NAME)
      : /^(1|true|yes|on)$/.test(stdoutSetting);
  // The cloud role name is the OpenTelemetry service.name (the resource is read from the environment).
  process.env.OTEL_SERVICE_NAME = roleName;
  const instance =
    env.WEBSITE_INSTANCE_ID || env.CONTAINER_APP_REPLICA_NAME || `${os.hostname()}-${process.pid}`;
  process.env.OTEL_RESOURCE_ATTRIBUTES = [
    process.env.OTEL_RESOURCE_ATTRIBUTES,
    `service.instance.id=${instance}`,
  ]
    .filter(Boolean)
    .join(',');
  // No calls home besides the ingestion endpoint (statsbeat is the SDK's own usage telemetry).
  process.env.APPLICATIONINSIGHTS_STATSBEAT_DISABLED ??= 'true';
  process.env.APPLICATION_INSIGHTS_NO_STATSBEAT ??= 'true';
  if (env.DAG_TELEMETRY_METRIC_INTERVAL_MS)
    process.env.OTEL_METRIC_EXPORT_INTERVAL = env.DAG_TELEMETRY_METRIC_INTERVAL_MS;
  const ratio = Number(env.DAG_TELEMETRY_SAMPLING_RATIO ?? '1');
  // Loaded only now: without a connection string the SDK is never required.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ai = require('applicationinsights') as ApplicationInsights;
  ai.useAzureMonitor({
    azureMonitorExporterOptions: { connectionString, disableOfflineStorage: true },
    // Fixed-ratio sampling (default: everything). The distro's default rate limit (5 traces/s) would
    // drop whole jobs of a busy fan-out; failures and job logs must not be sampled away.
    samplingRatio: Number.isFinite(ratio) && ratio > 0 && ratio <= 1 ? ratio : 1,
    tracesPerSecond: 0,
    enableTraceBasedSamplingForLogs: false,
    enableLiveMetrics: /^(1|true|yes|on)$/i.test(env.DAG_TELEMETRY_LIVE_METRICS ?? ''),
    enableAutoCollectExceptions: true,
    instrumentationOptions: {
      http: { enabled: true },
      azureSdk: { enabled: true },
      // Only queries made inside a unit of work (a request, an activity, a task): pool housekeeping and
      // the local dev host's own store polling are not dependencies of anything.
      // A pool checkout is not a dependency call: its span (pg-pool.connect) doubled the envelopes.
      postgreSql: { enabled: true, requireParentSpan: true, ignoreConnectSpans: true } as {
        enabled: boolean;
      },
      mongoDb: { enabled: false },
      mySql: { enabled: false },
      redis: { enabled: false },
      redis4: { enabled: false },
      bunyan: { enabled: false },
      winston: { enabled: false },
      // Our logger emits log records itself (createLogger); console capture would duplicate them.
      console: { enabled: false },
    } as Record<string, { enabled: boolean }>,
    spanProcessors: [scrubbingSpanProcessor() as never],
  });
  shutdownFn = ai.shutdownAzureMonitor;
  flushFn = ai.flushAzureMonitor;
  enabled = true;
  return true;
}

/** Sends what is buffered (before a process exits, or in tests). */
export async function flushTelemetry(): Promise<void> {
  if (enabled) await flushFn?.().catch(() => undefined);
}

/** Flushes and stops the SDK (the process is ending). */
export async function shutdownTelemetry(): Promise<void> {
  if (!enabled) return;
  await flushFn?.().catch(() => undefined);
  await shutdownFn?.().catch(() => undefined);
}

/**
 * A span processor that removes secrets from what the automatic instrumentations record (URLs with
 * SAS tokens, SQL text, exception messages) before the exporter sees the span.
 */
function scrubbingSpanProcessor() {
  type Readable = {
    attributes: Record<string, unknown>;
    events?: Array<{ attributes?: Record<string, unknown> }>;
    status?: { message?: string };
  };
  const scrubAttrs = (a: Record<string, unknown> | undefined) => {
    if (!a) return;
    for (const k of Object.keys(a)) a[k] = scrubValue(a[k]);
  };
  return {
    onStart() {},
    onEnd(span: Readable) {
      scrubAttrs(span.attributes);
      for (const e of span.events ?? []) scrubAttrs(e.attributes);
      if (span.status?.message) span.status.message = scrubSecrets(span.status.message);
    },
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  };
}

// ------------------------------------------------------------------------------------------ context

/** The dimensions of the current unit of work (empty when telemetry is off). */
export function currentDimensions(): Dimensions {
  if (!enabled) return {};
  return (context.active().getValue(DIMENSIONS) as Dimensions | undefined) ?? {};
}

function dimensionAttributes(d: Dimensions): Attributes {
  const a: Attributes = {};
  for (const [k, v] of Object.entries(d)) if (v !== undefined && v !== null) a[k] = v as string | number;
  return a;
}

/** The W3C traceparent of the current span (to store with a job or carry in a message). */
export function currentTraceparent(): string | undefined {
  if (!enabled) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent;
}

const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** The context a traceparent stands for (the active context when absent or malformed). */
function contextFrom(traceparent: string | null | undefined, base: Context = context.active()): Context {
  if (!traceparent || !TRACEPARENT.test(traceparent)) return base;
  return propagation.extract(base, { traceparent });
}

export type SpanKindName = 'server' | 'client' | 'producer' | 'consumer' | 'internal';
const KINDS: Record<SpanKindName, SpanKind> = {
  server: SpanKind.SERVER,
  client: SpanKind.CLIENT,
  producer: SpanKind.PRODUCER,
  consumer: SpanKind.CONSUMER,
  internal: SpanKind.INTERNAL,
};

export interface SpanOptions {
  kind?: SpanKindName;
  /** The parent: a W3C traceparent (a job's, a message's); default the active span. */
  parent?: string | null;
  dimensions?: Dimensions;
  attributes?: Attributes;
}

/**
 * Runs fn inside a span (a request, dependency or in-process operation in Application Insights) whose
 * dimensions are also those of every log and child span inside it. A throw marks the span failed.
 * With telemetry off: just fn().
 */
export async function withSpan<T>(
  name: string,
  o: SpanOptions,
  fn: (span: Span | undefined) => Promise<T> | T,
): Promise<T> {
  if (!enabled) return fn(undefined);
  // Entry points (a request, a message received) start from the root context: a trace of their own,
  // or the one their traceparent names — not the polling loop that received them.
  // A span that names its parent (an activity of a job) starts from it, whatever runs it.
  const entry = o.kind === 'server' || o.kind === 'consumer' || !!o.parent;
  const base = contextFrom(o.parent, entry ? ROOT_CONTEXT : context.active());
  const dims = { ...((base.getValue(DIMENSIONS) as Dimensions | undefined) ?? {}), ...o.dimensions };
  const attributes: Attributes = { ...dimensionAttributes(dims) };
  // Application Insights names a request after this attribute unless it is an HTTP server span.
  if (o.kind === 'consumer') attributes['ai.operation.name'] = name;
  for (const [k, v] of Object.entries(o.attributes ?? {})) attributes[k] = scrubValue(v);
  const span = trace
    .getTracer(TRACER)
    .startSpan(name, { kind: KINDS[o.kind ?? 'internal'], attributes }, base);
  const ctx = trace.setSpan(base, span).setValue(DIMENSIONS, dims);
  try {
    const r = await context.with(ctx, () => fn(span));
    return r;
  } catch (err) {
    span.recordException(scrubbedError(err));
    span.setStatus({ code: SpanStatusCode.ERROR, message: scrubSecrets(errorText(err)) });
    throw err;
  } finally {
    span.end();
  }
}

/**
 * Runs fn with tracing suppressed: the SDK calls of polling loops (receive, visibility renewals,
 * gauge reads) are not dependencies of anything and would flood Application Insights. Spans of the
 * work found (consumer spans) start from the root context and are recorded.
 */
export function untraced<T>(fn: () => T): T {
  if (!enabled) return fn();
  return context.with(context.active().setValue(SUPPRESS_TRACING, true), fn);
}

/** Marks the current span failed (a failure that is a value, not a throw). */
export function markSpanFailed(span: Span | undefined, message: string): void {
  span?.setStatus({ code: SpanStatusCode.ERROR, message: scrubSecrets(message) });
}

/** Adds dimensions to the current span (ids learnt during the work, e.g. the job id of a submit). */
export function annotateSpan(dims: Dimensions): void {
  if (!enabled) return;
  trace.getActiveSpan()?.setAttributes(dimensionAttributes(dims));
}

/** Sets attributes of the current span (what its work learnt, e.g. how many children a batch ran). */
export function setSpanAttributes(attributes: Attributes): void {
  if (!enabled) return;
  trace.getActiveSpan()?.setAttributes(attributes);
}

/** Whether a span (or a trace context from the Functions host) is active here. */
export function hasActiveSpan(): boolean {
  return enabled && trace.getSpanContext(context.active()) !== undefined;
}

/** Dimensions for the logs that follow in this context, without touching the current span. */
export function withContextDimensions<T>(dims: Dimensions, fn: () => T): T {
  if (!enabled) return fn();
  return context.with(context.active().setValue(DIMENSIONS, { ...currentDimensions(), ...dims }), fn);
}

/** Adds dimensions to the current span and to the logs that follow in this context. */
export function withDimensions<T>(dims: Dimensions, fn: () => T): T {
  if (!enabled) return fn();
  const span = trace.getActiveSpan();
  span?.setAttributes(dimensionAttributes(dims));
  const merged = { ...currentDimensions(), ...dims };
  return context.with(context.active().setValue(DIMENSIONS, merged), fn);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function scrubbedError(err: unknown): { name: string; message: string; stack?: string } {
  const e = err instanceof Error ? err : new Error(String(err));
  return {
    name: e.name,
    message: scrubSecrets(e.message),
    ...(e.stack ? { stack: scrubSecrets(e.stack) } : {}),
  };
}

// --------------------------------------------------------------------------------------------- logs

const SEVERITY = {
  debug: SeverityNumber.DEBUG,
  info: SeverityNumber.INFO,
  warn: SeverityNumber.WARN,
  error: SeverityNumber.ERROR,
} as const;

function logAttributes(data: Record<string, unknown> | undefined): Attributes {
  const a: Attributes = dimensionAttributes(currentDimensions());
  for (const [k, v] of Object.entries(data ?? {})) {
    if (v === undefined || v === null) continue;
    a[k] =
      typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean'
        ? scrubValue(v)
        : scrubSecrets(JSON.stringify(v));
  }
  return a;
}

/** A log line as an OpenTelemetry log record (a trace in Application Insights), in the current span. */
export function emitLog(level: keyof typeof SEVERITY, message: string, data?: Record<string, unknown>): void {
  if (!enabled) return;
  logs.getLogger(TRACER).emit({
    severityNumber: SEVERITY[level],
    severityText: level.toUpperCase(),
    body: scrubSecrets(message),
    attributes: logAttributes(data),
    context: context.active(),
  });
}

/**
 * An exception in Application Insights (the Failures blade): a failed attempt, node or job, a poison
 * message. `error` is an Error or a message; dimensions name what failed.
 */
export function trackException(
  type: string,
  error: unknown,
  dims: Dimensions = {},
  data: Record<string, unknown> = {},
  parent?: string | null,
): void {
  if (!enabled) return;
  // A failure that is a value (a message) has no stack of its own: the type names it.
  const e = typeof error === 'string' ? { name: type, message: scrubSecrets(error) } : scrubbedError(error);
  const ctx = parent ? contextFrom(parent) : context.active();
  const attributes = context.with(ctx, () => ({
    ...logAttributes(data),
    ...dimensionAttributes(dims),
    'exception.type': type,
    'exception.message': e.message,
    'exception.stacktrace': 'stack' in e && e.stack ? e.stack : `${type}: ${e.message}`,
  }));
  logs.getLogger(TRACER).emit({
    severityNumber: SeverityNumber.ERROR,
    severityText: 'ERROR',
    body: e.message,
    attributes,
    context: ctx,
  });
}

// ------------------------------------------------------------------------------------------ metrics

interface Instruments {
  jobsSubmitted: Counter;
  jobsCompleted: Counter;
  jobsFailed: Counter;
  jobsCancelled: Counter;
  attemptDuration: Histogram;
  attemptsFailed: Counter;
  retries: Counter;
  timeouts: Counter;
  staleResults: Counter;
  containerWait: Histogram;
  fanOutWidth: Histogram;
  poisonMessages: Counter;
  reconcilerRepairs: Counter;
}

let instruments: Instruments | undefined;

function meter(): Meter {
  return metricsApi.getMeter(TRACER);
}

function inst(): Instruments | undefined {
  if (!enabled) return undefined;
  if (instruments) return instruments;
  const m = meter();
  instruments = {
    jobsSubmitted: m.createCounter('dag.jobs.submitted', { description: 'Jobs submitted' }),
    jobsCompleted: m.createCounter('dag.jobs.completed', { description: 'Jobs that completed' }),
    jobsFailed: m.createCounter('dag.jobs.failed', { description: 'Jobs that failed' }),
    jobsCancelled: m.createCounter('dag.jobs.cancelled', { description: 'Jobs cancelled' }),
    attemptDuration: m.createHistogram('dag.attempt.duration', {
      description: 'Duration of a task attempt (handler execution)',
      unit: 'ms',
    }),
    attemptsFailed: m.createCounter('dag.attempts.failed', { description: 'Task attempts that failed' }),
    retries: m.createCounter('dag.attempts.retried', {
      description: 'Attempts scheduled again after a failure',
    }),
    timeouts: m.createCounter('dag.attempts.timed_out', {
      description: 'Attempts that exceeded timeout_seconds',
    }),
    staleResults: m.createCounter('dag.results.stale', {
      description: 'Results of attempts no longer current (late, duplicate or for an ended job)',
    }),
    containerWait: m.createHistogram('dag.container.wait', {
      description: 'Container task wait: enqueued → started on a worker',
      unit: 'ms',
    }),
    fanOutWidth: m.createHistogram('dag.fanout.width', { description: 'Children of a fan-out' }),
    poisonMessages: m.createCounter('dag.queue.poisoned', {
      description: 'Messages moved to a poison queue',
    }),
    reconcilerRepairs: m.createCounter('dag.reconciler.repairs', {
      description: 'Jobs the reconciler repaired and lost task messages it sent again',
    }),
  };
  return instruments;
}

/**
 * Metric dimensions: bounded ones only (workflow, node, handler, runner, queue, attempt number,
 * outcome). The per-job and per-task ids (job_id, task_id) are on the spans, logs and exceptions of
 * the same work — one metric time series per task would exceed the SDK's cardinality limit on a wide
 * fan-out (docs/monitoring.md "Metrics").
 */
function metricAttributes(d: Dimensions & Record<string, string | number | undefined>): Attributes {
  const a: Attributes = {};
  for (const [k, v] of Object.entries(d)) {
    if (v === undefined || k === 'job_id' || k === 'task_id' || k === 'request_id') continue;
    // A fan-out child's node id is <fan_out>__<i>: its metrics count under the fan-out node.
    a[k] = k === 'node_id' && typeof v === 'string' ? v.replace(/__\d+$/, '') : v;
  }
  return a;
}

export type MetricDims = Dimensions & Record<string, string | number | undefined>;

export const metrics = {
  jobSubmitted(d: MetricDims): void {
    inst()?.jobsSubmitted.add(1, metricAttributes(d));
  },
  jobEnded(status: 'completed' | 'failed' | 'cancelled', d: MetricDims): void {
    const i = inst();
    if (!i) return;
    const c = status === 'completed' ? i.jobsCompleted : status === 'failed' ? i.jobsFailed : i.jobsCancelled;
    c.add(1, metricAttributes(d));
  },
  attempt(durationMs: number, ok: boolean, d: MetricDims): void {
    const i = inst();
    if (!i) return;
    const a = metricAttributes({ ...d, outcome: ok ? 'succeeded' : 'failed' });
    i.attemptDuration.record(durationMs, a);
    if (!ok) i.attemptsFailed.add(1, a);
  },
  retry(d: MetricDims): void {
    inst()?.retries.add(1, metricAttributes(d));
  },
  timeout(d: MetricDims): void {
    inst()?.timeouts.add(1, metricAttributes(d));
  },
  staleResult(d: MetricDims): void {
    inst()?.staleResults.add(1, metricAttributes(d));
  },
  containerWait(ms: number, d: MetricDims): void {
    inst()?.containerWait.record(Math.max(0, ms), metricAttributes(d));
  },
  fanOutWidth(width: number, d: MetricDims): void {
    inst()?.fanOutWidth.record(width, metricAttributes(d));
  },
  poisoned(d: MetricDims): void {
    inst()?.poisonMessages.add(1, metricAttributes(d));
  },
  reconcilerRepairs(n: number, kind: 'job' | 'requeued_attempt'): void {
    if (n > 0) inst()?.reconcilerRepairs.add(n, { kind });
  },
};

/**
 * An observable gauge (queue depths): `observe` is called at each export and returns the values by
 * attribute set. Returns a function that removes it.
 */
export function registerGauge(
  name: string,
  description: string,
  observe: () => Promise<Array<{ value: number; attributes: Attributes }>>,
): () => void {
  if (!enabled) return () => undefined;
  const gauge: ObservableGauge = meter().createObservableGauge(name, { description });
  const cb = async (result: { observe(v: number, a?: Attributes): void }) => {
    try {
      for (const o of await observe()) result.observe(o.value, o.attributes);
    } catch {
      // a depth that cannot be read is not reported this time
    }
  };
  gauge.addCallback(cb);
  return () => gauge.removeCallback(cb);
}

/**
 * What recording an attempt's result did, as telemetry: a retry scheduled counts a retry, a node
 * failed for good is an exception (the Failures blade), a result that did not apply (stale, duplicate,
 * job ended) counts a stale result.
 */
export function reportResultRecorded(
  recorded: { kind: string; outcome?: string },
  dims: Dimensions,
  error?: string | null,
): void {
  if (!enabled) return;
  if (recorded.kind === 'applied') {
    if (recorded.outcome === 'retry_scheduled') metrics.retry(dims);
    else if (recorded.outcome === 'failed') trackException('NodeFailed', error ?? 'failed', dims);
  } else if (recorded.kind !== 'not_found') {
    metrics.staleResult({ ...dims, disposition: recorded.kind });
  }
}
