// Zod models carrying their table metadata. The zod object is the single source of truth for the
// columns: DDL (generateDdl), the migration diff (migrate), write validation and row parsing all read
// it. Column SQL types are derived from zod types (string.max(n) → varchar(n), int → integer, date →
// timestamptz, enum → a PostgreSQL enum type, objects/records/arrays/unknown → jsonb); the few things
// zod cannot say (serial, uuid, SQL default expressions) are declared with the helpers below.
import { z } from 'zod';
import { DbError, DbValidationError } from './errors';
import { sql, type SqlFragment } from './sql';

interface PgColumnMeta {
  /** Explicit SQL type, overriding the one derived from zod. */
  type?: 'uuid' | 'text' | 'bigint' | 'bigserial' | 'double precision';
  /** The PostgreSQL enum type name (schema-local) for a z.enum column. */
  enumType?: string;
}

const pgMeta = z.registry<PgColumnMeta>();

/** Column constructors; each returns a fresh zod schema (chain .nullable() / .default(v) as usual). */
export const col = {
  varchar: (maxLength: number) => z.string().max(maxLength),
  text: () => z.string().register(pgMeta, { type: 'text' }),
  int: () => z.number().int(),
  /** bigint read back as a JS number (pg returns int8 as a string). Safe below 2^53. */
  bigint: () => z.coerce.number().int().register(pgMeta, { type: 'bigint' }),
  bigserial: () => z.coerce.number().int().register(pgMeta, { type: 'bigserial' }),
  double: () => z.number().register(pgMeta, { type: 'double precision' }),
  bool: () => z.boolean(),
  /** timestamptz, read back as a JS Date (pg's default parser). */
  timestamptz: () => z.date(),
  uuid: () => z.string().register(pgMeta, { type: 'uuid' }),
  /** jsonb holding any JSON value. */
  jsonb: () => z.unknown(),
  /** jsonb holding a JSON object. */
  jsonObject: () => z.record(z.string(), z.unknown()),
  /** A PostgreSQL enum type named typeName, created in the table's schema. */
  enum: <const T extends readonly [string, ...string[]]>(typeName: string, values: T) =>
    z.enum(values).register(pgMeta, { enumType: typeName }),
};

export interface ForeignKeyDef {
  name: string;
  columns: string[];
  references: { table: string; columns: string[] };
  onDelete?: 'CASCADE' | 'RESTRICT' | 'SET NULL' | 'NO ACTION';
}

export interface IndexColumn {
  name: string;
  descending?: boolean;
}

export interface IndexDef {
  name: string;
  columns: Array<string | IndexColumn>;
  unique?: boolean;
  /** Partial index predicate: trusted SQL over unqualified column names. */
  where?: string;
  /** DESC on every column (per-column `descending` wins). */
  descending?: boolean;
  using?: 'btree' | 'gin';
}

export interface CheckDef {
  name: string;
  /** Trusted SQL over unqualified column names. */
  expr: string;
}

export interface EnumDef {
  typeName: string;
  values: readonly string[];
}

export type ColumnKind =
  'string' | 'int' | 'bigint' | 'double' | 'bool' | 'timestamptz' | 'uuid' | 'json' | 'enum';

export interface ColumnInfo {
  name: string;
  kind: ColumnKind;
  /** SQL type for a schema; enum types are schema-qualified by generateDdl. */
  sqlType: string;
  nullable: boolean;
  /** SQL default expression, if any. */
  default?: string;
  maxLength?: number;
  enum?: EnumDef;
  serial: boolean;
}

export interface TableOptions<S extends z.ZodRawShape> {
  /** Default schema; generateDdl/migrate/repositories take the schema as an argument and that wins. */
  schema?: string;
  name: string;
  columns: z.ZodObject<S>;
  primaryKey: Array<keyof S & string>;
  foreignKeys?: ForeignKeyDef[];
  indexes?: IndexDef[];
  checks?: CheckDef[];
  /** SQL default expressions (trusted text), e.g. { created_at: 'now()' }. zod .default(v) gives literal defaults. */
  sqlDefaults?: Partial<Record<keyof S & string, string>>;
  /** Adds a BEFORE UPDATE trigger keeping updated_at current (needs an updated_at column). */
  updatedAtTrigger?: boolean;
  /** Rows are only ever added (an audit log): the apps' role may SELECT and INSERT, never UPDATE or DELETE. */
  appendOnly?: boolean;
}

