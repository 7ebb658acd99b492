// `dagmaster db migrate`: applies the checked-in migrations (db/migrations) that a database has not run
// yet, in one transaction under the schema's advisory lock, and records each in dagmaster_migrations.
// Before committing it compares the result with the models (db/schemaModel.ts): a database that does
// not end up exactly as the code expects is rolled back untouched. Run by the migration identity (the
// only Postgres admin) at deploy time; the apps connect as logins that are members of the app role, to
// which the migrations GRANT data privileges only.
import { z } from 'zod';
import { withAdvisoryLock } from './advisoryLock';
import { parseRow, col, defineTable } from './defineTable';
import { describeDifferences } from './describeSchema';
import { DbError } from './errors';
import { generateDdl } from './generateDdl';
import { bootstrapLockKey } from './migrate';
import { loadMigrations, renderMigration, type Migration, type MigrationTarget } from './migrationFiles';
import { query, type Queryable } from './queryable';
import { compareWithModels, MIGRATIONS_TABLE, SCHEMA_PARTS, type SchemaPart } from './schemaModel';
import { sql, type SqlFragment } from './sql';

export const migrationsTable = defineTable({
  name: MIGRATIONS_TABLE,
  columns: z.object({
    version: col.int(),
    name: col.varchar(200),
    checksum: col.varchar(64),
    applied_at: col.timestamptz(),
    applied_by: col.text(),
    duration_ms: col.int(),
  }),
  primaryKey: ['version'],
  sqlDefaults: { applied_at: 'now()', applied_by: 'current_user' },
});

export interface LoginGrant {
  /** The PostgreSQL role the app logs in as (on Azure: the managed identity's name). */
  name: string;
  /** Create it as a Microsoft Entra principal when missing (Azure Database for PostgreSQL). */
  entraObjectId?: string;
}

export interface RunMigrationsOptions extends MigrationTarget {
  /** Default: loadMigrations() (db/migrations, checksums verified). */
  migrations?: Migration[];
  /** Report what would run; change nothing. */
  dryRun?: boolean;
  /** Logins made members of the app role (created first when entraObjectId is given). */
  grantTo?: LoginGrant[];
  /** Compare the result with the models before committing (default true). */
  verify?: boolean;
  /** The models to verify against (tests). */
  parts?: readonly SchemaPart[];
  log?: (line: string) => void;
}

export interface AppliedMigration {
  version: number;
  name: string;
  durationMs: number;
}

export interface RunMigrationsResult {
  /** Version before and after (0 = nothing recorded). */
  from: number;
  to: number;
  applied: AppliedMigration[];
  /** Pending migrations a dry run would apply. */
  pending: Array<{ version: number; name: string }>;
  dryRun: boolean;
  /** Login roles made members of the app role. */
  granted: string[];
}

/** A migration problem: what, where, and what to do. */
export class MigrationError extends DbError {
  constructor(message: string, details?: Record<string, unknown>, options?: ErrorOptions) {
    super('CONFLICT', message, details, options);
    this.name = 'MigrationError';
  }
}

/** The default app role of a schema: `<schema>_app` (DAG_DB_APP_ROLE overrides it). */
export function defaultAppRole(schema: string): string {
  return `${schema}_app`.slice(0, 63);
}

async function exists(db: Queryable, q: SqlFragment): Promise<boolean> {
  return (await query<{ ok: boolean }>(db, q)).rows[0]?.ok === true;
}

async function appliedRows(db: Queryable, schema: string) {
  const present = await exists(
    db,
    sql`SELECT to_regclass(${`${sql.ident(schema).text}.${sql.ident(MIGRATIONS_TABLE).text}`}) IS NOT NULL AS ok`,
  );
  if (!present) return [];
  const r = await query(db, sql`SELECT * FROM ${sql.table(schema, MIGRATIONS_TABLE)} ORDER BY version`);
  return r.rows.map((row) => parseRow(migrationsTable, row));
}

/**
 * Checks the recorded history against the files: the same checksums for every version both know. Versions
 * the build does not know are a database migrated by a newer release: accepted only when the build has
 * nothing left to apply (a rollback of the code: migrations only add, so the older build works on the
 * newer schema) — they are returned, and nothing is applied or verified. Otherwise refused.
 */
