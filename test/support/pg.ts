// Real-Postgres test support: one schema per test, dropped when the test passes and kept (with its
// name printed) when it fails, so a failure can be inspected. With CI=true an unreachable server is a
// test failure, never a skip.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterEach, beforeEach, onTestFailed } from 'vitest';

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestSchema {
  /** The schema name, unique per test (`t_<random>`). */
  schema: string;
  /** A pool whose connections have `search_path` set to the schema. */
  pool: pg.Pool;
  /** A connection string for child processes: search_path is passed as an option. */
  url: string;
}

export async function createTestSchema(prefix = 't'): Promise<TestSchema> {
  const schema = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(
      `Postgres is not reachable at ${TEST_DATABASE_URL} (${(err as Error).message}). ` +
        'Start it (pg_ctlcluster 15 main start) or set TEST_DATABASE_URL.',
    );
  }
  try {
    await admin.query(`CREATE SCHEMA "${schema}"`);
  } finally {
    await admin.end();
  }
  const url = withSearchPath(TEST_DATABASE_URL, schema);
  const pool = new pg.Pool({ connectionString: url, max: 8 });
  return { schema, pool, url };
}

export async function dropTestSchema(t: TestSchema): Promise<void> {
  await t.pool.end().catch(() => undefined);
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  try {
    await admin.query(`DROP SCHEMA IF EXISTS "${t.schema}" CASCADE`);
  } finally {
    await admin.end();
  }
}

/** Registers beforeEach/afterEach hooks; the returned getter gives the current test's schema. */
export function useTestSchema(prefix = 't'): () => TestSchema {
  let current: TestSchema | undefined;
  let failed = false;
  beforeEach(async () => {
    failed = false;
    current = await createTestSchema(prefix);
    onTestFailed(() => {
      failed = true;
    });
  });
  afterEach(async () => {
    if (!current) return;
    if (failed) {
      await current.pool.end().catch(() => undefined);
      console.error(`test failed: schema ${current.schema} kept for inspection`);
    } else {
      await dropTestSchema(current);
    }
    current = undefined;
  });
  return () => {
    if (!current) throw new Error('useTestSchema(): no schema outside a test');
    return current;
  };
}

export function withSearchPath(url: string, schema: string): string {
  const u = new URL(url);
  u.searchParams.set('options', `-c search_path=${schema},public`);
  return u.toString();
}

/** Waits until some session is blocked by the locks of backend `pid` (pg_blocking_pids). */
export async function waitForBlockedBy(
  db: pg.Pool | pg.Client,
  pid: number,
  timeoutMs = 10_000,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const w = await db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))',
      [pid],
    );
    if (w.rows[0]!.n > 0) return;
    if (Date.now() > until) throw new Error(`no session became blocked by backend ${pid}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
