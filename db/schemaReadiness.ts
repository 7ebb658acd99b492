// Whether a database is migrated far enough for this build. The apps never change the schema (their
// role cannot): at startup and in their readiness probes they compare the newest migration recorded in
// dagmaster_migrations with the newest one they ship, and refuse work while the database is behind
// (`dagmaster db migrate` has not run yet). A database ahead of the build is fine: migrations only
// add, so the previous release keeps working after an upgrade (that is what makes a rollback safe).
import { DbError } from './errors';
import { defaultMigrationsDir, loadMigrations } from './migrationFiles';
import { query, type Queryable } from './queryable';
import { MIGRATIONS_TABLE } from './schemaModel';
import { sql } from './sql';

export interface SchemaReadiness {
  ok: boolean;
  /** Newest migration recorded in the database (0: none). */
  current: number;
  /** Newest migration this build ships. */
  required: number;
  /** Why not ready, and what to do. */
  message?: string;
}

const latest = new Map<string, number>();

/** The newest migration version shipped in dir (read once per directory). */
export function requiredSchemaVersion(dir: string = defaultMigrationsDir()): number {
  let v = latest.get(dir);
  if (v === undefined) {
    v = loadMigrations(dir).length;
    latest.set(dir, v);
  }
  return v;
}

export async function checkSchemaReadiness(
  db: Queryable,
  schema: string,
  required: number = requiredSchemaVersion(),
): Promise<SchemaReadiness> {
  const table = `${sql.ident(schema).text}.${sql.ident(MIGRATIONS_TABLE).text}`;
  const r = await query<{ has_table: boolean; has_jobs: boolean }>(
    db,
    sql`SELECT to_regclass(${table}) IS NOT NULL AS has_table,
               to_regclass(${`${sql.ident(schema).text}.dag_jobs`}) IS NOT NULL AS has_jobs`,
  );
  const { has_table, has_jobs } = r.rows[0]!;
  let current = 0;
  if (has_table) {
    try {
      const v = await query<{ v: number }>(
        db,
        sql`SELECT coalesce(max(version), 0)::int AS v FROM ${sql.table(schema, MIGRATIONS_TABLE)}`,
      );
      current = v.rows[0]!.v;
    } catch (err) {
      if (
        (err as { code?: string }).code === '42501' ||
        (err instanceof DbError && /permission/i.test(err.message))
      )
        return {
          ok: false,
          current: 0,
          required,
          message: `this login may not read ${schema}.${MIGRATIONS_TABLE}: run \`dagmaster db migrate --grant <login>\` so that it is a member of the app role`,
        };
      throw err;
    }
  }
  if (current >= required) return { ok: true, current, required };
  const what = has_table
    ? `is at migration ${current}`
    : has_jobs
      ? 'was deployed by a release before versioned migrations'
      : 'has no tables yet';
  return {
    ok: false,
    current,
    required,
    message: `schema "${schema}" ${what}; this build needs migration ${required}: run \`dagmaster db migrate\` (on Azure the deployment's migration job does)`,
  };
}
