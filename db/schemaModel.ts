// What the migrations must produce: the tables of db/tables.ts in the product's schema and the STAC
// catalog tables (db/stacCatalog.ts) in the STAC schema, each with the apps' role granted exactly the
// data privileges it needs. compareWithModels() builds that from the models in scratch schemas (inside a
// savepoint that is always rolled back) and compares it with a live database, object by object.
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { type TableDef } from './defineTable';
import { describeDifferences, describeSchema, diffSnapshots, type SchemaDifference } from './describeSchema';
import { generateDdl, grantDdl } from './generateDdl';
import { type MigrationTarget } from './migrationFiles';
import { type Queryable, withTransaction } from './queryable';
import { sql } from './sql';
import { STAC_TABLES } from './stacCatalog';
import { ALL_TABLES } from './tables';

/** The table of applied migrations, in the product's schema (never part of a comparison). */
export const MIGRATIONS_TABLE = 'dagmaster_migrations';

export interface SchemaPart {
  /** Which target schema holds these tables. */
  key: 'schema' | 'stacSchema';
  tables: readonly TableDef[];
}

/** Every table the apps use, by schema. Another schema's tables go here too (and then into a migration). */
export const SCHEMA_PARTS: readonly SchemaPart[] = [
  { key: 'schema', tables: ALL_TABLES },
  { key: 'stacSchema', tables: STAC_TABLES },
];

/** The tables of each schema of a target (one entry when the STAC schema is the product's schema). */
export function tablesBySchema(
  t: MigrationTarget,
  parts: readonly SchemaPart[] = SCHEMA_PARTS,
): Map<string, TableDef[]> {
  const m = new Map<string, TableDef[]>();
  for (const p of parts) m.set(t[p.key], [...(m.get(t[p.key]) ?? []), ...p.tables]);
  return m;
}

/** The models' DDL and grants for a target (the reference a database is compared with). */
export function modelDdl(t: MigrationTarget, parts: readonly SchemaPart[] = SCHEMA_PARTS): string[] {
  const role = sql.ident(t.appRole).text;
  return [...tablesBySchema(t, parts)].flatMap(([schema, tables]) => [
    ...generateDdl(schema, tables),
    ...grantDdl(schema, tables, role),
  ]);
}

/** Runs fn inside a savepoint (or a transaction) that is always rolled back: it leaves nothing behind. */
export async function rolledBack<T>(
  db: Queryable,
  fn: (tx: pg.PoolClient | pg.Client) => Promise<T>,
): Promise<T> {
  const sentinel = Symbol('rollback');
  let result: T | undefined;
  try {
    await withTransaction(db, async (tx) => {
      result = await fn(tx);
      throw sentinel;
    });
  } catch (err) {
    if (err !== sentinel) throw err;
  }
  return result as T;
}

export function scratchName(prefix: string): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

/**
 * Compares the target's schemas with what the models describe. Builds the reference in scratch schemas
 * (needs the right to create schemas: the migration identity has it), rolled back afterwards.
 */
export async function compareWithModels(
  db: Queryable,
  t: MigrationTarget,
  parts: readonly SchemaPart[] = SCHEMA_PARTS,
): Promise<SchemaDifference[]> {
  return rolledBack(db, async (tx) => {
    const role = sql.ident(t.appRole).text;
    const opts = { appRole: t.appRole, ignoreTables: [MIGRATIONS_TABLE] };
    const out: SchemaDifference[] = [];
    for (const [schema, tables] of tablesBySchema(t, parts)) {
      const ref = scratchName('dmref');
      for (const s of [...generateDdl(ref, tables), ...grantDdl(ref, tables, role)]) await tx.query(s);
      const live = await describeSchema(tx, schema, opts);
      const want = await describeSchema(tx, ref, opts);
      for (const d of diffSnapshots(live, want)) out.push({ ...d, object: `${schema}: ${d.object}` });
    }
    return out;
  });
}

export { describeDifferences };