export interface TableDef<S extends z.ZodRawShape = z.ZodRawShape> {
  readonly schema: string | undefined;
  readonly name: string;
  readonly columns: z.ZodObject<S>;
  readonly primaryKey: readonly string[];
  readonly foreignKeys: readonly ForeignKeyDef[];
  readonly indexes: readonly IndexDef[];
  readonly checks: readonly CheckDef[];
  readonly updatedAtTrigger: boolean;
  readonly appendOnly: boolean;
  readonly columnInfo: readonly ColumnInfo[];
  readonly columnNames: readonly string[];
  readonly enums: readonly EnumDef[];
  column(name: string): ColumnInfo;
}

export type Row<T extends TableDef> = T extends TableDef<infer S> ? z.output<z.ZodObject<S>> : never;

export function defineTable<S extends z.ZodRawShape>(opts: TableOptions<S>): TableDef<S> {
  const sqlDefaults = (opts.sqlDefaults ?? {}) as Record<string, string | undefined>;
  const columnInfo = Object.entries(opts.columns.shape).map(([name, schema]) =>
    describeColumn(
      opts.name,
      name,
      schema as z.ZodType,
      sqlDefaults[name],
      opts.primaryKey.includes(name as never),
    ),
  );
  const byName = new Map(columnInfo.map((c) => [c.name, c]));
  const check = (what: string, names: readonly string[]) => {
    for (const n of names) {
      if (!byName.has(n))
        throw new DbError(
          'CONFIG',
          `Table ${opts.name}: ${what} names column "${n}", which the model does not have.`,
        );
    }
  };
  check('primary key', opts.primaryKey);
  for (const fk of opts.foreignKeys ?? []) check(`foreign key ${fk.name}`, fk.columns);
  for (const ix of opts.indexes ?? [])
    check(
      `index ${ix.name}`,
      ix.columns.map((c) => (typeof c === 'string' ? c : c.name)),
    );
  for (const d of Object.keys(sqlDefaults)) check('sqlDefaults', [d]);
  if (opts.updatedAtTrigger) check('updatedAtTrigger', ['updated_at']);
  const enums: EnumDef[] = [];
  for (const c of columnInfo)
    if (c.enum && !enums.some((e) => e.typeName === c.enum!.typeName)) enums.push(c.enum);
  return {
    schema: opts.schema,
    name: opts.name,
    columns: opts.columns,
    primaryKey: opts.primaryKey,
    foreignKeys: opts.foreignKeys ?? [],
    indexes: opts.indexes ?? [],
    checks: opts.checks ?? [],
    updatedAtTrigger: opts.updatedAtTrigger ?? false,
    appendOnly: opts.appendOnly ?? false,
    columnInfo,
    columnNames: columnInfo.map((c) => c.name),
    enums,
    column(name: string): ColumnInfo {
      const c = byName.get(name);
      if (!c) throw new DbError('CONFIG', `Table ${opts.name} has no column "${name}".`);
      return c;
    },
  };
}

/** A copy of a table model with more columns, indexes or checks (how a model evolves; used by migrate tests). */
export function extendTable<S extends z.ZodRawShape, E extends z.ZodRawShape>(
  table: TableDef<S>,
  ext: { columns?: E; indexes?: IndexDef[]; checks?: CheckDef[]; sqlDefaults?: Record<string, string> },
): TableDef<S & E> {
  const defaults: Record<string, string> = {};
  for (const c of table.columnInfo) if (c.default !== undefined && !c.serial) defaults[c.name] = c.default;
  return defineTable({
    schema: table.schema,
    name: table.name,
    columns: table.columns.extend(ext.columns ?? ({} as E)) as unknown as z.ZodObject<S & E>,
    primaryKey: table.primaryKey as Array<keyof (S & E) & string>,
    foreignKeys: [...table.foreignKeys],
    indexes: [...table.indexes, ...(ext.indexes ?? [])],
    checks: [...table.checks, ...(ext.checks ?? [])],
    sqlDefaults: { ...defaults, ...(ext.sqlDefaults ?? {}) } as Partial<
      Record<keyof (S & E) & string, string>
    >,
    updatedAtTrigger: table.updatedAtTrigger,
    appendOnly: table.appendOnly,
  });
}