function checkHistory(
  applied: Array<{ version: number; name: string; checksum: string }>,
  migrations: Migration[],
  schema: string,
): number[] {
  const ahead: number[] = [];
  for (const a of applied) {
    const m = migrations.find((x) => x.version === a.version);
    if (!m) {
      ahead.push(a.version);
      continue;
    }
    if (m.checksum !== a.checksum) {
      throw new MigrationError(
        `Migration ${m.file} differs from the one applied to schema "${schema}" (checksum ${a.checksum.slice(0, 12)}…, ` +
          `file ${m.checksum.slice(0, 12)}…). A released migration must never change: restore the file and put the ` +
          'change in a new migration.',
        { version: a.version },
      );
    }
  }
  const done = new Set(applied.map((a) => a.version));
  const first = ahead[0];
  if (first !== undefined && migrations.some((m) => !done.has(m.version) || m.version > first)) {
    const a = applied.find((x) => x.version === first)!;
    throw new MigrationError(
      `Schema "${schema}" has migration ${a.version} (${a.name}) applied, which this build does not have (it knows ` +
        `${migrations.length}), and this build has migrations the database lacks. The database was migrated by a ` +
        'different release: deploy that release (or newer); migrations are never undone.',
      { version: a.version },
    );
  }
  return ahead;
}

/** Which migrations a schema still needs (read-only; for `db status` and the apps' readiness check). */
export async function migrationStatus(
  db: Queryable,
  schema: string,
  migrations: Migration[] = loadMigrations(),
): Promise<{
  current: number;
  latest: number;
  pending: Migration[];
  unversioned: boolean;
  /** The database has migrations of a newer release (this build applies nothing there). */
  ahead: boolean;
}> {
  const applied = await appliedRows(db, schema);
  const ahead = checkHistory(applied, migrations, schema);
  const done = new Set(applied.map((a) => a.version));
  const unversioned =
    applied.length === 0 &&
    (await exists(db, sql`SELECT to_regclass(${`${sql.ident(schema).text}.dag_jobs`}) IS NOT NULL AS ok`));
  return {
    current: applied.reduce((m, a) => Math.max(m, a.version), 0),
    latest: migrations.length,
    pending: migrations.filter((m) => !done.has(m.version)),
    unversioned,
    ahead: ahead.length > 0,
  };
}

async function ensureRole(db: Queryable, role: string, log: (s: string) => void): Promise<void> {
  if (await exists(db, sql`SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = ${role}) AS ok`)) return;
  try {
    await db.query(`CREATE ROLE ${sql.ident(role).text} NOLOGIN`);
    log(`created role ${role} (NOLOGIN: the apps' logins are made members of it)`);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === '42501')
      throw new MigrationError(
        `The app role "${role}" does not exist and ${await currentUser(db)} may not create roles. Run the ` +
          'migration as the Postgres administrator (on Azure: the migration identity), or create the role first.',
        undefined,
        { cause: err },
      );
    throw err;
  }
}

async function currentUser(db: Queryable): Promise<string> {
  return (await query<{ u: string }>(db, sql`SELECT current_user AS u`)).rows[0]!.u;
}

async function grantLogin(db: Queryable, appRole: string, login: LoginGrant, log: (s: string) => void) {
  const has = await exists(
    db,
    sql`SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = ${login.name}) AS ok`,
  );
  if (!has) {
    if (!login.entraObjectId) {
      throw new MigrationError(
        `The login role "${login.name}" does not exist. Create it (CREATE ROLE ... LOGIN), or on Azure pass its ` +
          'Microsoft Entra object id (--grant name:objectId) so that it is created as an Entra principal.',
      );
    }
    // Azure Database for PostgreSQL: maps the role to the managed identity by object id (no directory lookup).
    await query(
      db,
      sql`SELECT * FROM pgaadauth_create_principal_with_oid(${login.name}, ${login.entraObjectId}, 'service', false, false)`,
    );
    log(`created Microsoft Entra login ${login.name} (${login.entraObjectId})`);
  }
  await db.query(`GRANT ${sql.ident(appRole).text} TO ${sql.ident(login.name).text}`);
}

/** Line and text of a position (1-based, as PostgreSQL reports it) in a script. */
function locate(text: string, position: number | undefined): string {
  if (!position) return '';
  const before = text.slice(0, position - 1);
  const line = before.split('\n').length;
  const lineText = text.split('\n')[line - 1]?.trim() ?? '';
  return ` at line ${line}: ${lineText.slice(0, 160)}`;
}

/**
 * Applies the pending migrations in one transaction, under the schema's advisory lock (concurrent runs
 * wait and then find nothing to do). Any failure — a statement, a changed file, a result that differs
 * from the models — rolls everything back: the schema is left exactly as it was.
 */
