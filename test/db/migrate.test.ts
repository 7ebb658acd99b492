import pg from 'pg';
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import {
  ALL_TABLES,
  col,
  createJob,
  defineTable,
  deploySchema,
  extendTable,
  generateDdl,
  getJob,
  jobsTable,
  migrate,
  nodeStatesTable,
  transitionNode,
  planMigration,
  renderDdl,
  setJobStatus,
  type TableDef,
} from '../../db';
import { TEST_DATABASE_URL, useTestSchema } from '../support/pg';
import { jobInput } from './helpers';

// The diff engine (the generator's) changes the schema: these tests run as the administrator.
const schemaOfTest = useTestSchema('mig');
const db = () => ({ ...schemaOfTest(), pool: schemaOfTest().adminPool });

const withTable = (t: TableDef): TableDef[] => ALL_TABLES.map((x) => (x.name === t.name ? t : x));

describe('generated DDL', () => {
  it('covers keys, foreign keys, partial / descending / GIN indexes, checks and the updated_at trigger', () => {
    const ddl = renderDdl('dagapp');
    expect(ddl).toContain('CREATE TABLE IF NOT EXISTS "dagapp"."dag_jobs"');
    expect(ddl).toContain('CONSTRAINT "dag_node_states_pkey" PRIMARY KEY ("job_id", "node_id")');
    expect(ddl).toMatch(
      /FOREIGN KEY \("job_id"\) REFERENCES "dagapp"."dag_jobs" \("job_id"\) ON DELETE CASCADE/,
    );
    expect(ddl).toContain(
      'CREATE UNIQUE INDEX IF NOT EXISTS "dag_jobs_idempotency_key_uq" ON "dagapp"."dag_jobs" ("idempotency_key") WHERE idempotency_key IS NOT NULL',
    );
    expect(ddl).toContain(
      '"dag_checkpoints_latest_idx" ON "dagapp"."dag_checkpoints" ("job_id", "node_id", "created_at" DESC)',
    );
    expect(ddl).toContain('ON "dagapp"."dag_jobs" USING gin ("metadata")');
    expect(ddl).toContain('"error_message" varchar(2000)');
    expect(ddl).toContain('"status" "dagapp"."job_status" NOT NULL DEFAULT \'pending\'');
    expect(ddl).toContain('"event_id" bigserial');
    expect(ddl).toContain('BEFORE UPDATE ON "dagapp"."dag_jobs"');
    expect(ddl).not.toMatch(/search_path/i);
  });

  it('is schema-qualified and idempotent: deploys twice into a schema that is not on the search_path', async () => {
    const { schema } = db();
    // A plain connection (search_path = public): every statement must name the schema itself.
    const pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 2 });
    try {
      await deploySchema(pool, schema);
      await deploySchema(pool, schema);
      const plan = await planMigration(pool, schema);
      expect(plan).toMatchObject({ steps: [], drift: [], blocked: [] });
      const leaked = await pool.query(
        `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relname LIKE 'dag\\_%'`,
      );
      expect(leaked.rows[0].n).toBe(0);
    } finally {
      await pool.end();
    }
  });

  it('works with an awkward schema name (quotes, spaces, dollar signs)', async () => {
    const { pool, schema } = db();
    const odd = `${schema}"x $ddl$ y`;
    try {
      await deploySchema(pool, odd);
      await deploySchema(pool, odd);
      const r = await createJob(pool, odd, jobInput());
      expect(r.created).toBe(true);
      expect((await planMigration(pool, odd)).steps).toEqual([]);
    } finally {
      await pool.query(`DROP SCHEMA IF EXISTS "${odd.replace(/"/g, '""')}" CASCADE`);
    }
  });

  it('keeps updated_at current through the trigger', async () => {
    const { pool, schema } = db();
    await deploySchema(pool, schema);
    const { job } = await createJob(pool, schema, jobInput());
    await new Promise((r) => setTimeout(r, 20));
    // A write that does not mention updated_at (as a hand-written fix would) still moves it.
    await pool.query(`UPDATE "${schema}".dag_jobs SET metadata = '{"fixed": true}' WHERE job_id = $1`, [
      job.job_id,
    ]);
    const j = await getJob(pool, schema, job.job_id);
    expect(j!.updated_at.getTime()).toBeGreaterThan(job.updated_at.getTime());
  });
});

