// Schema lifecycle (SPEC §5 /api/bootstrap/*): plain async functions returning {status, body}, ready to
// be wrapped by HTTP triggers. deploy/migrate/rebuild run in one transaction under an advisory lock, so
// two of them never interleave; each has a dry run that lists what it would execute.
import { withAdvisoryLock } from './advisoryLock';
import { type TableDef } from './defineTable';
import { isDbError } from './errors';
import { generateDdl } from './generateDdl';
import { bootstrapLockKey, migrate, planMigration, readCatalog } from './migrate';
import { query, type Queryable } from './queryable';
import { sql } from './sql';
import { ALL_TABLES } from './tables';

export interface BootstrapDeps {
  db: Queryable;
  schema: string;
  /** Default: every table of db/tables.ts. */
  tables?: readonly TableDef[];
}

export interface HttpResult<B = unknown> {
  status: number;
  body: B;
}

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

const error = (status: number, code: string, message: string, details?: unknown): HttpResult<ErrorBody> => ({
  status,
  body: { error: { code, message, ...(details !== undefined ? { details } : {}) } },
});

/** Query-string style flags: true, "true", "1", "yes". */
export function isTrue(v: unknown): boolean {
  return v === true || (typeof v === 'string' && ['true', '1', 'yes'].includes(v.trim().toLowerCase()));
}

async function guarded(fn: () => Promise<HttpResult>): Promise<HttpResult> {
  try {
    return await fn();
  } catch (err) {
    const code = isDbError(err) ? err.code : 'DATABASE';
    return error(code === 'VALIDATION' ? 400 : 500, code, `Bootstrap failed: ${(err as Error).message}`);
  }
}

/** Runs the generated DDL in one transaction under the bootstrap lock. Returns the statements run. */
export async function deploySchema(
  db: Queryable,
  schema: string,
  tables: readonly TableDef[] = ALL_TABLES,
): Promise<string[]> {
  const statements = generateDdl(schema, tables);
  await withAdvisoryLock(db, bootstrapLockKey(schema), async (tx) => {
    for (const s of statements) await tx.query(s);
  });
  return statements;
}

/** GET /bootstrap/status: whether the schema exists and matches the models. */
export async function bootstrapStatus(deps: BootstrapDeps): Promise<HttpResult> {
  return guarded(async () => {
    const tables = deps.tables ?? ALL_TABLES;
    const cat = await readCatalog(deps.db, deps.schema);
    const plan = await planMigration(deps.db, deps.schema, tables);
    const v = await query<{ v: string }>(deps.db, sql`SELECT current_setting('server_version') AS v`);
    const allTables = tables.every((t) => cat.tables.has(t.name));
    const status =
      !cat.schemaExists || !allTables
        ? 'not_initialized'
        : plan.blocked.length
          ? 'blocked'
          : plan.steps.length
            ? 'needs_migration'
            : 'ok';
    return {
      status: 200,
      body: {
        status,
        schema: deps.schema,
        schema_exists: cat.schemaExists,
        tables: Object.fromEntries(tables.map((t) => [t.name, cat.tables.has(t.name)])),
        enums: Object.fromEntries(cat.enums),
        pending_migrations: plan.steps.map((s) => ({ kind: s.kind, object: s.object })),
        drift: plan.drift,
        blocked: plan.blocked,
        server_version: v.rows[0]?.v ?? null,
      },
    };
  });
}

/** GET /bootstrap/tables: exact row counts per table (null for a missing table) and the total. */
export async function bootstrapTables(deps: BootstrapDeps): Promise<HttpResult> {
  return guarded(async () => {
    const tables = deps.tables ?? ALL_TABLES;
    const cat = await readCatalog(deps.db, deps.schema);
    const present = tables.filter((t) => cat.tables.has(t.name));
    const counts: Record<string, number | null> = Object.fromEntries(tables.map((t) => [t.name, null]));
    if (present.length) {
      const r = await query<{ name: string; n: number }>(
        deps.db,
        sql.join(
          present.map(
            (t) =>
              sql`SELECT ${t.name}::text AS name, count(*)::int AS n FROM ${sql.table(deps.schema, t.name)}`,
          ),
          ' UNION ALL ',
        ),
      );
      for (const row of r.rows) counts[row.name] = row.n;
    }
    const total = Object.values(counts).reduce<number>((a, n) => a + (n ?? 0), 0);
    return { status: 200, body: { schema: deps.schema, tables: counts, total_rows: total } };
  });
}

/** GET /bootstrap/ddl: the statements deploy would run. */
export async function bootstrapDdl(deps: Pick<BootstrapDeps, 'schema' | 'tables'>): Promise<HttpResult> {
  const statements = generateDdl(deps.schema, deps.tables ?? ALL_TABLES);
  return {
    status: 200,
    body: {
      schema: deps.schema,
      statement_count: statements.length,
      source: 'zod models (db/tables.ts)',
      statements,
    },
  };
}

export interface ConfirmInput {
  confirm?: string | null;
  dryRun?: boolean | string | null;
}

