// The input rows of a set-based statement, as the relation `x`. Many rows travel as ONE jsonb parameter
// (jsonb_to_recordset); a single row travels as scalar parameters, so that the planner knows it is one
// row and always picks index lookups (jsonb_to_recordset is estimated at 100 rows, which can tempt it
// into hash joins over whole tables), and so that the statement can be prepared once per connection.
import { DbError } from './errors';
import { sql, type SqlFragment } from './sql';

/** [column name, SQL type] pairs; the types are trusted SQL text. */
export type RecordColumns = ReadonlyArray<readonly [string, string]>;

export function recordSource(
  columns: RecordColumns,
  rows: ReadonlyArray<Record<string, unknown>>,
  label: string,
): SqlFragment {
  if (rows.length === 0) throw new DbError('VALIDATION', `${label}: no rows`);
  if (rows.length === 1) {
    const row = rows[0]!;
    return sql`SELECT ${sql.join(
      columns.map(([name, type]) => {
        const v = row[name] ?? null;
        const value = type === 'jsonb' ? sql.json(v, `${label}.${name}`) : sql`${v}::${sql.raw(type)}`;
        return sql`${value} AS ${sql.ident(name)}`;
      }),
    )}`;
  }
  return sql`SELECT * FROM jsonb_to_recordset(${sql.json(rows, label)}) AS x(${sql.raw(
    columns.map(([name, type]) => `${sql.ident(name).text} ${type}`).join(', '),
  )})`;
}