describe('migrate', () => {
  it('on an empty database creates everything; a second run has nothing to do', async () => {
    const { pool, schema } = db();
    await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
    const dry = await migrate(pool, schema, { dryRun: true });
    expect(dry.applied).toBe(false);
    expect(dry.steps[0]).toMatchObject({ kind: 'create_schema' });
    expect(dry.steps.filter((s) => s.kind === 'create_table').map((s) => s.object)).toEqual(
      ALL_TABLES.map((t) => t.name),
    );
    const exists = await pool.query('SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = $1', [
      schema,
    ]);
    expect(exists.rows[0].n).toBe(0); // the dry run changed nothing
    const r = await migrate(pool, schema);
    expect(r.applied).toBe(true);
    expect((await migrate(pool, schema)).steps).toEqual([]);
  });

  it('adding a field to a model and migrating a populated table adds the column and keeps every row', async () => {
    const { pool, schema } = db();
    await deploySchema(pool, schema);
    const ids: string[] = [];
    for (let i = 0; i < 50; i++)
      ids.push((await createJob(pool, schema, jobInput({ inputParams: { i } }))).job.job_id);
    await setJobStatus(pool, schema, { jobId: ids[0]!, from: ['pending'], to: 'running' });
    const before = await pool.query(`SELECT * FROM "${schema}".dag_jobs ORDER BY job_id`);

    const evolved = extendTable(jobsTable, {
      columns: {
        priority: col.int().default(5),
        owner_note: col.varchar(200).nullable(),
        labels: col.jsonObject().default({}),
      },
      indexes: [{ name: 'dag_jobs_priority_idx', columns: ['priority', 'created_at'], descending: true }],
    });
    const tables = withTable(evolved);
    const dry = await migrate(pool, schema, { dryRun: true, tables });
    expect(dry.steps.map((s) => `${s.kind} ${s.object}`)).toEqual([
      'add_column dag_jobs.priority',
      'add_column dag_jobs.owner_note',
      'add_column dag_jobs.labels',
      'create_index dag_jobs_priority_idx',
    ]);
    const r = await migrate(pool, schema, { tables });
    expect(r.applied).toBe(true);

    const after = await pool.query(`SELECT * FROM "${schema}".dag_jobs ORDER BY job_id`);
    expect(after.rows).toHaveLength(50);
    after.rows.forEach((row, i) => {
      const { priority, owner_note, labels, ...rest } = row;
      expect(rest).toEqual(before.rows[i]);
      expect([priority, owner_note, labels]).toEqual([5, null, {}]);
    });
    expect((await migrate(pool, schema, { tables })).steps).toEqual([]);
    // The original model now sees an extra column: reported as drift, never dropped.
    const back = await planMigration(pool, schema);
    expect(back.steps).toEqual([]);
    expect(back.drift.map((d) => d.object)).toEqual([
      'dag_jobs.priority',
      'dag_jobs.owner_note',
      'dag_jobs.labels',
    ]);
  });

  it('adds a new enum value with ALTER TYPE ... ADD VALUE and it is usable afterwards', async () => {
    const { pool, schema } = db();
    await deploySchema(pool, schema);
    const evolved = defineTable({
      name: 'dag_jobs',
      columns: jobsTable.columns.extend({
        status: col
          .enum('job_status', ['pending', 'queued', 'running', 'completed', 'failed', 'cancelled', 'paused'])
          .default('pending'),
      }),
      primaryKey: ['job_id'],
    });
    const plan = await planMigration(pool, schema, [evolved]);
    expect(plan.steps.filter((s) => s.kind === 'add_enum_value').map((s) => s.object)).toEqual([
      "job_status.'queued'",
      "job_status.'paused'",
    ]);
    await migrate(pool, schema, { tables: [evolved] });
    const labels = await pool.query(
      `SELECT e.enumlabel FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid JOIN pg_namespace n ON n.oid = t.typnamespace
       WHERE n.nspname = $1 AND t.typname = 'job_status' ORDER BY e.enumsortorder`,
      [schema],
    );
    expect(labels.rows.map((r) => r.enumlabel)).toEqual([
      'pending',
      'queued',
      'running',
      'completed',
      'failed',
      'cancelled',
      'paused',
    ]);
  });

  it('blocks a NOT NULL column without a default on a populated table, and applies nothing', async () => {
    const { pool, schema } = db();
    await deploySchema(pool, schema);
    await createJob(pool, schema, jobInput());
    const evolved = extendTable(jobsTable, {
      columns: { tenant: col.varchar(32), note: col.varchar(10).nullable() },
    });
    const r = await migrate(pool, schema, { tables: withTable(evolved) });
    expect(r.applied).toBe(false);
    expect(r.blocked.map((b) => b.object)).toEqual(['dag_jobs.tenant']);
    const cols = await pool.query(
      `SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'dag_jobs' AND column_name IN ('tenant', 'note')`,
      [schema],
    );
    expect(cols.rows).toHaveLength(0);
  });

  it('widens a varchar, relaxes NOT NULL, and reports what it will not change', async () => {
    const { pool, schema } = db();
    await deploySchema(pool, schema);
    const evolved = extendTable(jobsTable, {
      columns: {
        submitted_by: col.varchar(256).nullable(),
        workflow_id: col.varchar(64).nullable(),
        correlation_id: col.int().nullable(),
      },
    });
    const plan = await planMigration(pool, schema, withTable(evolved));
    expect(plan.steps.map((s) => `${s.kind} ${s.object}`)).toEqual([
      'drop_not_null dag_jobs.workflow_id',
      'widen_column dag_jobs.submitted_by',
    ]);
    expect(plan.drift.map((d) => d.object)).toEqual(['dag_jobs.correlation_id']);
    await migrate(pool, schema, { tables: withTable(evolved) });
    await createJob(pool, schema, jobInput({ submittedBy: 'x'.repeat(60) }));
    const t = await pool.query(
      `SELECT character_maximum_length AS n FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'dag_jobs' AND column_name = 'submitted_by'`,
      [schema],
    );
    expect(t.rows[0].n).toBe(256);
  });

  it('prepared hot-path statements keep working on the same connection after a column is added', async () => {
    const { schema } = db();
    const pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 1 });
    try {
      await deploySchema(pool, schema);
      const { job } = await createJob(
        pool,
        schema,
        jobInput({
          nodes: Array.from({ length: 8 }, (_, i) => ({ nodeId: `n${i}`, nodeType: 'task' as const })),
        }),
      );
      // Six runs: PostgreSQL switches a prepared statement to its generic plan after five.
      for (let i = 0; i < 6; i++) {
        expect(
          (
            await transitionNode(pool, schema, {
              jobId: job.job_id,
              nodeId: `n${i}`,
              from: ['pending'],
              to: 'ready',
            })
          ).kind,
        ).toBe('applied');
      }
      const evolved = extendTable(nodeStatesTable, { columns: { shard: col.int().nullable() } });
      expect((await migrate(pool, schema, { tables: withTable(evolved) })).applied).toBe(true);
      expect(
        (
          await transitionNode(pool, schema, {
            jobId: job.job_id,
            nodeId: 'n6',
            from: ['pending'],
            to: 'ready',
          })
        ).kind,
      ).toBe('applied');
    } finally {
      await pool.end();
    }
  });

  it('recreates a dropped index and a dropped trigger', async () => {
    const { pool, schema } = db();
    await deploySchema(pool, schema);
    await pool.query(`DROP INDEX "${schema}".dag_jobs_created_idx`);
    await pool.query(`DROP TRIGGER dag_jobs_set_updated_at ON "${schema}".dag_jobs`);
    const r = await migrate(pool, schema);
    expect(r.steps.map((s) => s.kind)).toEqual(['create_index', 'create_trigger']);
    expect((await planMigration(pool, schema)).steps).toEqual([]);
  });

  it('rejects a model the DDL generator cannot map', () => {
    expect(() =>
      defineTable({
        name: 'bad',
        columns: z.object({ id: col.int(), tags: z.set(z.string()) }),
        primaryKey: ['id'],
      }),
    ).toThrow(/no SQL mapping/);
    expect(() => generateDdl('s', [])).not.toThrow();
  });
});
