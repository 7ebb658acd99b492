// Real-Postgres test support: one schema per test, dropped when the test passes and kept (with its
// name printed) when it fails, so a failure can be inspected. With CI=true an unreachable server is a
// test failure, never a skip.
//
// As in production, the app does not connect as the administrator: each test schema gets its own app
// role (`<schema>_app`, NOLOGIN) and login (`<schema>_login`, a member of it). `migrate()` applies the
// checked-in migrations as the administrator (they GRANT the app role exactly what the apps need) and
// `pool` / `url` connect as the login. TEST_DB_ROLE=admin connects everything as the administrator
// instead (the old behaviour, for debugging).
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterEach, beforeEach, onTestFailed } from 'vitest';
import { runMigrations } from '../../db';

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** 'app' (default): the app connects as a non-admin login; 'admin': as the administrator. */
export const TEST_DB_ROLE: 'app' | 'admin' = process.env.TEST_DB_ROLE === 'admin' ? 'admin' : 'app';

export interface TestSchema {
  /** The schema name, unique per test (`t_<random>`). */
  schema: string;
  /** The STAC catalog schema the migrations create beside it (`<schema>_stac`). */
  stacSchema: string;
  /** The app role the migrations grant privileges to, and the login that is a member of it. */
  appRole: string;
  login: string;
  /** The app's pool (the login, or the admin with TEST_DB_ROLE=admin), search_path set to the schema. */
  pool: pg.Pool;
  /** A connection string for the app in child processes (search_path passed as an option). */
  url: string;
  /** The administrator's pool and URL: DDL, the migrations, fixtures that no app would write. */
  adminPool: pg.Pool;
  adminUrl: string;
  /** Applies the migrations as the administrator and makes the login a member of the app role. */
  migrate(): Promise<void>;
}

function unreachable(err: unknown): Error {
  return new Error(
    `Postgres is not reachable at ${TEST_DATABASE_URL} (${(err as Error).message}). ` +
      'Start it (pg_ctlcluster 15 main start) or set TEST_DATABASE_URL.',
  );
}

async function adminQuery(text: string): Promise<void> {
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  try {
    await admin.connect();
  } catch (err) {
    throw unreachable(err);
  }
  try {
    await admin.query(text);
  } finally {
    await admin.end();
  }
}

/** The connection string of a login on the test server. */
export function loginUrl(login: string, password: string): string {
  const u = new URL(TEST_DATABASE_URL);
  u.username = login;
  u.password = password;
  return u.toString();
}

export async function createTestSchema(prefix = 't'): Promise<TestSchema> {
  const schema = `${prefix}_${randomBytes(6).toString('hex')}`;
  const appRole = `${schema}_app`;
  const login = `${schema}_login`;
  const password = randomBytes(12).toString('hex');
  await adminQuery(`CREATE SCHEMA "${schema}"; CREATE ROLE "${login}" LOGIN PASSWORD '${password}'`);
  const adminUrl = withSearchPath(TEST_DATABASE_URL, schema);
  const url = TEST_DB_ROLE === 'admin' ? adminUrl : withSearchPath(loginUrl(login, password), schema);
  const adminPool = new pg.Pool({ connectionString: adminUrl, max: 4 });
  const pool = TEST_DB_ROLE === 'admin' ? adminPool : new pg.Pool({ connectionString: url, max: 8 });
  const t: TestSchema = {
    schema,
    stacSchema: `${schema}_stac`,
    appRole,
    login,
    pool,
    url,
    adminPool,
    adminUrl,
    async migrate() {
      // The drift check of the result is test/db/migrations.test.ts's job: skipped here for speed.
      await runMigrations(adminPool, {
        schema,
        stacSchema: t.stacSchema,
        appRole,
        grantTo: [{ name: login }],
        verify: false,
      });
    },
  };
  return t;
}

export async function dropTestSchema(t: TestSchema): Promise<void> {
  await t.pool.end().catch(() => undefined);
  if (t.adminPool !== t.pool) await t.adminPool.end().catch(() => undefined);
  await dropSchemasAndRoles([t.schema, t.stacSchema], t.schema);
}

/**
 * Drops the schemas, then every role named `<rolePrefix>_…` (an app role, its login, a local
 * stack's login): what a test that deployed into the test database leaves behind.
 */
export async function dropSchemasAndRoles(schemas: string[], rolePrefix: string): Promise<void> {
  await adminQuery(
    `${schemas.map((s) => `DROP SCHEMA IF EXISTS "${s}" CASCADE;`).join(' ')}
     DO $$ DECLARE r text; BEGIN
       FOR r IN SELECT rolname FROM pg_roles WHERE starts_with(rolname, '${rolePrefix}_') LOOP
         EXECUTE format('DROP ROLE %I', r);
       END LOOP;
     END $$`,
  );
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
      if (current.adminPool !== current.pool) await current.adminPool.end().catch(() => undefined);
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

/** Like useTestSchema, with the migrations applied before each test. */
export function useMigratedSchema(prefix = 't'): () => TestSchema {
  const t = useTestSchema(prefix);
  beforeEach(async () => {
    await t().migrate();
  });
  return t;
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
