// The versioned migrations (db/migrations) and `dagmaster db migrate` (runMigrations): sealed and
// immutable files, exactly the schema the models describe (drift check), a fresh deploy, an upgrade of
// the previous release's schema, a re-run that does nothing, concurrent runs that serialise, failures
// that leave the schema as it was, the generator, and an app login that can use the data but not
// change the schema.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import {
  ALL_TABLES,
  CHECKSUMS_FILE,
  checkMigrationsMatchModels,
  checkSchemaReadiness,
  checksumOf,
  col,
  compareWithModels,
  createJob,
  defaultMigrationsDir,
  describeSchema,
  extendTable,
  generateMigration,
  getJob,
  jobsTable,
  loadMigrations,
  migrationStatus,
  newMigrationFile,
  renderMigration,
  runMigrations,
  SCHEMA_PARTS,
  sealNewestMigration,
  MigrationError,
  type Migration,
  type SchemaPart,
} from '../../db';
import { defineTable } from '../../db/defineTable';
import { z } from 'zod';
import { loginUrl, useTestSchema, type TestSchema } from '../support/pg';
import { jobInput } from './helpers';

const db = useTestSchema('mg');
const ROOT = path.join(__dirname, '..', '..');
const PREVIOUS_RELEASE = readFileSync(
  path.join(__dirname, '..', 'fixtures', 'db', 'release-0.1.0-schema.sql'),
  'utf8',
);

const target = (t: TestSchema) => ({ schema: t.schema, stacSchema: t.stacSchema, appRole: t.appRole });
const run = (t: TestSchema, extra: Partial<Parameters<typeof runMigrations>[1]> = {}) =>
  runMigrations(t.adminPool, { ...target(t), grantTo: [{ name: t.login }], ...extra });

async function snapshot(t: TestSchema) {
  const opts = { appRole: t.appRole };
  const [main, stac] = await Promise.all([
    describeSchema(t.adminPool, t.schema, opts),
    describeSchema(t.adminPool, t.stacSchema, opts),
  ]);
  const history = await t.adminPool
    .query(`SELECT version, name, checksum FROM "${t.schema}".dagmaster_migrations ORDER BY version`)
    .then(
      (r) => r.rows,
      () => null,
    );
  return { main, stac, history };
}

/** A copy of the checked-in migrations in a temporary directory, for generator tests. */
function copyMigrations(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dag-mig-'));
  cpSync(defaultMigrationsDir(), dir, { recursive: true });
  return dir;
}

const evolvedParts = (): SchemaPart[] => {
  const jobs = extendTable(jobsTable, {
    columns: { priority: col.int().default(5), owner_note: col.varchar(200).nullable() },
    indexes: [{ name: 'dag_jobs_priority_idx', columns: ['priority', 'created_at'] }],
  });
  const platforms = defineTable({
    name: 'dag_platforms',
    columns: z.object({ platform_id: col.varchar(64), created_at: col.timestamptz(), seq: col.bigserial() }),
    primaryKey: ['platform_id'],
    sqlDefaults: { created_at: 'now()' },
  });
  return [
    { key: 'schema', tables: [...ALL_TABLES.map((t) => (t.name === 'dag_jobs' ? jobs : t)), platforms] },
    SCHEMA_PARTS[1]!,
  ];
};

