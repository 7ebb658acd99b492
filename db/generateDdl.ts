// DDL generated from the table models (db/tables.ts). Every statement is idempotent (IF NOT EXISTS or
// an existence check), schema-qualified and safe to run again: deploying twice changes nothing.
import { type ColumnInfo, type EnumDef, type IndexDef, type TableDef } from './defineTable';
import { sql } from './sql';
import { ALL_TABLES } from './tables';

export const UPDATED_AT_FUNCTION = 'dag_set_updated_at';

const q = (...parts: string[]) => sql.ident(...parts).text;
const lit = (v: string) => sql.literal(v).text;

/** A DO block whose dollar-quote tag does not occur in the body (so any schema name is safe). */
export function doBlock(body: string): string {
  let tag = '$ddl$';
  for (let i = 1; body.includes(tag); i++) tag = `$ddl${i}$`;
  return `DO ${tag} BEGIN ${body} END ${tag}`;
}

export function enumTypeName(schema: string, typeName: string): string {
  return q(schema, typeName);
}

export function columnType(schema: string, c: ColumnInfo): string {
  return c.enum ? enumTypeName(schema, c.enum.typeName) : c.sqlType;
}

export function columnDefinition(schema: string, c: ColumnInfo): string {
  let s = `${q(c.name)} ${columnType(schema, c)}`;
  if (c.serial) return s;
  if (!c.nullable) s += ' NOT NULL';
  if (c.default !== undefined) s += ` DEFAULT ${c.default}`;
  return s;
}

export function createEnumDdl(schema: string, e: EnumDef): string {
  return doBlock(
    `CREATE TYPE ${enumTypeName(schema, e.typeName)} AS ENUM (${e.values.map(lit).join(', ')}); ` +
      'EXCEPTION WHEN duplicate_object THEN NULL;',
  );
}

export function createTableDdl(schema: string, t: TableDef): string {
  const lines = t.columnInfo.map((c) => `  ${columnDefinition(schema, c)}`);
  lines.push(`  CONSTRAINT ${q(`${t.name}_pkey`)} PRIMARY KEY (${t.primaryKey.map((c) => q(c)).join(', ')})`);
  for (const fk of t.foreignKeys) lines.push(`  ${foreignKeyClause(schema, fk)}`);
  for (const ck of t.checks) lines.push(`  CONSTRAINT ${q(ck.name)} CHECK (${ck.expr})`);
  return `CREATE TABLE IF NOT EXISTS ${q(schema, t.name)} (\n${lines.join(',\n')}\n)`;
}

export function foreignKeyClause(schema: string, fk: TableDef['foreignKeys'][number]): string {
  return (
    `CONSTRAINT ${q(fk.name)} FOREIGN KEY (${fk.columns.map((c) => q(c)).join(', ')}) ` +
    `REFERENCES ${q(schema, fk.references.table)} (${fk.references.columns.map((c) => q(c)).join(', ')}) ` +
    `ON DELETE ${fk.onDelete ?? 'CASCADE'}`
  );
}

export function createIndexDdl(schema: string, t: TableDef, ix: IndexDef): string {
  const cols = ix.columns.map((c) => {
    const name = typeof c === 'string' ? c : c.name;
    const desc = typeof c === 'string' ? ix.descending : (c.descending ?? ix.descending);
    return `${q(name)}${desc ? ' DESC' : ''}`;
  });
  return (
    `CREATE ${ix.unique ? 'UNIQUE ' : ''}INDEX IF NOT EXISTS ${q(ix.name)} ON ${q(schema, t.name)}` +
    `${ix.using && ix.using !== 'btree' ? ` USING ${ix.using}` : ''} (${cols.join(', ')})` +
    `${ix.where ? ` WHERE ${ix.where}` : ''}`
  );
}

export function addColumnDdl(schema: string, t: TableDef, c: ColumnInfo): string {
  return `ALTER TABLE ${q(schema, t.name)} ADD COLUMN IF NOT EXISTS ${columnDefinition(schema, c)}`;
}