function describeColumn(
  table: string,
  name: string,
  schema: z.ZodType,
  sqlDefault: string | undefined,
  isPrimaryKey: boolean,
): ColumnInfo {
  let nullable = false;
  let literalDefault: unknown = undefined;
  let s: z.ZodType = schema;
  const meta: PgColumnMeta = {};
  for (;;) {
    Object.assign(meta, { ...pgMeta.get(s), ...meta });
    const def = s._zod.def as { type: string; innerType?: z.ZodType; defaultValue?: unknown };
    if (def.type === 'nullable' || def.type === 'optional') {
      nullable = true;
      s = def.innerType!;
    } else if (def.type === 'default') {
      literalDefault = def.defaultValue;
      s = def.innerType!;
    } else break;
  }
  const def = s._zod.def as { type: string };
  const fail = (why: string) =>
    new DbError(
      'CONFIG',
      `Table ${table} column ${name}: ${why}. Use the col.* helpers in db/defineTable.ts.`,
    );
  let kind: ColumnKind;
  let sqlType: string;
  let maxLength: number | undefined;
  let enumDef: EnumDef | undefined;
  switch (def.type) {
    case 'string': {
      maxLength = (s as z.ZodString).maxLength ?? undefined;
      if (meta.type === 'uuid') {
        kind = 'uuid';
        sqlType = 'uuid';
      } else {
        kind = 'string';
        sqlType = maxLength != null && meta.type !== 'text' ? `varchar(${maxLength})` : 'text';
      }
      break;
    }
    case 'number': {
      if (meta.type === 'bigint' || meta.type === 'bigserial') {
        kind = 'bigint';
        sqlType = meta.type;
      } else if ((s as z.ZodNumber).isInt) {
        kind = 'int';
        sqlType = 'integer';
      } else {
        kind = 'double';
        sqlType = 'double precision';
      }
      break;
    }
    case 'boolean':
      kind = 'bool';
      sqlType = 'boolean';
      break;
    case 'date':
      kind = 'timestamptz';
      sqlType = 'timestamptz';
      break;
    case 'enum': {
      if (!meta.enumType)
        throw fail('a z.enum column needs a PostgreSQL type name (col.enum(typeName, values))');
      kind = 'enum';
      enumDef = { typeName: meta.enumType, values: (s as z.ZodEnum).options as string[] };
      sqlType = meta.enumType;
      break;
    }
    case 'record':
    case 'object':
    case 'array':
    case 'unknown':
    case 'any':
      kind = 'json';
      sqlType = 'jsonb';
      break;
    default:
      throw fail(`zod type "${def.type}" has no SQL mapping`);
  }
  let dflt = sqlDefault;
  if (dflt === undefined && literalDefault !== undefined) dflt = literalSql(kind, literalDefault, enumDef);
  const serial = meta.type === 'bigserial';
  return {
    name,
    kind,
    sqlType,
    nullable: nullable && !isPrimaryKey,
    ...(dflt !== undefined ? { default: dflt } : {}),
    ...(maxLength !== undefined ? { maxLength } : {}),
    ...(enumDef ? { enum: enumDef } : {}),
    serial,
  };
}

function literalSql(kind: ColumnKind, value: unknown, _enumDef?: EnumDef): string {
  if (value === null) return 'NULL';
  if (kind === 'json') return `'${JSON.stringify(value).replace(/'/g, "''")}'::jsonb`;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'string') return `'${value.replace(/'/g, "''")}'`;
  throw new DbError('CONFIG', `Cannot express default ${String(value)} in SQL for a ${kind} column`);
}

