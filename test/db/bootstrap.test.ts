// The /api/bootstrap/* handlers over the versioned migrations: status, tables, ddl, deploy, migrate and
// rebuild as the administrator (the local stack, Core Tools), and 403 for the app's own login (Azure).
import { describe, expect, it } from 'vitest';
import {
  bootstrapDdl,
  bootstrapDeploy,
  bootstrapMigrate,
  bootstrapRebuild,
  bootstrapStatus,
  bootstrapTables,
  createJob,
  loadMigrations,
} from '../../db';
import { useTestSchema, type TestSchema } from '../support/pg';
import { jobInput } from './helpers';

const db = useTestSchema('boot');
const admin = (t: TestSchema) => ({
  db: t.adminPool,
  schema: t.schema,
  stacSchema: t.stacSchema,
  appRole: t.appRole,
});
const latest = () => loadMigrations().length;

describe('bootstrap handlers', () => {
  it('status reports not_initialized, then ok after deploy with the migration version; tables counts rows', async () => {
    const deps = admin(db());
    const s0 = await bootstrapStatus(deps);
    expect(s0).toMatchObject({
      status: 200,
      body: {
        status: 'not_initialized',
        schema_exists: true,
        tables: { dag_jobs: false },
        migration: { current: 0, latest: latest() },
      },
    });
    expect((s0.body as { pending_migrations: unknown[] }).pending_migrations).toHaveLength(latest());
    const t0 = await bootstrapTables(deps);
    expect(t0.body).toMatchObject({ tables: { dag_jobs: null }, total_rows: 0 });

    expect((await bootstrapDeploy(deps, { confirm: 'yes' })).status).toBe(200);
    const s1 = await bootstrapStatus(deps);
    expect(s1.body).toMatchObject({
      status: 'ok',
      pending_migrations: [],
      missing: [],
      drift: [],
      migration: { current: latest(), latest: latest() },
      tables: { dag_jobs: true, dag_checkpoints: true },
    });
    expect((s1.body as { enums: Record<string, string[]> }).enums.node_status).toContain('dispatched');

    await createJob(deps.db, deps.schema, jobInput());
    const t1 = await bootstrapTables(deps);
    expect(t1.body).toMatchObject({
      tables: { dag_jobs: 1, dag_node_states: 5, dag_job_events: 1, dag_checkpoints: 0 },
      total_rows: 7,
    });
  });

  it("ddl lists the models' statements and the migrations rendered for the schema", async () => {
    const r = await bootstrapDdl({ schema: 'dagapp' });
    const body = r.body as {
      statement_count: number;
      statements: string[];
      migrations: Array<{ sql: string }>;
    };
    expect(r.status).toBe(200);
    expect(body.statement_count).toBe(body.statements.length);
    expect(body.statements[0]).toBe('CREATE SCHEMA IF NOT EXISTS "dagapp"');
    expect(body.migrations).toHaveLength(latest());
    expect(body.migrations[0]!.sql).toContain(
      'GRANT SELECT, INSERT, UPDATE, DELETE ON "dagapp"."dag_jobs" TO "dagapp_app"',
    );
    expect(body.migrations[0]!.sql).not.toContain('${');
  });

  it('deploy needs confirm=yes or a dry run; the dry run changes nothing; concurrent deploys both succeed', async () => {
    const deps = admin(db());
    expect(await bootstrapDeploy(deps, {})).toMatchObject({
      status: 400,
      body: { error: { code: 'VALIDATION' } },
    });
    expect((await bootstrapDeploy(deps, { confirm: 'YES' })).status).toBe(400);
    const dry = await bootstrapDeploy(deps, { dryRun: 'true' });
    expect(dry).toMatchObject({ status: 200, body: { dry_run: true } });
    // Every checked-in migration, in order, from the first.
    const planned = (dry.body as { migrations: Array<{ version: number; name: string }> }).migrations;
    expect(planned[0]).toEqual({ version: 1, name: 'initial' });
    expect(planned.map((m) => m.version)).toEqual(Array.from({ length: latest() }, (_, i) => i + 1));
    expect((await bootstrapStatus(deps)).body).toMatchObject({ status: 'not_initialized' });
    const [a, b] = await Promise.all([
      bootstrapDeploy(deps, { confirm: 'yes' }),
      bootstrapDeploy(deps, { confirm: 'yes' }),
    ]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect([a.body, b.body].map((x) => (x as { migrations: unknown[] }).migrations.length).sort()).toEqual([
      0,
      latest(),
    ]);
    expect(a.body).toMatchObject({
      success: true,
      steps: [
        { step: 'test_connection', ok: true },
        { step: 'migrate', ok: true },
        { step: 'verify_tables', ok: true },
      ],
    });
  });

  it('migrate: 400 without confirm, dry run lists the pending migrations, confirm applies them, then up to date', async () => {
    const deps = admin(db());
    expect((await bootstrapMigrate(deps, { confirm: 'no' })).status).toBe(400);
    const dry = await bootstrapMigrate(deps, { dryRun: true });
    expect(dry).toMatchObject({ status: 200, body: { dry_run: true, applied: false, from: 0 } });
    expect((dry.body as { migrations: unknown[] }).migrations).toHaveLength(latest());
    const r = await bootstrapMigrate(deps, { confirm: 'yes' });
    expect(r).toMatchObject({ status: 200, body: { applied: true, to: latest() } });
    expect((await bootstrapMigrate(deps, { confirm: 'yes' })).body).toMatchObject({
      applied: false,
      summary: 'schema is up to date',
    });
  });

  it("the app's own login may not change the schema: 403 saying that the migration job does", async () => {
    const t = db();
    await t.migrate();
    const app = { ...admin(t), db: t.pool };
    const r = await bootstrapMigrate({ ...app, schema: `${t.schema}` }, { confirm: 'yes' });
    // Up to date: nothing to change, so even the app may ask.
    expect(r.status).toBe(200);
    const other = await bootstrapDeploy({ ...app, schema: `${t.schema}_new` }, { confirm: 'yes' });
    expect(other).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN' } } });
    expect((other.body as { error: { message: string } }).error.message).toMatch(
      /may not change the schema[\s\S]*dagmaster db migrate/,
    );
    const st = await bootstrapStatus(app);
    expect(st).toMatchObject({ status: 200, body: { status: 'ok' } });
  });

  it('rebuild refuses without the flag (403) or without confirm=DESTROY (400)', async () => {
    const deps = admin(db());
    await bootstrapDeploy(deps, { confirm: 'yes' });
    await createJob(deps.db, deps.schema, jobInput());
    expect(await bootstrapRebuild(deps, { confirm: 'DESTROY', env: {} })).toMatchObject({
      status: 403,
      body: { error: { code: 'FORBIDDEN' } },
    });
    expect(
      (
        await bootstrapRebuild(deps, {
          confirm: 'DESTROY',
          env: { DAG_ENABLE_DESTRUCTIVE_BOOTSTRAP: 'false' },
        })
      ).status,
    ).toBe(403);
    expect((await bootstrapRebuild(deps, { confirm: 'DESTROY', dryRun: true, env: {} })).status).toBe(403);
    const on = { DAG_ENABLE_DESTRUCTIVE_BOOTSTRAP: 'true' };
    expect(await bootstrapRebuild(deps, { env: on })).toMatchObject({
      status: 400,
      body: { error: { code: 'VALIDATION' } },
    });
    expect((await bootstrapRebuild(deps, { confirm: 'yes', env: on })).status).toBe(400);
    expect((await bootstrapRebuild(deps, { confirm: 'destroy', env: on })).status).toBe(400);
    const dry = await bootstrapRebuild(deps, { dryRun: 'true', env: on });
    expect(dry.status).toBe(200);
    expect((dry.body as { statements: string[] }).statements[0]).toMatch(/^DROP SCHEMA IF EXISTS/);
    // Nothing was deleted by any of the refusals or the dry run.
    expect((await bootstrapTables(deps)).body).toMatchObject({ tables: { dag_jobs: 1 } });
  });

  it('rebuild with the flag (new or old name) and confirm=DESTROY drops and migrates again', async () => {
    const deps = admin(db());
    await bootstrapDeploy(deps, { confirm: 'yes' });
    await createJob(deps.db, deps.schema, jobInput());
    const r = await bootstrapRebuild(deps, {
      confirm: 'DESTROY',
      env: { ALLOW_DESTRUCTIVE_BOOTSTRAP: 'true' },
    });
    expect(r).toMatchObject({
      status: 200,
      body: { status: 'rebuilt', warning: 'ALL DATA WAS DELETED', migrations_applied: latest() },
    });
    expect((await bootstrapTables(deps)).body).toMatchObject({ tables: { dag_jobs: 0 }, total_rows: 0 });
    expect((await bootstrapStatus(deps)).body).toMatchObject({ status: 'ok' });
  });
});
