// Logs and exceptions as OpenTelemetry log records (traces and exceptions in Application Insights),
// in the current span, with the current dimensions; secrets scrubbed.
import { context, type Attributes } from '@opentelemetry/api';
import { logs, SeverityNumber } from '@opentelemetry/api-logs';
import { scrubSecrets, scrubValue } from '../scrubSecrets';
import { telemetryEnabled, TRACER } from './initTelemetry';
import {
  contextFrom,
  currentDimensions,
  dimensionAttributes,
  scrubbedError,
  type Dimensions,
} from './traceContext';

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
  if (!telemetryEnabled()) return;
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
  if (!telemetryEnabled()) return;
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
