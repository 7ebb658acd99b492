// A schema as PostgreSQL itself describes it (pg_catalog), with the schema's and the app role's names
// replaced by placeholders, so two schemas built different ways (the migrations, the DDL generated from
// the models) can be compared object by object: columns with types, nullability and defaults;
// constraints and indexes by their full definitions; enum labels in order; triggers; functions; and
// the privileges granted to the app role. The drift check and `dagmaster db migrate` use it.
import { query, withTransaction, type Queryable } from './queryable';
import { sql } from './sql';

export interface SchemaSnapshot {
  /** `table.column` → `type [NOT NULL] [DEFAULT expr]`. */
  columns: Record<string, string>;
  /** `table.constraint` → definition. */
  constraints: Record<string, string>;
  /** index name → definition. */
  indexes: Record<string, string>;
  /** enum type → labels in order. */
  enums: Record<string, string[]>;
  /** `table.trigger` → definition. */
  triggers: Record<string, string>;
  /** function → definition. */
  functions: Record<string, string>;
  /** `schema` / `relation <table or sequence>` → privileges of the app role, e.g. `DELETE,INSERT,SELECT,UPDATE`. */
  grants: Record<string, string>;
}

export interface DescribeOptions {
  /** Tables left out (the migrations bookkeeping table). */
  ignoreTables?: string[];
  /** The role whose privileges are part of the snapshot. */
  appRole?: string;
}

const SCHEMA = '$schema';
const ROLE = '$app_role';

/** Reads the snapshot of one schema in one round trip. */
export async function describeSchema(
  db: Queryable,
  schema: string,
  opts: DescribeOptions = {},
): Promise<SchemaSnapshot> {
  const ignore = opts.ignoreTables ?? [];
  const role = opts.appRole ?? '';
  // PostgreSQL prints names schema-qualified only when they are not on the search_path: describe with
  // an empty one so every schema is described alike, then restore it (also inside a caller's transaction).
  const r = await withTransaction(db, async (tx) => {
    const old = await tx.query<{ p: string }>("SELECT current_setting('search_path') AS p");
    await tx.query("SELECT set_config('search_path', 'pg_catalog', true)");
    const res = await describeQuery(tx, schema, ignore, role);
    await tx.query("SELECT set_config('search_path', $1, true)", [old.rows[0]!.p]);
    return res;
  });
  const s = r.rows[0]!.s;
  // Privileges are compared by object, whatever the role is called.
  const grants: Record<string, string> = {};
  for (const g of s.grants) grants[g.o] = g.p;
  // Function bodies may name the role; normalise it as well (defensive: ours do not).
  const fns: Record<string, string> = {};
  for (const [k, v] of Object.entries(s.functions)) fns[k] = role ? v.split(role).join(ROLE) : v;
  return { ...s, functions: fns, grants };
}

