// Migration by diff: compare the models (db/tables.ts) with the live catalog and add what is missing:
// schema, enum types and values, tables, columns, constraints, indexes, the updated_at trigger. Nothing
// is ever dropped; differences that cannot be applied safely are reported as drift (or as blocked, when
// a missing column cannot be added to a table that has rows).
import { type ColumnInfo, type TableDef } from './defineTable';
import {
  addColumnDdl,
  allEnums,
  columnType,
  createEnumDdl,
  createIndexDdl,
  createTableDdl,
  createTriggerDdl,
  foreignKeyClause,
  triggerName,
  UPDATED_AT_FUNCTION,
  updatedAtFunctionDdl,
} from './generateDdl';
import { withAdvisoryLock } from './advisoryLock';
import { query, type Queryable } from './queryable';
import { sql } from './sql';
import { ALL_TABLES } from './tables';

export type MigrationStepKind =
  | 'create_schema'
  | 'create_enum'
  | 'add_enum_value'
  | 'create_table'
  | 'add_column'
  | 'widen_column'
  | 'drop_not_null'
  | 'set_default'
  | 'add_constraint'
  | 'create_index'
  | 'create_function'
  | 'create_trigger';

export interface MigrationStep {
  kind: MigrationStepKind;
  /** e.g. `dag_jobs.priority`, `job_status.'paused'`, `dag_jobs_status_idx`. */
  object: string;
  sql: string;
}

export interface MigrationIssue {
  object: string;
  message: string;
}

export interface MigrationPlan {
  schema: string;
  steps: MigrationStep[];
  /** Differences that migrate does not change (it never drops or narrows anything). */
  drift: MigrationIssue[];
  /** Steps that cannot run (e.g. a NOT NULL column without a default on a table with rows). */
  blocked: MigrationIssue[];
}

interface CatalogColumn {
  table: string;
  column: string;
  not_null: boolean;
  type: string;
  typname: string;
  type_schema: string;
  typtype: string;
  default: string | null;
}

export interface Catalog {
  schemaExists: boolean;
  tables: Set<string>;
  columns: Map<string, Map<string, CatalogColumn>>;
  indexes: Map<string, { table: string; definition: string }>;
  constraints: Map<string, Set<string>>; // table → constraint names
  enums: Map<string, string[]>;
  triggers: Map<string, Set<string>>; // table → trigger names
  functions: Set<string>;
}

/** Reads what exists in the schema, in one round trip. */
export async function readCatalog(db: Queryable, schema: string): Promise<Catalog> {
  const r = await query<{ c: Record<string, unknown> }>(
    db,
    sql`SELECT jsonb_build_object(
      'schema_exists', EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = ${schema}),
      'tables', (SELECT coalesce(jsonb_agg(c.relname), '[]') FROM pg_class c
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = ${schema} AND c.relkind IN ('r', 'p')),
      'columns', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                    'table', c.relname, 'column', a.attname, 'not_null', a.attnotnull,
                    'type', format_type(a.atttypid, a.atttypmod), 'typname', t.typname,
                    'type_schema', tn.nspname, 'typtype', t.typtype,
                    'default', pg_get_expr(d.adbin, d.adrelid))), '[]')
                  FROM pg_attribute a
                  JOIN pg_class c ON c.oid = a.attrelid
                  JOIN pg_namespace n ON n.oid = c.relnamespace
                  JOIN pg_type t ON t.oid = a.atttypid
                  JOIN pg_namespace tn ON tn.oid = t.typnamespace
                  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                  WHERE n.nspname = ${schema} AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped),
      'indexes', (SELECT coalesce(jsonb_agg(jsonb_build_object('index', ic.relname, 'table', tc.relname,
                    'definition', pg_get_indexdef(i.indexrelid))), '[]')
                  FROM pg_index i
                  JOIN pg_class ic ON ic.oid = i.indexrelid
                  JOIN pg_class tc ON tc.oid = i.indrelid
                  JOIN pg_namespace n ON n.oid = ic.relnamespace
                  WHERE n.nspname = ${schema}),
      'constraints', (SELECT coalesce(jsonb_agg(jsonb_build_object('table', tc.relname, 'name', co.conname)), '[]')
                  FROM pg_constraint co
                  JOIN pg_class tc ON tc.oid = co.conrelid
                  JOIN pg_namespace n ON n.oid = tc.relnamespace
                  WHERE n.nspname = ${schema}),
      'enums', (SELECT coalesce(jsonb_object_agg(typname, labels), '{}') FROM (
                  SELECT t.typname, jsonb_agg(e.enumlabel ORDER BY e.enumsortorder) AS labels
                  FROM pg_type t
                  JOIN pg_namespace n ON n.oid = t.typnamespace
                  JOIN pg_enum e ON e.enumtypid = t.oid
                  WHERE n.nspname = ${schema}
                  GROUP BY t.typname) x),
      'triggers', (SELECT coalesce(jsonb_agg(jsonb_build_object('table', c.relname, 'name', tg.tgname)), '[]')
                  FROM pg_trigger tg
                  JOIN pg_class c ON c.oid = tg.tgrelid
                  JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE n.nspname = ${schema} AND NOT tg.tgisinternal),
      'functions', (SELECT coalesce(jsonb_agg(p.proname), '[]') FROM pg_proc p
                  JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = ${schema})
    ) AS c`,
  );
  const c = r.rows[0]!.c as {
    schema_exists: boolean;
    tables: string[];
    columns: CatalogColumn[];
    indexes: Array<{ index: string; table: string; definition: string }>;
    constraints: Array<{ table: string; name: string }>;
    enums: Record<string, string[]>;
    triggers: Array<{ table: string; name: string }>;
    functions: string[];
  };
  const columns = new Map<string, Map<string, CatalogColumn>>();
  for (const col of c.columns) {
    let m = columns.get(col.table);
    if (!m) columns.set(col.table, (m = new Map()));
    m.set(col.column, col);
  }
  const group = (rows: Array<{ table: string; name: string }>) => {
    const m = new Map<string, Set<string>>();
    for (const x of rows) {
      let s = m.get(x.table);
      if (!s) m.set(x.table, (s = new Set()));
      s.add(x.name);
    }
    return m;
  };
  return {
    schemaExists: c.schema_exists,
    tables: new Set(c.tables),
    columns,
    indexes: new Map(c.indexes.map((i) => [i.index, { table: i.table, definition: i.definition }])),
    constraints: group(c.constraints),
    enums: new Map(Object.entries(c.enums)),
    triggers: group(c.triggers),
    functions: new Set(c.functions),
  };
}

