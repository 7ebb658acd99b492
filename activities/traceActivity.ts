// Activities in the job's trace (docs/monitoring.md): each activity call is a span whose parent is
// the submit request's trace context, stored with the job (dag_jobs.metadata.traceparent), and whose
// dimensions are the job's ids. Orchestrations emit nothing (they are replayed); an activity runs
// once per call (again only when its delivery is retried), so nothing is emitted twice for a replay.
import { telemetryEnabled, withSpan } from '../handlers/telemetry';
import type { ActivityDeps } from './activityDeps';
import { loadJobData } from './jobData';

/** The job id an activity input names (jobId, or that of its first attempt). */
function jobIdOf(input: unknown): string | undefined {
  const i = input as { jobId?: unknown; attempts?: Array<{ jobId?: unknown }> } | null;
  const id = i?.jobId ?? i?.attempts?.[0]?.jobId;
  return typeof id === 'string' ? id : undefined;
}

/** The trace context stored with a job at submit (absent when telemetry was off then). */
export function jobTraceparent(metadata: unknown): string | undefined {
  const tp = (metadata as { traceparent?: unknown } | null)?.traceparent;
  return typeof tp === 'string' ? tp : undefined;
}

export async function traceActivity<T>(
  deps: ActivityDeps,
  name: string,
  input: unknown,
  fn: () => Promise<T>,
): Promise<T> {
  if (!telemetryEnabled()) return fn();
  const jobId = jobIdOf(input);
  // The activity reads the job anyway (cached per process): no extra round trip.
  const data = jobId ? await loadJobData(deps, jobId).catch(() => undefined) : undefined;
  const job = data?.job;
  return withSpan(
    `activity ${name}`,
    {
      parent: jobTraceparent(job?.metadata),
      dimensions: {
        ...(jobId ? { job_id: jobId } : {}),
        ...(job ? { workflow_id: job.workflow_id } : {}),
        ...(job?.asset_id ? { asset_id: job.asset_id } : {}),
        ...(job?.correlation_id ? { correlation_id: job.correlation_id } : {}),
      },
      attributes: { 'faas.trigger': 'other', 'durable.activity': name },
    },
    () => fn(),
  );
}
