// Node-completion writes (recordTaskResult: result row + guarded node transition + event, one
// statement each) with a pool of 8, against batched writes (recordTaskResults / applyNodeTransitions:
// one statement per batch). Throwaway schema, dropped at the end.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import pg from 'pg';
import { record, median } from './lib/record';
import {
  applyNodeTransitions,
  createJob,
  deploySchema,
  recordTaskResult,
  recordTaskResults,
  transitionNode,
  type NodeTransition,
  type TaskResultInput,
} from '../db';

const URL =
  process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const BATCH = 1000;
const POOL = 8;

/** A job with n task nodes, all dispatched; returns the completions to deliver. */
async function dispatchedJob(pool: pg.Pool, schema: string, n: number): Promise<TaskResultInput[]> {
  const { job } = await createJob(pool, schema, {
    workflowId: 'bench',
    workflowVersion: 1,
    workflowSnapshot: {},
    nodes: Array.from({ length: n }, (_, i) => ({
      nodeId: `t${i}`,
      nodeType: 'task' as const,
      maxRetries: 3,
    })),
  });
  await pool.query(`UPDATE "${schema}".dag_jobs SET status = 'running' WHERE job_id = $1`, [job.job_id]);
  const r = await applyNodeTransitions(
    pool,
    schema,
    Array.from({ length: n }, (_, i) => ({
      jobId: job.job_id,
      nodeId: `t${i}`,
      from: ['pending' as const],
      to: 'dispatched' as const,
    })),
  );
  if (r.applied !== n) throw new Error('setup: dispatch failed');
  return Array.from({ length: n }, (_, i) => ({
    taskId: `${job.job_id}_t${i}_0`,
    jobId: job.job_id,
    nodeId: `t${i}`,
    attempt: 0,
    status: 'completed' as const,
    output: { tile: `t${i}.tif`, bytes: 123456, stats: { min: 0, max: 255 } },
    workerId: 'bench-worker',
    durationMs: 42,
  }));
}

/**
 * The reference point, measured now on this machine: `pgbench -N -c 8 -j 2 -T 5` in a throwaway
 * database (null when pgbench is not installed). Other work on a shared machine moves both numbers.
 */
function pgbenchReference(): number | null {
  const u = new globalThis.URL(URL);
  const db = `bench_pgb_${randomBytes(4).toString('hex')}`;
  const conn = ['-h', u.hostname, '-p', u.port || '5432', '-U', decodeURIComponent(u.username) || 'postgres'];
  const run = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: 'utf8', timeout: 120_000 });
  if (run('pgbench', ['--version']).status !== 0) return null;
  try {
    if (run('createdb', [...conn, db]).status !== 0) return null;
    if (run('pgbench', [...conn, '-i', '-s', '5', '-q', db]).status !== 0) return null;
    const r = run('pgbench', [...conn, '-N', '-c', '8', '-j', '2', '-T', '5', db]);
    const m = /tps = ([\d.]+)/.exec(r.stdout);
    return m ? Math.round(Number(m[1])) : null;
  } finally {
    run('dropdb', [...conn, '--if-exists', db]);
  }
}

/** Runs items with `concurrency` callers in flight; returns operations per second. */
async function drive<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
  return (items.length / (performance.now() - t0)) * 1000;
}

