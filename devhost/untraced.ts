// The dev host's own polling (queue triggers) is the Functions host's work, which an app's telemetry
// never sees on Azure: it runs with OpenTelemetry tracing suppressed, so an app that uses
// OpenTelemetry (Application Insights) records only its own invocations. Without an OpenTelemetry SDK
// in the process this only calls fn.
import { context, createContextKey } from '@opentelemetry/api';

/** The OpenTelemetry SDK's suppression key (created with Symbol.for: the SDK's own key). */
const SUPPRESS_TRACING = createContextKey('OpenTelemetry SDK Context Key SUPPRESS_TRACING');

export function untraced<T>(fn: () => T): T {
  return context.with(context.active().setValue(SUPPRESS_TRACING, true), fn);
}