function describeQuery(db: Queryable, schema: string, ignore: string[], role: string) {
  // Every definition is normalised in SQL: `<quoted schema>.` → `$schema.` (quote_ident gives the exact
  // spelling PostgreSQL prints).
  return query<{ s: Omit<SchemaSnapshot, 'grants'> & { grants: Array<{ o: string; p: string }> } }>(
    db,
    sql`WITH ns AS (SELECT oid, quote_ident(nspname) || '.' AS q FROM pg_namespace WHERE nspname = ${schema}),
        rel AS (SELECT c.* FROM pg_class c JOIN ns ON ns.oid = c.relnamespace
                WHERE c.relkind IN ('r', 'p') AND c.relname <> ALL (${ignore}::text[]))
    SELECT jsonb_build_object(
      'columns', (SELECT coalesce(jsonb_object_agg(rel.relname || '.' || a.attname,
                    replace(format_type(a.atttypid, a.atttypmod), ns.q, ${SCHEMA + '.'})
                    || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
                    || coalesce(' DEFAULT ' || replace(pg_get_expr(d.adbin, d.adrelid), ns.q, ${SCHEMA + '.'}), '')), '{}')
                  FROM rel CROSS JOIN ns
                  JOIN pg_attribute a ON a.attrelid = rel.oid AND a.attnum > 0 AND NOT a.attisdropped
                  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum),
      'constraints', (SELECT coalesce(jsonb_object_agg(rel.relname || '.' || co.conname,
                    replace(pg_get_constraintdef(co.oid), ns.q, ${SCHEMA + '.'})), '{}')
                  FROM rel CROSS JOIN ns JOIN pg_constraint co ON co.conrelid = rel.oid),
      'indexes', (SELECT coalesce(jsonb_object_agg(ic.relname,
                    replace(pg_get_indexdef(i.indexrelid), ns.q, ${SCHEMA + '.'})), '{}')
                  FROM rel CROSS JOIN ns JOIN pg_index i ON i.indrelid = rel.oid
                  JOIN pg_class ic ON ic.oid = i.indexrelid),
      'enums', (SELECT coalesce(jsonb_object_agg(t.typname, (SELECT jsonb_agg(e.enumlabel ORDER BY e.enumsortorder)
                    FROM pg_enum e WHERE e.enumtypid = t.oid)), '{}')
                  FROM pg_type t JOIN ns ON ns.oid = t.typnamespace WHERE t.typtype = 'e'),
      'triggers', (SELECT coalesce(jsonb_object_agg(rel.relname || '.' || tg.tgname,
                    replace(pg_get_triggerdef(tg.oid), ns.q, ${SCHEMA + '.'})), '{}')
                  FROM rel CROSS JOIN ns JOIN pg_trigger tg ON tg.tgrelid = rel.oid AND NOT tg.tgisinternal),
      'functions', (SELECT coalesce(jsonb_object_agg(p.proname,
                    replace(pg_get_functiondef(p.oid), ns.q, ${SCHEMA + '.'})), '{}')
                  FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace),
      'grants', (SELECT coalesce(jsonb_agg(jsonb_build_object('o', g.o, 'p', g.p)), '[]') FROM (
                  SELECT 'schema' AS o, string_agg(x.privilege_type, ',' ORDER BY x.privilege_type) AS p
                    FROM pg_namespace n JOIN ns ON ns.oid = n.oid
                    CROSS JOIN LATERAL aclexplode(n.nspacl) x
                    JOIN pg_roles gr ON gr.oid = x.grantee AND gr.rolname = ${role}
                  UNION ALL
                  SELECT 'relation ' || c.relname, string_agg(x.privilege_type, ',' ORDER BY x.privilege_type)
                    FROM pg_class c JOIN ns ON ns.oid = c.relnamespace
                    CROSS JOIN LATERAL aclexplode(c.relacl) x
                    JOIN pg_roles gr ON gr.oid = x.grantee AND gr.rolname = ${role}
                    WHERE c.relkind IN ('r', 'p', 'S') AND c.relname <> ALL (${ignore}::text[])
                    GROUP BY c.relname) g WHERE g.p IS NOT NULL)
    ) AS s`,
  );
}

export interface SchemaDifference {
  /** e.g. `columns dag_jobs.priority`. */
  object: string;
  /** What the first snapshot has ("missing" when absent). */
  actual: string;
  /** What the second snapshot has. */
  expected: string;
}

/** Every object whose definition differs between actual and expected, sorted. */
export function diffSnapshots(actual: SchemaSnapshot, expected: SchemaSnapshot): SchemaDifference[] {
  const out: SchemaDifference[] = [];
  for (const kind of Object.keys(expected) as Array<keyof SchemaSnapshot>) {
    const a = actual[kind] as Record<string, unknown>;
    const e = expected[kind] as Record<string, unknown>;
    for (const key of new Set([...Object.keys(a), ...Object.keys(e)])) {
      const av = a[key] === undefined ? 'missing' : JSON.stringify(a[key]);
      const ev = e[key] === undefined ? 'missing' : JSON.stringify(e[key]);
      if (av !== ev) out.push({ object: `${kind} ${key}`, actual: av, expected: ev });
    }
  }
  return out.sort((x, y) => x.object.localeCompare(y.object));
}

/** One line per difference, for error messages. */
export function describeDifferences(diffs: SchemaDifference[], limit = 20): string {
  const lines = diffs
    .slice(0, limit)
    .map((d) => `  - ${d.object}: database has ${d.actual}; the models say ${d.expected}`);
  if (diffs.length > limit) lines.push(`  ... and ${diffs.length - limit} more`);
  return lines.join('\n');
}