describe('checked-in migrations', () => {
  it('are numbered without gaps, sealed by checksums.json, and every sealed checksum is unchanged since it was first committed', () => {
    const migrations = loadMigrations();
    expect(migrations.map((m) => m.version)).toEqual(migrations.map((_, i) => i + 1));
    expect(migrations[0]).toMatchObject({ version: 1, name: 'initial' });
    // The history of checksums.json: an entry, once committed, never changes and never disappears.
    const file = 'db/migrations/checksums.json';
    const current = JSON.parse(readFileSync(path.join(ROOT, file), 'utf8')) as Record<string, string>;
    let commits: string[] = [];
    try {
      commits = execFileSync('git', ['log', '--format=%H', '--', file], { cwd: ROOT, encoding: 'utf8' })
        .split('\n')
        .filter(Boolean);
    } catch (err) {
      throw new Error(`git is needed to check the migrations' history: ${(err as Error).message}`);
    }
    for (const c of commits) {
      const old = JSON.parse(
        execFileSync('git', ['show', `${c}:${file}`], { cwd: ROOT, encoding: 'utf8' }),
      ) as Record<string, string>;
      for (const [f, sum] of Object.entries(old)) {
        expect(current[f], `${f}: its checksum in commit ${c.slice(0, 10)} must never change`).toBe(sum);
      }
    }
  });

  it('a changed, unsealed or missing migration file is refused with a message naming it', () => {
    const dir = copyMigrations();
    try {
      const f = path.join(dir, '0001_initial.sql');
      writeFileSync(f, readFileSync(f, 'utf8') + '\n-- edited\n');
      expect(() => loadMigrations(dir)).toThrow(/0001_initial\.sql was changed after it was generated/);
      writeFileSync(path.join(dir, '0002_extra.sql'), 'SELECT 1;');
      rmSync(f);
      expect(() => loadMigrations(dir)).toThrow(/expected migration number 0001/);
      cpSync(path.join(defaultMigrationsDir(), '0001_initial.sql'), f);
      expect(() => loadMigrations(dir)).toThrow(/0002_extra\.sql has no checksum/);
      rmSync(path.join(dir, '0002_extra.sql'));
      rmSync(f);
      writeFileSync(path.join(dir, '0001_other.sql'), 'SELECT 1;');
      expect(() => loadMigrations(dir)).toThrow(/0001_other\.sql has no checksum/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('build exactly the schema the models describe (drift check), and the check fails when a model changes without a migration', async () => {
    const { adminPool } = db();
    expect(await checkMigrationsMatchModels(adminPool, loadMigrations())).toEqual([]);
    const drift = await checkMigrationsMatchModels(adminPool, loadMigrations(), evolvedParts());
    const objects = drift.map((d) => d.object.replace(/^[^:]+: /, ''));
    expect(objects).toEqual(
      expect.arrayContaining([
        'columns dag_jobs.priority',
        'columns dag_jobs.owner_note',
        'indexes dag_jobs_priority_idx',
        'columns dag_platforms.platform_id',
        'grants relation dag_platforms',
      ]),
    );
    expect(drift.find((d) => d.object.endsWith('columns dag_jobs.priority'))).toMatchObject({
      actual: 'missing',
      expected: '"integer NOT NULL DEFAULT 5"',
    });
  });
});

describe('dagmaster db migrate (runMigrations)', () => {
  it('fresh deploy: creates both schemas, records every migration, and the result matches the models', async () => {
    const t = db();
    await t.adminPool.query(`DROP SCHEMA "${t.schema}"`);
    const r = await run(t);
    const all = loadMigrations();
    expect(r).toMatchObject({ from: 0, to: all.length, granted: [t.login] });
    expect(r.applied.map((a) => a.version)).toEqual(all.map((m) => m.version));
    const s = await snapshot(t);
    expect(s.history).toEqual(all.map((m) => ({ version: m.version, name: m.name, checksum: m.checksum })));
    expect(Object.keys(s.stac.columns)).toContain('stac_items.datetime');
    expect(await compareWithModels(t.adminPool, target(t))).toEqual([]);
    expect(await migrationStatus(t.pool, t.schema)).toMatchObject({ current: all.length, pending: [] });
  });

  it('the app login can read and write the data but cannot change the schema', async () => {
    const t = db();
    await run(t);
    const r = await createJob(t.pool, t.schema, jobInput());
    expect((await getJob(t.pool, t.schema, r.job.job_id))?.status).toBe('pending');
    const who = await t.pool.query(
      'SELECT current_user AS u, rolsuper FROM pg_roles WHERE rolname = current_user',
    );
    expect(who.rows[0]).toEqual({ u: t.login, rolsuper: false });
    for (const ddl of [
      `CREATE TABLE "${t.schema}".x (i int)`,
      `ALTER TABLE "${t.schema}".dag_jobs ADD COLUMN x int`,
      `DROP TABLE "${t.schema}".dag_checkpoints`,
      `TRUNCATE "${t.schema}".dag_jobs`,
      `CREATE SCHEMA "${t.schema}_x"`,
      `INSERT INTO "${t.schema}".dagmaster_migrations (version, name, checksum, duration_ms) VALUES (99, 'x', 'x', 0)`,
    ]) {
      await expect(t.pool.query(ddl), ddl).rejects.toThrow(/permission denied|must be owner/);
    }
  });

  it("upgrades a database created by the previous release's deploySchema: data kept, history recorded", async () => {
    const t = db();
    await t.adminPool.query(renderMigration(PREVIOUS_RELEASE, target(t)));
    // Data written by the previous release (its own columns only).
    await t.adminPool.query(
      `INSERT INTO "${t.schema}".dag_jobs (job_id, workflow_id, workflow_version, workflow_snapshot, status)
       VALUES ('old-job', 'wf', 1, '{"workflow_id": "wf"}', 'completed')`,
    );
    await t.adminPool.query(
      `INSERT INTO "${t.schema}".dag_node_states (job_id, node_id, node_type, status) VALUES ('old-job', 'start', 'start', 'completed')`,
    );
    expect(await migrationStatus(t.adminPool, t.schema)).toMatchObject({ current: 0, unversioned: true });
    const r = await run(t);
    expect(r.from).toBe(0);
    expect(r.applied.length).toBe(loadMigrations().length);
    expect(await compareWithModels(t.adminPool, target(t))).toEqual([]);
    const job = await getJob(t.pool, t.schema, 'old-job');
    expect(job).toMatchObject({ job_id: 'old-job', status: 'completed', run_count: 1, version: 1 });
    // The upgraded database serves the current code as the app login.
    expect((await createJob(t.pool, t.schema, jobInput())).created).toBe(true);
  });

  it('a re-run applies nothing and changes nothing', async () => {
    const t = db();
    await run(t);
    const before = await snapshot(t);
    const again = await run(t);
    expect(again).toMatchObject({ applied: [], from: loadMigrations().length, to: loadMigrations().length });
    expect(await snapshot(t)).toEqual(before);
    const dry = await run(t, { dryRun: true });
    expect(dry).toMatchObject({ dryRun: true, pending: [] });
  });

  it('concurrent runs serialise on the advisory lock: one applies everything, the others wait and find nothing to do', async () => {
    const t = db();
    const migrations: Migration[] = [
      ...loadMigrations(),
      // A slow extra migration keeps the first run inside its transaction while the others start.
      slowMigration(loadMigrations().length + 1),
    ];
    const pools = [0, 1, 2].map(() => new pg.Pool({ connectionString: t.adminUrl, max: 2 }));
    const watcher = new pg.Pool({ connectionString: t.adminUrl, max: 1 });
    try {
      let sawWaiter = false;
      const runs = Promise.all(
        pools.map((p) =>
          runMigrations(p, { ...target(t), migrations, verify: false, grantTo: [{ name: t.login }] }),
        ),
      );
      let done = false;
      void runs.finally(() => (done = true));
      while (!done) {
        const w = await watcher.query(
          "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
        );
        if (w.rows[0].n >= 1) sawWaiter = true;
        await new Promise((r) => setTimeout(r, 20));
      }
      const results = await runs;
      expect(sawWaiter).toBe(true);
      const counts = results.map((r) => r.applied.length).sort();
      expect(counts).toEqual([0, 0, migrations.length]);
      const rows = await t.adminPool.query(
        `SELECT count(*)::int AS n FROM "${t.schema}".dagmaster_migrations`,
      );
      expect(rows.rows[0].n).toBe(migrations.length);
    } finally {
      await Promise.all([...pools, watcher].map((p) => p.end()));
    }
  });

  it('a failing migration leaves the schema exactly as it was, and says which file and line failed', async () => {
    const t = db();
    await run(t);
    await createJob(t.pool, t.schema, jobInput());
    const before = await snapshot(t);
    const n = loadMigrations().length;
    const migrations: Migration[] = [
      ...loadMigrations(),
      fakeMigration(
        n + 1,
        'add_col',
        'ALTER TABLE ${schema}."dag_jobs" ADD COLUMN extra int;\nCREATE TABLE ${schema}.t2 (i int);',
      ),
      fakeMigration(
        n + 2,
        'broken',
        '-- a comment\nALTER TABLE ${schema}."dag_jobs" ADD COLUMN extra2 int;\nSELECT * FROM ${schema}.nope;',
      ),
    ];
    const err = await run(t, { migrations, verify: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MigrationError);
    expect((err as Error).message).toMatch(
      new RegExp(
        `Migration ${String(n + 2).padStart(4, '0')}_broken\\.sql failed at line 3: SELECT \\* FROM .*nope.*Nothing was applied`,
      ),
    );
    expect(await snapshot(t)).toEqual(before);
  });

  it('a result that differs from the models is rolled back too (the verification step)', async () => {
    const t = db();
    await run(t);
    const before = await snapshot(t);
    const n = loadMigrations().length;
    const migrations = [
      ...loadMigrations(),
      fakeMigration(n + 1, 'stray', 'ALTER TABLE ${schema}."dag_jobs" ADD COLUMN stray text;'),
    ];
    await expect(run(t, { migrations })).rejects.toThrow(
      /does not match the models[\s\S]*columns dag_jobs\.stray: database has "text"; the models say missing/,
    );
    expect(await snapshot(t)).toEqual(before);
  });

  it('refuses a database whose applied migration differs from the file; accepts one a newer release migrated (a rollback), applying nothing', async () => {
    const t = db();
    await run(t);
    const [first, ...rest] = loadMigrations();
    const changed = { ...first!, sql: first!.sql + '\n-- x', checksum: checksumOf(first!.sql + '\n-- x') };
    await expect(run(t, { migrations: [changed, ...rest] })).rejects.toThrow(
      /Migration 0001_initial\.sql differs from the one applied/,
    );
    // A newer release added migration 999 and a column; this (older) build is deployed again.
    await t.adminPool.query(`ALTER TABLE "${t.schema}".dag_jobs ADD COLUMN from_the_future text`);
    await t.adminPool.query(
      `INSERT INTO "${t.schema}".dagmaster_migrations (version, name, checksum, duration_ms) VALUES (999, 'future', 'x', 0)`,
    );
    const before = await snapshot(t);
    const logs: string[] = [];
    const again = await run(t, { grantTo: [{ name: t.login }], log: (l) => logs.push(l) });
    expect(again).toMatchObject({ from: 999, to: 999, applied: [] });
    expect(logs.join('\n')).toMatch(/migration 999 of a newer release .*nothing to apply/);
    expect(await snapshot(t)).toEqual(before);
    expect(await migrationStatus(t.adminPool, t.schema)).toMatchObject({
      current: 999,
      pending: [],
      ahead: true,
    });
    // The apps of the older build are ready on it (the readiness check accepts a database ahead).
    expect(await checkSchemaReadiness(t.pool, t.schema)).toMatchObject({ ok: true, current: 999 });
    // But a history this build cannot follow (a newer migration while one of its own is missing) is refused.
    await t.adminPool.query(`DELETE FROM "${t.schema}".dagmaster_migrations WHERE version = 1`);
    await expect(run(t)).rejects.toThrow(
      /has migration 999 \(future\) applied, which this build does not have \(it knows \d+\), and this build has migrations the database lacks/,
    );
  });

  it('a login that does not exist is refused, unless an Entra object id says how to create it', async () => {
    const t = db();
    await expect(run(t, { grantTo: [{ name: `${t.schema}_nobody` }] })).rejects.toThrow(
      /login role "[a-z0-9_]+_nobody" does not exist/,
    );
    // Nothing was applied by the refused run.
    expect((await snapshot(t)).history).toBeNull();
    // Outside Azure the Entra function does not exist: the error is PostgreSQL's, and again nothing is applied.
    await expect(
      run(t, {
        grantTo: [{ name: `${t.schema}_mi`, entraObjectId: '00000000-0000-0000-0000-000000000001' }],
      }),
    ).rejects.toThrow(/pgaadauth_create_principal_with_oid/);
    expect((await snapshot(t)).history).toBeNull();
  });
});

describe('dagmaster db generate-migration', () => {
  it('writes the next numbered migration for a new column, index and table (with its grants), and it reproduces the models', async () => {
    const t = db();
    const dir = copyMigrations();
    try {
      const parts = evolvedParts();
      const r = await generateMigration(t.adminPool, { name: 'Add job priority', dir, parts });
      expect(r.kind).toBe('written');
      if (r.kind !== 'written') return;
      const n = loadMigrations().length + 1;
      expect(r.file).toBe(`${String(n).padStart(4, '0')}_add_job_priority.sql`);
      expect(r.sql).toContain(
        'ALTER TABLE ${schema}."dag_jobs" ADD COLUMN IF NOT EXISTS "priority" integer NOT NULL DEFAULT 5',
      );
      expect(r.sql).toContain('CREATE TABLE IF NOT EXISTS ${schema}."dag_platforms"');
      expect(r.sql).toContain(
        'GRANT SELECT, INSERT, UPDATE, DELETE ON ${schema}."dag_platforms" TO ${app_role}',
      );
      expect(r.sql).toContain(
        'GRANT USAGE, SELECT ON SEQUENCE ${schema}."dag_platforms_seq_seq" TO ${app_role}',
      );
      expect(r.sql).not.toMatch(/dmgen_/);
      const all = loadMigrations(dir);
      expect(all.map((m) => m.file).at(-1)).toBe(r.file);
      expect(JSON.parse(readFileSync(path.join(dir, CHECKSUMS_FILE), 'utf8'))[r.file]).toBe(
        checksumOf(r.sql),
      );
      expect(await checkMigrationsMatchModels(t.adminPool, all, parts)).toEqual([]);
      // A database at the previous version with rows upgrades to it, and the models have nothing more to add.
      await run(t);
      await createJob(t.pool, t.schema, jobInput());
      const up = await run(t, { migrations: all, parts });
      expect(up.applied.map((a) => a.version)).toEqual([n]);
      const prio = await t.pool.query(`SELECT priority FROM "${t.schema}".dag_jobs`);
      expect(prio.rows).toEqual([{ priority: 5 }]);
      await t.pool.query(`INSERT INTO "${t.schema}".dag_platforms (platform_id) VALUES ('p1')`);
      expect(await generateMigration(t.adminPool, { name: 'again', dir, parts })).toEqual({
        kind: 'up_to_date',
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says there is nothing to do when the migrations match the models, and refuses what it cannot express', async () => {
    const t = db();
    const dir = copyMigrations();
    try {
      expect(await generateMigration(t.adminPool, { name: 'noop', dir })).toEqual({ kind: 'up_to_date' });
      const bad: SchemaPart[] = [
        {
          key: 'schema',
          tables: ALL_TABLES.map((x) =>
            x.name === 'dag_jobs' ? extendTable(jobsTable, { columns: { tenant: col.varchar(8) } }) : x,
          ),
        },
        SCHEMA_PARTS[1]!,
      ];
      await expect(generateMigration(t.adminPool, { name: 'tenant', dir, parts: bad })).rejects.toThrow(
        /dag_jobs\.tenant: NOT NULL without a default[\s\S]*dagmaster db new-migration/,
      );
      const narrowed: SchemaPart[] = [
        {
          key: 'schema',
          tables: ALL_TABLES.map((x) =>
            x.name === 'dag_jobs'
              ? extendTable(jobsTable, { columns: { correlation_id: col.int().nullable() } })
              : x,
          ),
        },
        SCHEMA_PARTS[1]!,
      ];
      await expect(generateMigration(t.adminPool, { name: 'retype', dir, parts: narrowed })).rejects.toThrow(
        /dag_jobs\.correlation_id: type is character varying\(64\); the model says integer/,
      );
      expect(loadMigrations(dir).length).toBe(loadMigrations().length);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('new-migration + seal: a hand-written migration joins the sequence', async () => {
    const t = db();
    const dir = copyMigrations();
    try {
      const { file } = newMigrationFile('Backfill owner', dir);
      expect(file).toMatch(/^\d{4}_backfill_owner\.sql$/);
      writeFileSync(path.join(dir, file), `${readFileSync(path.join(dir, file), 'utf8')}SELECT 1;\n`);
      expect(() => loadMigrations(dir)).toThrow(/has no checksum/);
      expect(sealNewestMigration(dir).file).toBe(file);
      const all = loadMigrations(dir);
      expect(all.at(-1)?.file).toBe(file);
      const r = await run(t, { migrations: all });
      expect(r.applied.at(-1)?.name).toBe('backfill_owner');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

function fakeMigration(version: number, name: string, text: string): Migration {
  return {
    version,
    name,
    file: `${String(version).padStart(4, '0')}_${name}.sql`,
    sql: text,
    checksum: checksumOf(text),
  };
}

function slowMigration(version: number): Migration {
  return fakeMigration(version, 'slow', 'SELECT pg_sleep(0.6);');
}

// Guards the helper used above: the login URL is a different role than the administrator's.
it('test logins are separate roles', () => {
  expect(loginUrl('someone', 'pw')).toMatch(/^postgres:\/\/someone:pw@/);
  expect(existsSync(defaultMigrationsDir())).toBe(true);
});
