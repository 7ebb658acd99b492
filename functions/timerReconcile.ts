// Timer trigger: keeps Postgres consistent with Durable. A job whose orchestration failed, was
// terminated outside the product or vanished is marked failed (never stuck running); a pending job
// whose orchestration was never started (a crash between insert and start) is started.
import type { InvocationContext, Timer } from '@azure/functions';
import * as df from 'durable-functions';
import { jobInstanceId } from '../activities/contracts';
import { finishJob, getJob, listQuietActiveJobs, tryWithAdvisoryLock } from '../db';
import { ensureOrchestration } from './jobService';
import { services } from './services';

export async function reconcileJobs(_timer: Timer, context: InvocationContext): Promise<void> {
  const s = services();
  const client = df.getClient(context);
  const r = await tryWithAdvisoryLock(s.pool, `dag:reconcile:${s.schema}`, async () => {
    const quiet = await listQuietActiveJobs(s.pool, s.schema, {
      quietSeconds: s.config.DAG_RECONCILE_GRACE_SECONDS,
    });
    let fixed = 0;
    for (const j of quiet) {
      const instanceId = jobInstanceId(j.job_id, j.run_count);
      let status: string | undefined;
      let output: unknown;
      try {
        const st = await client.getStatus(instanceId);
        status = st?.runtimeStatus;
        output = st?.output;
      } catch {
        status = undefined;
      }
      if (status === undefined) {
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
      } else if (['Failed', 'Terminated', 'Canceled', 'Completed'].includes(status)) {
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
    return { checked: quiet.length, fixed };
  });
  if (r.acquired && r.result.fixed) s.log.info('reconciled jobs', r.result);
}