/** POST /bootstrap/deploy?confirm=yes | ?dry_run=true: create whatever is missing (idempotent). */
export async function bootstrapDeploy(deps: BootstrapDeps, input: ConfirmInput): Promise<HttpResult> {
  const tables = deps.tables ?? ALL_TABLES;
  if (isTrue(input.dryRun)) {
    const statements = generateDdl(deps.schema, tables);
    return {
      status: 200,
      body: {
        success: true,
        dry_run: true,
        schema: deps.schema,
        statement_count: statements.length,
        statements,
      },
    };
  }
  if (input.confirm !== 'yes') {
    return error(400, 'VALIDATION', 'Deploy needs ?confirm=yes (or ?dry_run=true to see the statements).');
  }
  const steps: Array<{ step: string; ok: boolean; detail?: unknown }> = [];
  try {
    await query(deps.db, sql`SELECT 1`);
    steps.push({ step: 'test_connection', ok: true });
    const statements = await deploySchema(deps.db, deps.schema, tables);
    steps.push({ step: 'deploy_schema', ok: true, detail: { statements: statements.length } });
    const cat = await readCatalog(deps.db, deps.schema);
    const missing = tables.filter((t) => !cat.tables.has(t.name)).map((t) => t.name);
    steps.push({ step: 'verify_tables', ok: missing.length === 0, detail: { missing } });
    const plan = await planMigration(deps.db, deps.schema, tables);
    const ok = missing.length === 0;
    return {
      status: ok ? 200 : 500,
      body: {
        success: ok,
        schema: deps.schema,
        steps,
        summary: ok
          ? `schema ${deps.schema} deployed (${tables.length} tables)` +
            (plan.steps.length
              ? `; ${plan.steps.length} migration step(s) pending: run bootstrap migrate`
              : '')
          : `tables missing after deploy: ${missing.join(', ')}`,
        pending_migrations: plan.steps.map((s) => ({ kind: s.kind, object: s.object })),
      },
    };
  } catch (err) {
    steps.push({
      step: steps.length === 0 ? 'test_connection' : 'deploy_schema',
      ok: false,
      detail: (err as Error).message,
    });
    return {
      status: 500,
      body: {
        success: false,
        schema: deps.schema,
        steps,
        summary: `deploy failed: ${(err as Error).message}`,
      },
    };
  }
}

/** POST /bootstrap/migrate?confirm=yes | ?dry_run=true: add what the models have and the database lacks. */
export async function bootstrapMigrate(deps: BootstrapDeps, input: ConfirmInput): Promise<HttpResult> {
  const tables = deps.tables ?? ALL_TABLES;
  const dryRun = isTrue(input.dryRun);
  if (!dryRun && input.confirm !== 'yes') {
    return error(400, 'VALIDATION', 'Migrate needs ?confirm=yes (or ?dry_run=true to see the plan).');
  }
  return guarded(async () => {
    const r = await migrate(deps.db, deps.schema, { dryRun, tables });
    const body = {
      schema: deps.schema,
      dry_run: dryRun,
      applied: r.applied,
      steps: r.steps,
      drift: r.drift,
      blocked: r.blocked,
      summary: r.blocked.length
        ? `${r.blocked.length} step(s) blocked; nothing applied`
        : r.steps.length === 0
          ? 'schema is up to date'
          : dryRun
            ? `${r.steps.length} step(s) would be applied`
            : `${r.steps.length} step(s) applied`,
    };
    if (r.blocked.length)
      return {
        status: 409,
        body: { ...body, error: { code: 'CONFLICT', message: body.summary, details: r.blocked } },
      };
    return { status: 200, body };
  });
}

export interface RebuildInput extends ConfirmInput {
  /** Environment holding DAG_ENABLE_DESTRUCTIVE_BOOTSTRAP (or the older ALLOW_DESTRUCTIVE_BOOTSTRAP). */
  env: Record<string, string | undefined>;
}

export function destructiveBootstrapEnabled(env: Record<string, string | undefined>): boolean {
  return isTrue(env.DAG_ENABLE_DESTRUCTIVE_BOOTSTRAP) || isTrue(env.ALLOW_DESTRUCTIVE_BOOTSTRAP);
}

/**
 * POST /bootstrap/rebuild?confirm=DESTROY: DROP SCHEMA ... CASCADE and deploy again. 403 unless
 * DAG_ENABLE_DESTRUCTIVE_BOOTSTRAP=true (or ALLOW_DESTRUCTIVE_BOOTSTRAP=true); 400 unless
 * confirm=DESTROY (a dry run, with the flag set, only lists the statements).
 */
export async function bootstrapRebuild(deps: BootstrapDeps, input: RebuildInput): Promise<HttpResult> {
  if (!destructiveBootstrapEnabled(input.env)) {
    return error(
      403,
      'FORBIDDEN',
      'Rebuild is disabled: it deletes all data. Set DAG_ENABLE_DESTRUCTIVE_BOOTSTRAP=true on the app to allow it.',
    );
  }
  const tables = deps.tables ?? ALL_TABLES;
  const statements = [
    `DROP SCHEMA IF EXISTS ${sql.ident(deps.schema).text} CASCADE`,
    ...generateDdl(deps.schema, tables),
  ];
  if (isTrue(input.dryRun)) {
    return {
      status: 200,
      body: { dry_run: true, schema: deps.schema, warning: 'would DELETE ALL DATA', statements },
    };
  }
  if (input.confirm !== 'DESTROY') {
    return error(
      400,
      'VALIDATION',
      'Rebuild deletes all data: confirm with ?confirm=DESTROY (or ?dry_run=true to see the statements).',
    );
  }
  return guarded(async () => {
    await withAdvisoryLock(deps.db, bootstrapLockKey(deps.schema), async (tx) => {
      for (const s of statements) await tx.query(s);
    });
    return {
      status: 200,
      body: {
        status: 'rebuilt',
        warning: 'ALL DATA WAS DELETED',
        schema: deps.schema,
        statements_executed: statements.length,
      },
    };
  });
}