async function main(): Promise<void> {
  const schema = `bench_${randomBytes(5).toString('hex')}`;
  const pool = new pg.Pool({ connectionString: URL, max: POOL });
  try {
    const loadBefore = os.loadavg()[0]!;
    const pgbenchTps = pgbenchReference();
    await deploySchema(pool, schema);
    const N = 6000;
    const REPS = 3;

    // Warm-up (connections, plans, caches).
    const warm = await dispatchedJob(pool, schema, 1000);
    await drive(warm, POOL * 2, async (r) => void (await recordTaskResult(pool, schema, r)));

    // 1. One round trip per completion, pool of 8, 16 callers in flight.
    const perRow: number[] = [];
    for (let rep = 0; rep < REPS; rep++) {
      const items = await dispatchedJob(pool, schema, N);
      perRow.push(
        await drive(items, POOL * 2, async (r) => {
          const out = await recordTaskResult(pool, schema, r);
          if (out.kind !== 'applied') throw new Error(`not applied: ${out.kind}`);
        }),
      );
    }
    // Duplicate deliveries cost the same round trip and change nothing.
    const dupItems = await dispatchedJob(pool, schema, 2000);
    await recordTaskResults(pool, schema, dupItems);
    const duplicates = await drive(dupItems, POOL * 2, async (r) => {
      const out = await recordTaskResult(pool, schema, r);
      if (out.kind !== 'duplicate') throw new Error(`expected duplicate, got ${out.kind}`);
    });

    // 2. One round trip per completion on one connection (the per-row baseline without concurrency).
    const serialItems = await dispatchedJob(pool, schema, 2000);
    const serial = await drive(serialItems, 1, async (r) => void (await recordTaskResult(pool, schema, r)));

    // 3. Batched completions: 1,000 per statement, on one caller and on 8 callers (the pool of 8).
    const batchedRun = async (callers: number): Promise<number> => {
      const n = 16_000;
      const items = await dispatchedJob(pool, schema, n);
      const batches = Array.from({ length: n / BATCH }, (_, i) => items.slice(i * BATCH, i * BATCH + BATCH));
      return (
        (await drive(batches, callers, async (b) => {
          const out = await recordTaskResults(pool, schema, b);
          if (out.some((o) => o.kind !== 'applied')) throw new Error('batch not applied');
        })) * BATCH
      );
    };
    const batchedSerial: number[] = [];
    const batchedPool: number[] = [];
    for (let rep = 0; rep < REPS; rep++) {
      batchedSerial.push(await batchedRun(1));
      batchedPool.push(await batchedRun(POOL));
    }

    // 4. Structural transitions (pending → ready + node_ready), per row vs one batch.
    const { job } = await createJob(pool, schema, {
      workflowId: 'bench',
      workflowVersion: 1,
      workflowSnapshot: {},
      nodes: Array.from({ length: 2 * N }, (_, i) => ({ nodeId: `s${i}`, nodeType: 'task' as const })),
    });
    const tr = (i: number): NodeTransition => ({
      jobId: job.job_id,
      nodeId: `s${i}`,
      from: ['pending'],
      to: 'ready',
    });
    const transPerRow = await drive(
      Array.from({ length: N }, (_, i) => i),
      POOL * 2,
      async (i) => void (await transitionNode(pool, schema, tr(i))),
    );
    const t0 = performance.now();
    for (let i = N; i < 2 * N; i += 1000) {
      await applyNodeTransitions(
        pool,
        schema,
        Array.from({ length: 1000 }, (_, k) => tr(i + k)),
      );
    }
    const transBatched = (N / (performance.now() - t0)) * 1000;

    const perRowMedian = median(perRow);
    const batchedSerialMedian = median(batchedSerial);
    const batchedPoolMedian = median(batchedPool);
    const results = {
      pool_size: POOL,
      completions_per_s_pool8_one_round_trip_each: Math.round(perRowMedian),
      completions_runs: perRow.map(Math.round),
      duplicate_deliveries_per_s_pool8: Math.round(duplicates),
      completions_per_s_one_connection_one_round_trip_each: Math.round(serial),
      completions_per_s_batched_1000_one_connection: Math.round(batchedSerialMedian),
      completions_per_s_batched_1000_pool8: Math.round(batchedPoolMedian),
      batched_runs_one_connection: batchedSerial.map(Math.round),
      batched_runs_pool8: batchedPool.map(Math.round),
      batched_vs_per_row_pool8: Math.round((batchedPoolMedian / perRowMedian) * 10) / 10,
      batched_vs_per_row_one_connection: Math.round((batchedSerialMedian / serial) * 10) / 10,
      transitions_per_s_pool8_one_round_trip_each: Math.round(transPerRow),
      transitions_per_s_batched_1000: Math.round(transBatched),
      transitions_batched_vs_per_row_pool8: Math.round((transBatched / transPerRow) * 10) / 10,
      pgbench_N_c8_tps_same_run: pgbenchTps,
      completions_vs_pgbench: pgbenchTps ? Math.round((perRowMedian / pgbenchTps) * 100) / 100 : null,
      load_average_1m: [Math.round(loadBefore * 100) / 100, Math.round(os.loadavg()[0]! * 100) / 100],
    };
    record({
      name: 'db-completion',
      target: '≥ 3,000 node completions/s with a pool of 8; batched writes ≥ 10× one round trip per row',
      // "10× one round trip per row" compares like with like: one connection, N statements vs N/1000.
      pass: perRowMedian >= 3000 && batchedSerialMedian / serial >= 10,
      results,
      notes:
        'Each completion = one statement: lock node, insert dag_task_results row (ON CONFLICT DO NOTHING on task_id), ' +
        'guarded node update (version+1), node_completed event. 16 callers in flight on a pool of 8; N=6000 per run, median of 3. ' +
        'Batched = recordTaskResults with 1,000 results per statement, on one caller and on 8 callers. ' +
        'pgbench_N_c8_tps_same_run is `pgbench -N -c 8 -j 2 -T 5` measured in the same run (the issue quotes ≈ 3,500 TPS for a quiet machine); ' +
        'load_average_1m shows how busy the shared 2-core machine was. ' +
        'Postgres 15 on the same 2-core machine, fsync on, synchronous_commit on.',
    });
  } finally {
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await pool.end();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
