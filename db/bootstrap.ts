// Schema lifecycle (SPEC §5 /api/bootstrap/*): plain async functions returning {status, body}, ready to
// be wrapped by HTTP triggers. deploy, migrate and rebuild apply the checked-in versioned migrations
// (db/migrations, runMigrations) in one transaction under the schema's advisory lock; each has a dry run.
// On Azure the Function App's database role cannot change the schema (the deployment's migration job
// does): these routes then answer 403 and say so. Locally (dev host, Core Tools) they work as before.
import { withAdvisoryLock } from './advisoryLock';
import { type TableDef } from './defineTable';
import { isDbError } from './errors';
import { generateDdl } from './generateDdl';
import { bootstrapLockKey, planMigration, readCatalog } from './migrate';
import { loadMigrations, renderMigration, type MigrationTarget } from './migrationFiles';
import { query, type Queryable } from './queryable';
import { defaultAppRole, migrationStatus, runMigrations, type RunMigrationsResult } from './runMigrations';
import { sql } from './sql';
import { ALL_TABLES } from './tables';

export interface BootstrapDeps {
  db: Queryable;
  schema: string;
  /** Default: every table of db/tables.ts. */
  tables?: readonly TableDef[];
  /** The STAC catalog schema the migrations create (default `stac`). */
  stacSchema?: string;
  /** The app role the migrations grant to (default `<schema>_app`). */
  appRole?: string;
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

const targetOf = (d: BootstrapDeps): MigrationTarget => ({
  schema: d.schema,
  stacSchema: d.stacSchema ?? 'stac',
  appRole: d.appRole ?? defaultAppRole(d.schema),
});

const NOT_ALLOWED =
  "this app's database role may not change the schema (by design on Azure): the deployment's migration job " +
  'runs `dagmaster db migrate` as the migration identity (docs/deployment.md)';

async function guarded(fn: () => Promise<HttpResult>): Promise<HttpResult> {
  try {
    return await fn();
  } catch (err) {
    const pgCode = (err as { code?: unknown; cause?: { code?: unknown } }).code;
    const causeCode = (err as { cause?: { code?: unknown } }).cause?.code;
    if (pgCode === '42501' || causeCode === '42501')
      return error(403, 'FORBIDDEN', `Bootstrap refused: ${NOT_ALLOWED}. (${(err as Error).message})`);
    const code = isDbError(err) ? err.code : 'DATABASE';
    const status = code === 'VALIDATION' ? 400 : code === 'CONFLICT' ? 409 : 500;
    return error(status, code, `Bootstrap failed: ${(err as Error).message}`);
  }
}

/**
 * Runs the generated DDL of the models in one transaction under the bootstrap lock (no migration history,
 * no grants). For benchmarks and tests of the repositories; deployments use runMigrations.
 */
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

/** GET /bootstrap/status: which migrations the schema has, and whether it matches the models. */
export async function bootstrapStatus(deps: BootstrapDeps): Promise<HttpResult> {
  return guarded(async () => {
    const tables = deps.tables ?? ALL_TABLES;
    const cat = await readCatalog(deps.db, deps.schema);
    const plan = await planMigration(deps.db, deps.schema, tables);
    const mig = await migrationStatus(deps.db, deps.schema);
    const v = await query<{ v: string }>(deps.db, sql`SELECT current_setting('server_version') AS v`);
    const allTables = tables.every((t) => cat.tables.has(t.name));
    const status =
      !cat.schemaExists || !allTables ? 'not_initialized' : mig.pending.length ? 'needs_migration' : 'ok';
    return {
      status: 200,
      body: {
        status,
        schema: deps.schema,
        schema_exists: cat.schemaExists,
        tables: Object.fromEntries(tables.map((t) => [t.name, cat.tables.has(t.name)])),
        enums: Object.fromEntries(cat.enums),
        migration: { current: mig.current, latest: mig.latest, unversioned: mig.unversioned },
        pending_migrations: mig.pending.map((m) => ({ version: m.version, name: m.name })),
        drift: plan.drift,
        missing: plan.steps.map((s) => ({ kind: s.kind, object: s.object })),
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

/** GET /bootstrap/ddl: the models' DDL, and the migrations (rendered for this schema) that deploy runs. */
export async function bootstrapDdl(
  deps: Pick<BootstrapDeps, 'schema' | 'tables' | 'stacSchema' | 'appRole'>,
): Promise<HttpResult> {
  const statements = generateDdl(deps.schema, deps.tables ?? ALL_TABLES);
  const t = targetOf({ db: undefined as never, ...deps });
  return {
    status: 200,
    body: {
      schema: deps.schema,
      statement_count: statements.length,
      source: 'zod models (db/tables.ts)',
      statements,
      migrations: loadMigrations().map((m) => ({
        version: m.version,
        name: m.name,
        sql: renderMigration(m.sql, t),
      })),
    },
  };
}

export interface ConfirmInput {
  confirm?: string | null;
  dryRun?: boolean | string | null;
}

function migrationBody(deps: BootstrapDeps, r: RunMigrationsResult) {
  return {
    schema: deps.schema,
    dry_run: r.dryRun,
    applied: r.applied.length > 0,
    from: r.from,
    to: r.to,
    migrations: (r.dryRun ? r.pending : r.applied).map((m) => ({ version: m.version, name: m.name })),
    summary: r.dryRun
      ? r.pending.length
        ? `${r.pending.length} migration(s) would be applied`
        : 'schema is up to date'
      : r.applied.length
        ? `${r.applied.length} migration(s) applied (now at ${r.to})`
        : 'schema is up to date',
  };
}

/** POST /bootstrap/deploy?confirm=yes | ?dry_run=true: apply the migrations (idempotent), then check the tables. */
export async function bootstrapDeploy(deps: BootstrapDeps, input: ConfirmInput): Promise<HttpResult> {
  const tables = deps.tables ?? ALL_TABLES;
  const dryRun = isTrue(input.dryRun);
  if (!dryRun && input.confirm !== 'yes') {
    return error(400, 'VALIDATION', 'Deploy needs ?confirm=yes (or ?dry_run=true to see the migrations).');
  }
  return guarded(async () => {
    await query(deps.db, sql`SELECT 1`);
    const r = await runMigrations(deps.db, { ...targetOf(deps), dryRun });
    if (dryRun) return { status: 200, body: { success: true, ...migrationBody(deps, r) } };
    const cat = await readCatalog(deps.db, deps.schema);
    const missing = tables.filter((t) => !cat.tables.has(t.name)).map((t) => t.name);
    const ok = missing.length === 0;
    return {
      status: ok ? 200 : 500,
      body: {
        success: ok,
        ...migrationBody(deps, r),
        steps: [
          { step: 'test_connection', ok: true },
          { step: 'migrate', ok: true, detail: { applied: r.applied.map((a) => a.name) } },
          { step: 'verify_tables', ok, detail: { missing } },
        ],
        ...(ok ? {} : { summary: `tables missing after deploy: ${missing.join(', ')}` }),
      },
    };
  });
}

/** POST /bootstrap/migrate?confirm=yes | ?dry_run=true: apply the pending versioned migrations. */
export async function bootstrapMigrate(deps: BootstrapDeps, input: ConfirmInput): Promise<HttpResult> {
  const dryRun = isTrue(input.dryRun);
  if (!dryRun && input.confirm !== 'yes') {
    return error(400, 'VALIDATION', 'Migrate needs ?confirm=yes (or ?dry_run=true to see the plan).');
  }
  return guarded(async () => {
    const r = await runMigrations(deps.db, { ...targetOf(deps), dryRun });
    return { status: 200, body: migrationBody(deps, r) };
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
  const t = targetOf(deps);
  const statements = [
    `DROP SCHEMA IF EXISTS ${sql.ident(deps.schema).text} CASCADE`,
    ...loadMigrations().map((m) => `-- migration ${m.file}`),
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
    // One transaction: the drop and the migrations (runMigrations joins it as a savepoint).
    const r = await withAdvisoryLock(deps.db, bootstrapLockKey(deps.schema), async (tx) => {
      await tx.query(statements[0]!);
      return runMigrations(tx, t);
    });
    return {
      status: 200,
      body: {
        status: 'rebuilt',
        warning: 'ALL DATA WAS DELETED',
        schema: deps.schema,
        migrations_applied: r.applied.length,
      },
    };
  });
}
