// Fan-out child rows: 10,000 (and 100,000) children inserted by insertFanOutChildren in ONE statement,
// into a throwaway schema that is dropped at the end. Reports rows/s (median of several runs).
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { record, median } from './lib/record';
import { createJob, deploySchema, insertFanOutChildren } from '../db';

const URL =
  process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

async function main(): Promise<void> {
  const schema = `bench_${randomBytes(5).toString('hex')}`;
  const pool = new pg.Pool({ connectionString: URL, max: 8 });
  try {
    await deploySchema(pool, schema);
    const runs: Record<string, unknown> = {};
    let pass = true;
    for (const [n, reps] of [
      [10_000, 5],
      [100_000, 2],
    ] as const) {
      const rates: number[] = [];
      const times: number[] = [];
      for (let rep = 0; rep < reps; rep++) {
        const { job } = await createJob(pool, schema, {
          workflowId: 'bench',
          workflowVersion: 1,
          workflowSnapshot: {},
          nodes: [{ nodeId: 'fan', nodeType: 'fan_out' }],
        });
        const children = Array.from({ length: n }, (_, index) => ({
          index,
          inputParams: {
            item: { blob: `tiles/${index}.tif`, bbox: [index, index + 1, index + 2, index + 3] },
            index,
          },
        }));
        const t0 = performance.now();
        const r = await insertFanOutChildren(pool, schema, {
          jobId: job.job_id,
          parentNodeId: 'fan',
          children,
          maxRetries: 3,
        });
        const ms = performance.now() - t0;
        if (r.inserted !== n) throw new Error(`expected ${n} inserted, got ${r.inserted}`);
        // Idempotency: the same call again inserts nothing.
        const again = await insertFanOutChildren(pool, schema, {
          jobId: job.job_id,
          parentNodeId: 'fan',
          children,
          maxRetries: 3,
        });
        if (again.inserted !== 0) throw new Error('re-insert was not idempotent');
        times.push(ms);
        rates.push((n / ms) * 1000);
      }
      runs[`children_${n}`] = {
        statements: 1,
        median_ms: Math.round(median(times)),
        median_rows_per_s: Math.round(median(rates)),
        runs_ms: times.map(Math.round),
      };
      if (n === 10_000) pass = median(times) < 10_000;
    }
    record({
      name: 'db-fanout',
      target: '10,000 fan-out child rows in one statement (rows/s reported); 100,000 workable',
      pass,
      results: runs,
      notes:
        'insertFanOutChildren: one INSERT ... SELECT FROM jsonb_array_elements($1) ON CONFLICT DO NOTHING plus one fan_out_expanded event; ' +
        'timing includes JSON serialization in Node. Postgres 15, fsync on, synchronous_commit on, local socket over TCP.',
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