// Lone UTF-16 surrogates are silently replaced when encoded to UTF-8: reject them rather than corrupt data.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Checks a string that goes into a text column: PostgreSQL text cannot hold NUL; lone surrogates would be lost. */
export function checkText(value: string, table: string | undefined, field: string): void {
  if (value.includes('\u0000')) {
    throw new DbValidationError({
      ...(table ? { table } : {}),
      field,
      message: `${table ? `${table}.` : ''}${field}: contains a NUL character (U+0000), which PostgreSQL text cannot store. Remove it.`,
    });
  }
  if (LONE_SURROGATE.test(value)) {
    throw new DbValidationError({
      ...(table ? { table } : {}),
      field,
      message: `${table ? `${table}.` : ''}${field}: contains an unpaired UTF-16 surrogate, which is not valid Unicode. Fix the string's encoding.`,
    });
  }
}

/**
 * Validates values for some columns of a table before they reach the database. Throws a
 * DbValidationError naming the table, the field and the limit (for lengths). Undefined values are skipped.
 * String limits count Unicode code points (zod's max does), exactly as PostgreSQL's varchar(n) does.
 */
export function validateValues(table: TableDef, values: Record<string, unknown>, label?: string): void {
  const shape = table.columns.shape as Record<string, z.ZodType>;
  for (const [field, value] of Object.entries(values)) {
    if (value === undefined) continue;
    const schema = shape[field];
    if (!schema) throw new DbError('CONFIG', `validateValues: ${table.name} has no column "${field}"`);
    const where = label ? `${label}.${field}` : field;
    if (typeof value === 'string') checkText(value, table.name, where);
    const r = schema.safeParse(value);
    if (r.success) continue;
    const issue = r.error.issues[0];
    if (issue?.code === 'too_big' && typeof value === 'string') {
      const limit = Number(issue.maximum);
      throw new DbValidationError({
        table: table.name,
        field: where,
        limit,
        message: `${table.name}.${where}: value is ${[...value].length} characters long; the limit is ${limit}. Shorten it.`,
      });
    }
    throw new DbValidationError({
      table: table.name,
      field: where,
      message: `${table.name}.${where}: ${issue?.message ?? 'invalid value'} (got ${describe(value)}).`,
    });
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}...` : v);
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? 'an invalid Date' : v.toISOString();
  return typeof v === 'object' ? (Array.isArray(v) ? 'an array' : 'an object') : `${typeof v} ${String(v)}`;
}

/** Parses a row read from the table with its zod model; a mismatch is a database/model drift fault. */
export function parseRow<T extends TableDef>(table: T, row: unknown): Row<T> {
  return parseRowWith(table, table.columns, row) as Row<T>;
}

/** parseRow with a part of the table's model (a statement that returns some of the columns). */
export function parseRowWith<M extends z.ZodType>(table: TableDef, model: M, row: unknown): z.output<M> {
  const r = model.safeParse(row);
  if (!r.success) {
    throw new DbError(
      'DATABASE',
      `A ${table.name} row does not match its model: ${r.error.issues
        .slice(0, 3)
        .map((i) => `${i.path.join('.')}: ${i.message}`)
        .join('; ')}. Run bootstrap migrate, or check for writes outside db/.`,
      { table: table.name },
    );
  }
  return r.data;
}

/** Truncates to at most max UTF-16 code units without splitting a surrogate pair. */
export function truncate(value: string, max: number): string {
  if (value.length <= max) return value;
  let end = max;
  const c = value.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end -= 1;
  return value.slice(0, end);
}

/** The model's columns as a select list, optionally qualified by a table alias (stable under migrations, unlike `*`). */
export function columnList(table: TableDef, alias?: string): SqlFragment {
  const key = `${alias ?? ''}\u0000${table.columnNames.join(',')}`;
  let f = columnLists.get(key);
  if (!f) {
    f = sql.join(
      table.columnNames.map((c) => (alias ? sql`${sql.ident(alias)}.${sql.ident(c)}` : sql.ident(c))),
    );
    columnLists.set(key, f);
  }
  return f;
}

const columnLists = new Map<string, SqlFragment>();
