// Timer trigger: keeps Postgres consistent with Durable. A job whose orchestration failed, was
// terminated outside the product or vanished is marked failed (never stuck running); a pending job
// whose orchestration was never started (a crash between insert and start) is started. Only a
// definite "not found" (HTTP 404) counts as vanished: any other error leaves the job as it is until
// the next tick. Container attempts whose task message was lost are sent again
// (activities/strandedAttempts.ts).
import type { InvocationContext, Timer } from '@azure/functions';
import { durableClient } from './durableClient';
import { jobInstanceId } from '../activities/contracts';
import { finishJob, getJob, listQuietActiveJobs, tryWithAdvisoryLock } from '../db';
import { findStrandedAttempts, requeueStranded } from '../activities/strandedAttempts';
import { lookupInstance, type InstanceLookup } from './instanceStatus';
import { strandedAfterSeconds } from './strandedHealth';
import { ensureOrchestration } from './jobService';
import { metrics, withSpan } from '../handlers/telemetry';
import { services } from './services';

export async function reconcileJobs(timer: Timer, context: InvocationContext): Promise<void> {
  // A timer run is a request of its own in Application Insights (kind server, no parent).
  return withSpan('timer reconcileJobs', { kind: 'server', attributes: { 'faas.trigger': 'timer' } }, () =>
    reconcile(timer, context),
  );
}

async function reconcile(_timer: Timer, context: InvocationContext): Promise<void> {
  const s = services();
  const client = durableClient(context);
  const r = await tryWithAdvisoryLock(s.pool, `dag:reconcile:${s.schema}`, async () => {
    const quiet = await listQuietActiveJobs(s.pool, s.schema, {
      quietSeconds: s.config.DAG_RECONCILE_GRACE_SECONDS,
    });
    let fixed = 0;
    let unknown = 0;
    for (const j of quiet) {
      const instanceId = jobInstanceId(j.job_id, j.run_count);
      let found: InstanceLookup;
      try {
        found = await lookupInstance(client, instanceId);
      } catch (err) {
        // A 500, a timeout, a restart of the host: nothing is known about the instance, so nothing is
        // changed; the next tick asks again.
        unknown++;
        s.log.warn('reconciler: orchestration status unavailable; the job is checked again next time', {
          job_id: j.job_id,
          instance: instanceId,
          error: err instanceof Error ? err.message : String(err),
        });
        continue;
      }
      if (!found.found) {
        if (j.status === 'pending') {
          const job = await getJob(s.pool, s.schema, j.job_id);
          if (job) await ensureOrchestration(client, job);
        } else {
          await finishJob(s.pool, s.schema, {
            jobId: j.job_id,
            status: 'failed',
            errorMessage: `Orchestration ${instanceId} no longer exists (purged?); the job cannot make progress.`,
            sourceApp: 'reconciler',
          });
        }
        fixed++;
        continue;
      }
      const status = found.runtimeStatus;
      if (['Failed', 'Terminated', 'Canceled', 'Completed'].includes(status)) {
        const output = found.output;
        const detail = typeof output === 'string' ? output : JSON.stringify(output ?? null);
        await finishJob(s.pool, s.schema, {
          jobId: j.job_id,
          status: 'failed',
          errorMessage:
            status === 'Completed'
              ? `Orchestration ${instanceId} completed without recording the job's end (${detail.slice(0, 500)}).`
              : `Orchestration ${instanceId} ${status.toLowerCase()}: ${detail.slice(0, 1500)}`,
          sourceApp: 'reconciler',
        });
        fixed++;
      }
    }
    // Attempts whose task message was lost: sent again long before their deadline.
    let requeued = 0;
    try {
      const deps = s.activityDeps();
      const scan = await findStrandedAttempts(deps, { quietSeconds: strandedAfterSeconds(s.config) });
      requeued = await requeueStranded(deps, scan.stranded);
    } catch (err) {
      s.log.warn('reconciler: looking for stranded attempts failed; tried again next time', {
        error: err instanceof Error ? err.message : String(err),
      });
    }
    return { checked: quiet.length, fixed, unknown, requeued };
  });
  if (r.acquired && (r.result.fixed || r.result.requeued)) {
    s.log.info('reconciled jobs', r.result);
    metrics.reconcilerRepairs(r.result.fixed, 'job');
    metrics.reconcilerRepairs(r.result.requeued, 'requeued_attempt');
  }
}
