import { describe, expect, it } from 'vitest';
import {
  bootstrapDdl,
  bootstrapDeploy,
  bootstrapMigrate,
  bootstrapRebuild,
  bootstrapStatus,
  bootstrapTables,
  createJob,
  extendTable,
  col,
  jobsTable,
  ALL_TABLES,
} from '../../db';
import { useTestSchema } from '../support/pg';
import { jobInput } from './helpers';

const db = useTestSchema('boot');

describe('bootstrap handlers', () => {
  it('status reports not_initialized, then ok after deploy; tables counts rows', async () => {
    const deps = { db: db().pool, schema: db().schema };
    const s0 = await bootstrapStatus(deps);
    expect(s0).toMatchObject({
      status: 200,
      body: { status: 'not_initialized', schema_exists: true, tables: { dag_jobs: false } },
    });
    const t0 = await bootstrapTables(deps);
    expect(t0.body).toMatchObject({ tables: { dag_jobs: null }, total_rows: 0 });

    expect((await bootstrapDeploy(deps, { confirm: 'yes' })).status).toBe(200);
    const s1 = await bootstrapStatus(deps);
    expect(s1.body).toMatchObject({
      status: 'ok',
      pending_migrations: [],
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

  it('ddl lists the generated statements', async () => {
    const r = await bootstrapDdl({ schema: 'dagapp' });
    const body = r.body as { statement_count: number; statements: string[] };
    expect(r.status).toBe(200);
    expect(body.statement_count).toBe(body.statements.length);
    expect(body.statements[0]).toBe('CREATE SCHEMA IF NOT EXISTS "dagapp"');
  });

  it('deploy needs confirm=yes or a dry run; the dry run changes nothing; deploy is idempotent', async () => {
    const deps = { db: db().pool, schema: db().schema };
    expect(await bootstrapDeploy(deps, {})).toMatchObject({
      status: 400,
      body: { error: { code: 'VALIDATION' } },
    });
    expect((await bootstrapDeploy(deps, { confirm: 'YES' })).status).toBe(400);
    const dry = await bootstrapDeploy(deps, { dryRun: 'true' });
    expect(dry).toMatchObject({ status: 200, body: { dry_run: true } });
    expect((await bootstrapStatus(deps)).body).toMatchObject({ status: 'not_initialized' });
    const [a, b] = await Promise.all([
      bootstrapDeploy(deps, { confirm: 'yes' }),
      bootstrapDeploy(deps, { confirm: 'yes' }),
    ]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(a.body).toMatchObject({
      success: true,
      steps: [
        { step: 'test_connection', ok: true },
        { step: 'deploy_schema', ok: true },
        { step: 'verify_tables', ok: true },
      ],
    });
  });

  it('migrate: 400 without confirm, dry run lists the plan, confirm applies it, 409 when blocked', async () => {
    const deps = { db: db().pool, schema: db().schema };
    expect((await bootstrapMigrate(deps, { confirm: 'no' })).status).toBe(400);
    const dry = await bootstrapMigrate(deps, { dryRun: true });
    expect(dry.status).toBe(200);
    expect((dry.body as { steps: unknown[]; applied: boolean }).applied).toBe(false);
    expect((dry.body as { steps: unknown[] }).steps.length).toBeGreaterThan(10);
    const r = await bootstrapMigrate(deps, { confirm: 'yes' });
    expect(r).toMatchObject({ status: 200, body: { applied: true } });
    expect((await bootstrapMigrate(deps, { confirm: 'yes' })).body).toMatchObject({
      applied: false,
      summary: 'schema is up to date',
    });

    await createJob(deps.db, deps.schema, jobInput());
    const blockedTables = ALL_TABLES.map((t) =>
      t.name === 'dag_jobs' ? extendTable(jobsTable, { columns: { tenant: col.varchar(8) } }) : t,
    );
    const blocked = await bootstrapMigrate({ ...deps, tables: blockedTables }, { confirm: 'yes' });
    expect(blocked).toMatchObject({
      status: 409,
      body: { error: { code: 'CONFLICT' }, blocked: [{ object: 'dag_jobs.tenant' }] },
    });
  });

  it('rebuild refuses without the flag (403) or without confirm=DESTROY (400)', async () => {
    const deps = { db: db().pool, schema: db().schema };
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

  it('rebuild with the flag (new or old name) and confirm=DESTROY drops and recreates', async () => {
    const deps = { db: db().pool, schema: db().schema };
    await bootstrapDeploy(deps, { confirm: 'yes' });
    await createJob(deps.db, deps.schema, jobInput());
    const r = await bootstrapRebuild(deps, {
      confirm: 'DESTROY',
      env: { ALLOW_DESTRUCTIVE_BOOTSTRAP: 'true' },
    });
    expect(r).toMatchObject({ status: 200, body: { status: 'rebuilt', warning: 'ALL DATA WAS DELETED' } });
    expect((await bootstrapTables(deps)).body).toMatchObject({ tables: { dag_jobs: 0 }, total_rows: 0 });
    expect((await bootstrapStatus(deps)).body).toMatchObject({ status: 'ok' });
  });
});
