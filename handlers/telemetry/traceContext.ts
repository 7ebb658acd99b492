// The job's trace context (docs/monitoring.md "One trace per job"): spans for units of work, the job's
// ids as dimensions of everything inside them, W3C traceparents to store with a job or carry in a
// message, and suppression for polling loops. Every helper is a plain call while telemetry is off.
import {
  context,
  createContextKey,
  ROOT_CONTEXT,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
} from '@opentelemetry/api';
import { scrubSecrets, scrubValue } from '../scrubSecrets';
import { telemetryEnabled, TRACER } from './initTelemetry';

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

const DIMENSIONS = createContextKey('rmhdagmaster.dimensions');
/** The OpenTelemetry SDK's own key (created with Symbol.for, so this is the same key). */
const SUPPRESS_TRACING = createContextKey('OpenTelemetry SDK Context Key SUPPRESS_TRACING');

/** The dimensions of the current unit of work (empty when telemetry is off). */
export function currentDimensions(): Dimensions {
  if (!telemetryEnabled()) return {};
  return (context.active().getValue(DIMENSIONS) as Dimensions | undefined) ?? {};
}

export function dimensionAttributes(d: Dimensions): Attributes {
  const a: Attributes = {};
  for (const [k, v] of Object.entries(d)) if (v !== undefined && v !== null) a[k] = v as string | number;
  return a;
}

/** The W3C traceparent of the current span (to store with a job or carry in a message). */
export function currentTraceparent(): string | undefined {
  if (!telemetryEnabled()) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent;
}

const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** The context a traceparent stands for (the active context when absent or malformed). */
export function contextFrom(
  traceparent: string | null | undefined,
  base: Context = context.active(),
): Context {
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
  if (!telemetryEnabled()) return fn(undefined);
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
 * work found (consumer spans) start from the root context and are recorded. The active span is left
 * out too: the pg instrumentation (requireParentSpan) then calls the driver directly instead of
 * building a span that suppression would discard and recording a duration metric per statement.
 */
export function untraced<T>(fn: () => T): T {
  if (!telemetryEnabled()) return fn();
  return context.with(trace.deleteSpan(context.active()).setValue(SUPPRESS_TRACING, true), fn);
}

/** Marks the current span failed (a failure that is a value, not a throw). */
export function markSpanFailed(span: Span | undefined, message: string): void {
  span?.setStatus({ code: SpanStatusCode.ERROR, message: scrubSecrets(message) });
}

/** Adds dimensions to the current span (ids learnt during the work, e.g. the job id of a submit). */
export function annotateSpan(dims: Dimensions): void {
  if (!telemetryEnabled()) return;
  trace.getActiveSpan()?.setAttributes(dimensionAttributes(dims));
}

/** Sets attributes of the current span (what its work learnt, e.g. how many children a batch ran). */
export function setSpanAttributes(attributes: Attributes): void {
  if (!telemetryEnabled()) return;
  trace.getActiveSpan()?.setAttributes(attributes);
}

/** Whether a span (or a trace context from the Functions host) is active here. */
export function hasActiveSpan(): boolean {
  return telemetryEnabled() && trace.getSpanContext(context.active()) !== undefined;
}

/** Adds dimensions to the current span and to the logs that follow in this context. */
export function withDimensions<T>(dims: Dimensions, fn: () => T): T {
  if (!telemetryEnabled()) return fn();
  const span = trace.getActiveSpan();
  span?.setAttributes(dimensionAttributes(dims));
  const merged = { ...currentDimensions(), ...dims };
  return context.with(context.active().setValue(DIMENSIONS, merged), fn);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function scrubbedError(err: unknown): { name: string; message: string; stack?: string } {
  const e = err instanceof Error ? err : new Error(String(err));
  return {
    name: e.name,
    message: scrubSecrets(e.message),
    ...(e.stack ? { stack: scrubSecrets(e.stack) } : {}),
  };
}
