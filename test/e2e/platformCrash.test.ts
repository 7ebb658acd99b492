// A version is never left `processing` after its job ended, even when the stack is SIGKILLed between
// the job's end and the version's update: a test session holds a lock on the version row, so the
// dev host's job-end statement waits exactly there; the dev host is then killed. Nothing of the end is
// committed (job still running, version still processing); a restarted stack replays the activity and
// ends both together. If the two were separate writes, the job would be committed as completed here
// with its version stuck in processing.
import pg from 'pg';
import { expect, it, onTestFailed } from 'vitest';
import { seedPlatforms } from '../../db';
import { waitForExit } from '../devhost/devHostProcess';
import { useAppProcesses } from './appProcess';
import { TEST_DATABASE_URL, waitForBlockedBy } from '../support/pg';

type Body = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const apps = useAppProcesses({
  name: 'pcrash',
  prepare: (schema) => seedPlatforms(schema.pool, schema.schema, 'test').then(() => undefined),
  workflows: [
    {
      workflow_id: 'plat_nap',
      name: 'nap',
      nodes: {
        start: { type: 'start', next: 'nap' },
        nap: { type: 'task', handler: 'sleep', params: { duration_seconds: 2 }, next: 'end' },
        end: { type: 'end' },
      },
    },
  ],
});
const startHost = () => apps.startHost();

const state = async (jobId: string, assetId: string) =>
  (
    await apps.schema.pool.query(
      `SELECT j.status::text AS job, v.processing_state::text AS version
       FROM "${apps.schema.schema}".dag_jobs j JOIN "${apps.schema.schema}".asset_versions v ON v.current_job_id = j.job_id
       WHERE j.job_id = $1 AND v.asset_id = $2`,
      [jobId, assetId],
    )
  ).rows[0] as { job: string; version: string };

it('SIGKILL between the job end and the version update: neither is committed; after a restart both end together', async () => {
  onTestFailed(() => apps.markFailed());
  const schema = apps.schema;
  const first = await startHost();
  const res = await fetch(`${first.url}/api/platform/submit`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      platform_id: 'geonode',
      platform_refs: { uuid: 'crash-1' },
      workflow_id: 'plat_nap',
    }),
  });
  const sub = (await res.json()) as Body;
  expect(res.status, JSON.stringify(sub)).toBe(202);
  const { job_id: jobId, asset_id: assetId } = sub as { job_id: string; asset_id: string };
  for (let i = 0; i < 200 && (await state(jobId, assetId)).version !== 'processing'; i++)
    await new Promise((r) => setTimeout(r, 50));
  expect(await state(jobId, assetId)).toEqual({ job: 'running', version: 'processing' });

  // Hold the version row: the job's end (after the 2 s nap) waits on it, inside its transaction.
  const locker = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await locker.connect();
  await locker.query('BEGIN');
  await locker.query(`SELECT 1 FROM "${schema.schema}".asset_versions WHERE asset_id = $1 FOR UPDATE`, [
    assetId,
  ]);
  const lockerPid = (await locker.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  await waitForBlockedBy(schema.pool, lockerPid, 30_000);
  const blocked = await schema.pool.query<{ query: string }>(
    'SELECT query FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))',
    [lockerPid],
  );
  expect(blocked.rows[0]!.query).toMatch(/^WITH outs AS/); // finishJob's statement
  expect(await state(jobId, assetId)).toEqual({ job: 'running', version: 'processing' });

  first.child.kill('SIGKILL');
  await waitForExit(first.child);
  await locker.query('ROLLBACK');
  await locker.end();
  // The killed host's transaction never commits: Postgres rolls it back when it finds the client gone.
  for (let i = 0; i < 100; i++) {
    const n = await schema.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE state LIKE 'idle in transaction%' AND datname = current_database() AND pid <> pg_backend_pid()`,
    );
    if (n.rows[0]!.n === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(await state(jobId, assetId)).toEqual({ job: 'running', version: 'processing' });

  const second = await startHost();
  const until = Date.now() + 90_000;
  while ((await state(jobId, assetId)).job === 'running') {
    if (Date.now() > until) throw new Error(`job ${jobId} did not finish after the restart`);
    await new Promise((r) => setTimeout(r, 200));
  }
  expect(await state(jobId, assetId)).toEqual({ job: 'completed', version: 'completed' });
  const audit = (await (await fetch(`${second.url}/api/assets/${assetId}/audit`)).json()) as Body;
  expect(audit.entries.map((e: Body) => e.action)).toEqual([
    'asset_created',
    'version_submitted',
    'processing_started',
    'processing_completed',
  ]);
  second.child.kill('SIGTERM');
  await waitForExit(second.child);
}, 240_000);