const CATALOG_TYPE: Record<string, string> = {
  integer: 'integer',
  bigint: 'bigint',
  bigserial: 'bigint',
  'double precision': 'double precision',
  boolean: 'boolean',
  timestamptz: 'timestamp with time zone',
  uuid: 'uuid',
  jsonb: 'jsonb',
  text: 'text',
};

function expectedCatalogType(c: ColumnInfo): string {
  const m = /^varchar\((\d+)\)$/.exec(c.sqlType);
  if (m) return `character varying(${m[1]})`;
  return CATALOG_TYPE[c.sqlType] ?? c.sqlType;
}

function varcharLength(type: string): number | undefined {
  const m = /^character varying\((\d+)\)$/.exec(type);
  return m ? Number(m[1]) : undefined;
}

/** Computes the steps that bring the live schema up to the models. Reads only. */
export async function planMigration(
  db: Queryable,
  schema: string,
  tables: readonly TableDef[] = ALL_TABLES,
): Promise<MigrationPlan> {
  const cat = await readCatalog(db, schema);
  const steps: MigrationStep[] = [];
  const drift: MigrationIssue[] = [];
  const blocked: MigrationIssue[] = [];
  const q = (...p: string[]) => sql.ident(...p).text;

  if (!cat.schemaExists) {
    steps.push({ kind: 'create_schema', object: schema, sql: `CREATE SCHEMA IF NOT EXISTS ${q(schema)}` });
  }
  for (const e of allEnums(tables)) {
    const live = cat.enums.get(e.typeName);
    if (!live) {
      steps.push({ kind: 'create_enum', object: e.typeName, sql: createEnumDdl(schema, e) });
      continue;
    }
    let prev: string | undefined;
    for (const v of e.values) {
      if (!live.includes(v)) {
        steps.push({
          kind: 'add_enum_value',
          object: `${e.typeName}.'${v}'`,
          sql:
            `ALTER TYPE ${q(schema, e.typeName)} ADD VALUE IF NOT EXISTS ${sql.literal(v).text}` +
            (prev !== undefined ? ` AFTER ${sql.literal(prev).text}` : ''),
        });
      }
      prev = v;
    }
    for (const v of live) {
      if (!e.values.includes(v))
        drift.push({ object: `${e.typeName}.'${v}'`, message: 'enum value not in the model (kept)' });
    }
  }

  for (const t of tables) {
    if (!cat.tables.has(t.name)) {
      steps.push({ kind: 'create_table', object: t.name, sql: createTableDdl(schema, t) });
      continue;
    }
    const liveCols = cat.columns.get(t.name) ?? new Map<string, CatalogColumn>();
    let hasRows: boolean | undefined;
    for (const c of t.columnInfo) {
      const live = liveCols.get(c.name);
      const obj = `${t.name}.${c.name}`;
      if (!live) {
        if (!c.nullable && c.default === undefined && !c.serial) {
          hasRows ??=
            (await query(db, sql`SELECT 1 FROM ${sql.table(schema, t.name)} LIMIT 1`)).rowCount! > 0;
          if (hasRows) {
            blocked.push({
              object: obj,
              message:
                `column ${obj} is NOT NULL without a default and ${t.name} has rows: give it a default ` +
                '(zod .default(v) or sqlDefaults) or make it .nullable() in the model',
            });
            continue;
          }
        }
        steps.push({ kind: 'add_column', object: obj, sql: addColumnDdl(schema, t, c) });
        continue;
      }
      // Type.
      if (c.enum) {
        if (live.typtype !== 'e' || live.typname !== c.enum.typeName || live.type_schema !== schema) {
          drift.push({
            object: obj,
            message: `type is ${live.type}; the model says ${columnType(schema, c)}`,
          });
        }
      } else {
        const want = expectedCatalogType(c);
        if (live.type !== want) {
          const have = varcharLength(live.type);
          const need = varcharLength(want);
          if (have !== undefined && (need === undefined ? want === 'text' : need > have)) {
            steps.push({
              kind: 'widen_column',
              object: obj,
              sql: `ALTER TABLE ${q(schema, t.name)} ALTER COLUMN ${q(c.name)} TYPE ${c.sqlType}`,
            });
          } else {
            drift.push({
              object: obj,
              message: `type is ${live.type}; the model says ${want} (not changed)`,
            });
          }
        }
      }
      // Nullability: relaxing is safe; tightening could fail on existing rows, so it is only reported.
      if (c.nullable && live.not_null && !t.primaryKey.includes(c.name)) {
        steps.push({
          kind: 'drop_not_null',
          object: obj,
          sql: `ALTER TABLE ${q(schema, t.name)} ALTER COLUMN ${q(c.name)} DROP NOT NULL`,
        });
      } else if (!c.nullable && !live.not_null) {
        drift.push({ object: obj, message: 'nullable in the database; NOT NULL in the model (not changed)' });
      }
      if (c.default !== undefined && !c.serial && live.default === null) {
        steps.push({
          kind: 'set_default',
          object: obj,
          sql: `ALTER TABLE ${q(schema, t.name)} ALTER COLUMN ${q(c.name)} SET DEFAULT ${c.default}`,
        });
      }
    }
    for (const name of liveCols.keys()) {
      if (!t.columnNames.includes(name))
        drift.push({ object: `${t.name}.${name}`, message: 'column not in the model (kept)' });
    }
    const cons = cat.constraints.get(t.name) ?? new Set<string>();
    for (const fk of t.foreignKeys) {
      if (!cons.has(fk.name)) {
        steps.push({
          kind: 'add_constraint',
          object: fk.name,
          // NOT VALID: enforced for new writes at once, without a long lock to check existing rows.
          sql: `ALTER TABLE ${q(schema, t.name)} ADD ${foreignKeyClause(schema, fk)} NOT VALID`,
        });
      }
    }
    for (const ck of t.checks) {
      if (!cons.has(ck.name)) {
        steps.push({
          kind: 'add_constraint',
          object: ck.name,
          sql: `ALTER TABLE ${q(schema, t.name)} ADD CONSTRAINT ${q(ck.name)} CHECK (${ck.expr}) NOT VALID`,
        });
      }
    }
  }

  for (const t of tables) {
    for (const ix of t.indexes) {
      const live = cat.indexes.get(ix.name);
      if (!live) steps.push({ kind: 'create_index', object: ix.name, sql: createIndexDdl(schema, t, ix) });
      else if (live.table !== t.name)
        drift.push({ object: ix.name, message: `index exists on table ${live.table}, not ${t.name}` });
    }
  }

  const triggered = tables.filter((t) => t.updatedAtTrigger);
  if (triggered.length) {
    if (!cat.functions.has(UPDATED_AT_FUNCTION)) {
      steps.push({ kind: 'create_function', object: UPDATED_AT_FUNCTION, sql: updatedAtFunctionDdl(schema) });
    }
    for (const t of triggered) {
      if (!cat.triggers.get(t.name)?.has(triggerName(t))) {
        steps.push({ kind: 'create_trigger', object: triggerName(t), sql: createTriggerDdl(schema, t) });
      }
    }
  }
  return { schema, steps, drift, blocked };
}

export interface MigrationResult extends MigrationPlan {
  applied: boolean;
}

export function bootstrapLockKey(schema: string): string {
  return `rmhdagmaster:bootstrap:${schema}`;
}

/**
 * Plans and applies the migration in one transaction, under the bootstrap advisory lock (so two
 * deploys/migrations never interleave; the plan is computed after the lock is taken). When anything is
 * blocked nothing is applied. dryRun: plan only.
 */
export async function migrate(
  db: Queryable,
  schema: string,
  opts: { dryRun?: boolean; tables?: readonly TableDef[] } = {},
): Promise<MigrationResult> {
  const tables = opts.tables ?? ALL_TABLES;
  if (opts.dryRun) return { ...(await planMigration(db, schema, tables)), applied: false };
  return withAdvisoryLock(db, bootstrapLockKey(schema), async (tx) => {
    const plan = await planMigration(tx, schema, tables);
    if (plan.blocked.length || plan.steps.length === 0) return { ...plan, applied: false };
    for (const step of plan.steps) await tx.query(step.sql);
    return { ...plan, applied: true };
  });
}
