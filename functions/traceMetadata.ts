// The trace context a new job keeps (dag_jobs.metadata.traceparent): the submit request's span, the
// parent of every activity, queue message and worker span of the job (docs/monitoring.md).
import { currentTraceparent } from '../handlers/telemetry';

export function traceMetadata(): { metadata?: { traceparent: string } } {
  const traceparent = currentTraceparent();
  return traceparent ? { metadata: { traceparent } } : {};
}
