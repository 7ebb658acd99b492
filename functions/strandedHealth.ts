// The `attempts` check of /api/health: container attempts nobody is working on (their task message
// is gone from the queue and no worker beats for them — see activities/strandedAttempts.ts). The
// reconciler sends them again at its next tick; until then health is degraded and names them.
import { findStrandedAttempts } from '../activities/strandedAttempts';
import type { Config } from './config';
import { services } from './services';

/** How long an attempt may show no sign of life before its task message is looked for. */
export function strandedAfterSeconds(c: Config): number {
  return c.DAG_WORKER_HEARTBEAT_SECONDS * c.DAG_STRANDED_AFTER_HEARTBEATS;
}

export async function strandedAttemptsCheck(): Promise<{
  status: 'healthy' | 'degraded';
  message?: string;
  details: Record<string, unknown>;
}> {
  const s = services();
  const quietSeconds = strandedAfterSeconds(s.config);
  let scan;
  try {
    scan = await findStrandedAttempts(s.activityDeps(), { quietSeconds, limit: 50 });
  } catch (err) {
    // Not a reason to take the app out of rotation (e.g. the schema awaits its migration).
    return {
      status: 'degraded',
      message: `could not look for stranded attempts: ${err instanceof Error ? err.message : String(err)}`,
      details: { quiet_seconds: quietSeconds },
    };
  }
  const details = {
    quiet_seconds: quietSeconds,
    quiet: scan.checked,
    waiting_in_queue: scan.waiting,
    unknown: scan.unknown,
    stranded: scan.stranded.map((a) => ({
      job_id: a.jobId,
      node_id: a.nodeId,
      task_id: a.taskId,
      status: a.status,
      since: a.since.toISOString(),
      reason: a.reason,
    })),
  };
  return scan.stranded.length
    ? {
        status: 'degraded',
        message: `${scan.stranded.length} attempt(s) stranded: their task message was lost; the reconciler sends them again`,
        details,
      }
    : { status: 'healthy', details };
}