export function updatedAtFunctionDdl(schema: string): string {
  return (
    `CREATE OR REPLACE FUNCTION ${q(schema, UPDATED_AT_FUNCTION)}() RETURNS trigger LANGUAGE plpgsql AS ` +
    '$fn$ BEGIN NEW.updated_at := now(); RETURN NEW; END $fn$'
  );
}

export function triggerName(t: TableDef): string {
  return `${t.name}_set_updated_at`;
}

export function createTriggerDdl(schema: string, t: TableDef): string {
  // CREATE OR REPLACE TRIGGER needs PostgreSQL 14; the existence check works on 12+.
  return doBlock(
    `IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = ${lit(triggerName(t))} ` +
      `AND tgrelid = to_regclass(${lit(q(schema, t.name))})) THEN ` +
      `CREATE TRIGGER ${q(triggerName(t))} BEFORE UPDATE ON ${q(schema, t.name)} ` +
      // Fires only for writes that left updated_at alone: the repositories set it themselves, so their
      // hot-path updates skip the plpgsql call.
      `FOR EACH ROW WHEN (OLD.updated_at IS NOT DISTINCT FROM NEW.updated_at) ` +
      `EXECUTE FUNCTION ${q(schema, UPDATED_AT_FUNCTION)}(); END IF;`,
  );
}

export function allEnums(tables: readonly TableDef[]): EnumDef[] {
  const out: EnumDef[] = [];
  for (const t of tables)
    for (const e of t.enums) if (!out.some((o) => o.typeName === e.typeName)) out.push(e);
  return out;
}

/**
 * The privileges of the apps' role on a schema's tables: USAGE on the schema, SELECT/INSERT/UPDATE/DELETE
 * on each table (SELECT/INSERT on an append-only one) and USAGE/SELECT on its serial sequences. Nothing else: no DDL, no TRUNCATE, no
 * ownership. `role` is SQL text: a quoted identifier, or the ${app_role} placeholder of a migration.
 */
export function grantDdl(
  schema: string,
  tables: readonly TableDef[],
  role: string,
  opts: { schemaUsage?: boolean } = {},
): string[] {
  const out = opts.schemaUsage === false ? [] : [`GRANT USAGE ON SCHEMA ${q(schema)} TO ${role}`];
  for (const t of tables) {
    const privileges = t.appendOnly ? 'SELECT, INSERT' : 'SELECT, INSERT, UPDATE, DELETE';
    out.push(`GRANT ${privileges} ON ${q(schema, t.name)} TO ${role}`);
    for (const c of t.columnInfo) {
      if (c.serial)
        out.push(`GRANT USAGE, SELECT ON SEQUENCE ${q(schema, `${t.name}_${c.name}_seq`)} TO ${role}`);
    }
  }
  return out;
}

/** The statements that create the whole schema, in order. */
export function generateDdl(schema: string, tables: readonly TableDef[] = ALL_TABLES): string[] {
  const out: string[] = [`CREATE SCHEMA IF NOT EXISTS ${q(schema)}`];
  for (const e of allEnums(tables)) out.push(createEnumDdl(schema, e));
  for (const t of tables) out.push(createTableDdl(schema, t));
  for (const t of tables) for (const ix of t.indexes) out.push(createIndexDdl(schema, t, ix));
  if (tables.some((t) => t.updatedAtTrigger)) {
    out.push(updatedAtFunctionDdl(schema));
    for (const t of tables) if (t.updatedAtTrigger) out.push(createTriggerDdl(schema, t));
  }
  return out;
}

/** The DDL as one SQL script (for `dagmaster schema --ddl`). */
export function renderDdl(schema: string, tables: readonly TableDef[] = ALL_TABLES): string {
  const header =
    `-- rmhdagmaster schema ${JSON.stringify(schema)}: generated from the zod models in db/tables.ts.\n` +
    '-- Idempotent: safe to run again. Columns added to the models later are applied by bootstrap migrate.\n';
  return `${header}\n${generateDdl(schema, tables).join(';\n\n')};\n`;
}