export async function runMigrations(db: Queryable, o: RunMigrationsOptions): Promise<RunMigrationsResult> {
  const migrations = o.migrations ?? loadMigrations();
  const log = o.log ?? (() => undefined);
  const target: MigrationTarget = { schema: o.schema, stacSchema: o.stacSchema, appRole: o.appRole };
  // Checks the names before anything runs.
  renderMigration('', target);
  if (o.dryRun) {
    const st = await migrationStatus(db, o.schema, migrations);
    return {
      from: st.current,
      to: st.current,
      applied: [],
      pending: st.pending.map((m) => ({ version: m.version, name: m.name })),
      dryRun: true,
      granted: [],
    };
  }
  // Nothing to do and nothing to grant: answer without taking locks or needing any privilege beyond
  // reading the history (so the apps themselves may ask).
  if (!o.grantTo?.length) {
    const st = await migrationStatus(db, o.schema, migrations);
    if (st.current > 0 && st.pending.length === 0)
      return { from: st.current, to: st.current, applied: [], pending: [], dryRun: false, granted: [] };
  }
  return withAdvisoryLock(db, bootstrapLockKey(o.schema), async (tx) => {
    // Index builds on big tables may take longer than the pool's statement timeout.
    await tx.query("SELECT set_config('statement_timeout', '0', true)");
    // A STAC schema may be shared by several deployments: serialise on it too (always after the
    // product schema's lock, so two runs cannot wait for each other).
    if (o.stacSchema !== o.schema)
      await query(
        tx,
        sql`SELECT pg_advisory_xact_lock(hashtextextended(${bootstrapLockKey(o.stacSchema)}, 0))`,
      );
    await ensureRole(tx, o.appRole, log);
    if (
      !(await exists(tx, sql`SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = ${o.schema}) AS ok`))
    )
      await tx.query(`CREATE SCHEMA ${sql.ident(o.schema).text}`);
    for (const s of generateDdl(o.schema, [migrationsTable]).slice(1)) await tx.query(s);
    const applied = await appliedRows(tx, o.schema);
    const ahead = checkHistory(applied, migrations, o.schema);
    if (ahead.length)
      log(
        `schema ${o.schema} has migration ${Math.max(...ahead)} of a newer release (this build knows ` +
          `${migrations.length}): nothing to apply; the newer schema is not checked against this build's models`,
      );
    const done = new Set(applied.map((a) => a.version));
    const from = applied.reduce((m, a) => Math.max(m, a.version), 0);
    const result: AppliedMigration[] = [];
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      const text = renderMigration(m.sql, target);
      const t0 = Date.now();
      try {
        await tx.query(text);
      } catch (err) {
        const e = err as { message: string; position?: string };
        throw new MigrationError(
          `Migration ${m.file} failed${locate(text, Number(e.position) || undefined)}: ${e.message}. Nothing was applied.`,
          { version: m.version },
          { cause: err },
        );
      }
      const durationMs = Date.now() - t0;
      await query(
        tx,
        sql`INSERT INTO ${sql.table(o.schema, MIGRATIONS_TABLE)} (version, name, checksum, duration_ms)
            VALUES (${m.version}, ${m.name}, ${m.checksum}, ${durationMs})`,
      );
      result.push({ version: m.version, name: m.name, durationMs });
      log(`applied ${m.file} (${durationMs} ms)`);
    }
    // The apps read the history (their readiness check); they never write it.
    await tx.query(
      `GRANT SELECT ON ${sql.table(o.schema, MIGRATIONS_TABLE).text} TO ${sql.ident(o.appRole).text}`,
    );
    const granted: string[] = [];
    for (const login of o.grantTo ?? []) {
      await grantLogin(tx, o.appRole, login, log);
      granted.push(login.name);
    }
    if (o.verify !== false && !ahead.length) {
      const diffs = await compareWithModels(tx, target, o.parts ?? SCHEMA_PARTS);
      if (diffs.length) {
        throw new MigrationError(
          `After the migrations, schema "${o.schema}" does not match the models of this build; nothing was applied.\n` +
            `${describeDifferences(diffs)}\n` +
            'A database changed by hand, or one from a release older than the versioned migrations: bring it to that ' +
            "release's schema first (POST /api/bootstrap/migrate of that release), or restore it.",
          { differences: diffs.length },
        );
      }
    }
    return {
      from,
      to: Math.max(from, ...result.map((r) => r.version)),
      applied: result,
      pending: [],
      dryRun: false,
      granted,
    };
  });
}
