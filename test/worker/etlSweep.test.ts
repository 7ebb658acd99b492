// Housekeeping of the ETL mount against real Postgres: the files of a job go once it has ended and
// its retention has passed (completed and cancelled sooner than failed, which may be rerun); running
// jobs are never touched; directories of jobs the database does not know go by age. A running
// worker sweeps on its own and reports it in /health.
import { mkdirSync, existsSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { sweepEtlMount } from '../../container-worker/sweepEtlMount';
import { createJob } from '../../db';
import { useTestSchema } from '../support/pg';
import { useWorkerSetup, waitFor } from './support';

const HOUR = 3_600_000;
const retention = { completedMs: 24 * HOUR, failedMs: 168 * HOUR };
const mounts: string[] = [];
afterAll(() => {
  for (const m of mounts) rmSync(m, { recursive: true, force: true });
});

function mount(): string {
  const m = path.join(os.tmpdir(), `etl-sweep-${process.pid}-${mounts.length}`);
  mounts.push(m);
  return m;
}

/** A job in the given status, ended `hoursAgo` (null: still running). */
async function job(
  pool: pg.Pool,
  schema: string,
  status: 'running' | 'completed' | 'failed' | 'cancelled',
  hoursAgo: number | null,
): Promise<string> {
  const { job } = await createJob(pool, schema, {
    workflowId: 'w',
    workflowVersion: 1,
    workflowSnapshot: { workflow_id: 'w', nodes: {} },
    nodes: [{ nodeId: 'start', nodeType: 'start' }],
  });
  await pool.query(
    `UPDATE "${schema}".dag_jobs SET status = $2, completed_at = CASE WHEN $3::float8 IS NULL THEN NULL
       ELSE now() - $3::float8 * interval '1 hour' END WHERE job_id = $1`,
    [job.job_id, status, hoursAgo],
  );
  return job.job_id;
}

function stage(root: string, area: string, name: string): string {
  const dir = path.join(root, area, name);
  mkdirSync(path.join(dir, 'uploads'), { recursive: true });
  writeFileSync(path.join(dir, 'uploads', 'scene.tif'), 'pixels');
  return `${area}/${name}`;
}

describe('sweepEtlMount', () => {
  const getSchema = useTestSchema('etl');

  it('removes ended jobs after their retention, keeps running and recent ones, judges unknown jobs by age', async () => {
    const { pool, schema } = getSchema();
    await getSchema().migrate();
    const root = mount();
    const oldCompleted = await job(pool, schema, 'completed', 48);
    const newCompleted = await job(pool, schema, 'completed', 1);
    const failedRecently = await job(pool, schema, 'failed', 48); // may still be rerun
    const failedLongAgo = await job(pool, schema, 'failed', 200);
    const cancelledRecently = await job(pool, schema, 'cancelled', 48); // cannot be rerun
    const running = await job(pool, schema, 'running', null);
    const expectRemoved = [
      stage(root, 'input', oldCompleted),
      stage(root, 'work', oldCompleted),
      stage(root, 'output', oldCompleted),
      stage(root, 'input', failedLongAgo),
      stage(root, 'input', cancelledRecently),
    ];
    const expectKept = [
      stage(root, 'input', newCompleted),
      stage(root, 'input', failedRecently),
      stage(root, 'input', running),
      stage(root, 'work', running),
    ];
    // Directories of jobs this database does not know: one old, one fresh.
    const oldUnknown = stage(root, 'input', 'purged-job');
    const old = (Date.now() - 200 * HOUR) / 1000;
    utimesSync(path.join(root, oldUnknown), old, old);
    expectKept.push(stage(root, 'input', 'another-environments-job'));
    expectRemoved.push(oldUnknown);
    writeFileSync(path.join(root, 'input', 'stray.txt'), 'not a job directory');

    const r = await sweepEtlMount(pool, schema, root, retention);
    expect(r.removed.sort()).toEqual(expectRemoved.sort());
    expect(r.kept).toBe(expectKept.length);
    expect(r.errors).toEqual([]);
    for (const d of expectRemoved) expect(existsSync(path.join(root, d)), d).toBe(false);
    for (const d of expectKept) expect(existsSync(path.join(root, d)), d).toBe(true);
    expect(existsSync(path.join(root, 'input', 'stray.txt'))).toBe(true);

    // Idempotent: a second sweep (another replica) finds nothing more to do.
    const again = await sweepEtlMount(pool, schema, root, retention);
    expect(again.removed).toEqual([]);
  });

  it('a mount without job directories, or without the areas at all, is a no-op', async () => {
    const { pool, schema } = getSchema();
    await getSchema().migrate();
    const root = mount();
    expect(await sweepEtlMount(pool, schema, root, retention)).toEqual({ removed: [], kept: 0, errors: [] });
    mkdirSync(path.join(root, 'input'), { recursive: true });
    expect(await sweepEtlMount(pool, schema, root, retention)).toEqual({ removed: [], kept: 0, errors: [] });
  });
});

describe('the worker sweeps the mount', () => {
  const setup = useWorkerSetup();

  it('on its own, soon after start: a completed job past its retention goes, a running one stays; /health reports it', async () => {
    const s = await setup();
    const root = mount();
    const done = await job(s.pool, s.schema, 'completed', 2);
    const running = await job(s.pool, s.schema, 'running', null);
    const gone = stage(root, 'input', done);
    const stays = stage(root, 'input', running);
    const w = await s.start({
      etlCleanup: { mountPath: root, retention: { completedMs: HOUR, failedMs: HOUR }, intervalMs: 1000 },
    });
    await waitFor('the sweep', () => !existsSync(path.join(root, gone)), 20_000);
    expect(existsSync(path.join(root, stays))).toBe(true);
    const h = await w.health();
    expect(h.etl_cleanup).toMatchObject({ mount_path: root, last_errors: [] });
    expect(h.etl_cleanup!.removed_dirs).toBeGreaterThanOrEqual(1);
    expect(h.etl_cleanup!.sweeps).toBeGreaterThanOrEqual(1);
  });
});
