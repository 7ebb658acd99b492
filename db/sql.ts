// A small tagged-template SQL builder over pg: interpolated values become $n parameters, fragments
// nest, identifiers are escaped, JSON is explicit. Nothing here concatenates a value into SQL text.
//
//   const q = sql`SELECT * FROM ${sql.table(schema, 'dag_jobs')} WHERE job_id = ${jobId}`;
//   await pool.query(q); // q.text = 'SELECT * FROM "dagapp"."dag_jobs" WHERE job_id = $1', q.values = [jobId]
import { DbError, DbValidationError } from './errors';

/** A piece of SQL: text segments with parameters between them. It is a pg QueryConfig ({text, values}). */
export class SqlFragment {
  /** segments.length === params.length + 1 */
  private readonly segments: readonly string[];
  private readonly params: readonly unknown[];
  private compiled: { text: string; values: unknown[] } | undefined;

  constructor(segments: readonly string[], params: readonly unknown[]) {
    this.segments = segments;
    this.params = params;
  }

  /** The SQL text with $1..$n placeholders. */
  get text(): string {
    return this.compile().text;
  }

  /** The parameter values, in placeholder order. */
  get values(): unknown[] {
    return this.compile().values;
  }

  /** True when the fragment is empty text with no parameters. */
  get isEmpty(): boolean {
    return this.params.length === 0 && this.segments.every((s) => s === '');
  }

  /** @internal used when nesting. */
  parts(): { segments: readonly string[]; params: readonly unknown[] } {
    return { segments: this.segments, params: this.params };
  }

  private compile(): { text: string; values: unknown[] } {
    if (!this.compiled) {
      let text = this.segments[0] ?? '';
      for (let i = 0; i < this.params.length; i++) text += `$${i + 1}${this.segments[i + 1] ?? ''}`;
      this.compiled = { text, values: [...this.params] };
    }
    return this.compiled;
  }
}

function build(strings: readonly string[], interpolations: readonly unknown[]): SqlFragment {
  const segments: string[] = [strings[0] ?? ''];
  const params: unknown[] = [];
  for (let i = 0; i < interpolations.length; i++) {
    const v = interpolations[i];
    const next = strings[i + 1] ?? '';
    if (v instanceof SqlFragment) {
      const p = v.parts();
      segments[segments.length - 1] += p.segments[0] ?? '';
      for (let j = 0; j < p.params.length; j++) {
        params.push(p.params[j]);
        segments.push(p.segments[j + 1] ?? '');
      }
      segments[segments.length - 1] += next;
    } else {
      if (v === undefined) {
        throw new DbError(
          'VALIDATION',
          `sql: interpolated value #${i + 1} is undefined (after "${(strings[i] ?? '').slice(-40)}"). ` +
            'Pass null for SQL NULL.',
        );
      }
      params.push(v);
      segments.push(next);
    }
  }
  return new SqlFragment(segments, params);
}

/** PostgreSQL truncates identifiers to 63 bytes (NAMEDATALEN - 1); longer names would silently collide. */
const MAX_IDENT_BYTES = 63;

function quoteIdent(name: string): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new DbValidationError({
      field: 'identifier',
      message: 'sql.ident: an identifier must be a non-empty string',
    });
  }
  if (name.includes('\u0000')) {
    throw new DbValidationError({
      field: 'identifier',
      message: 'sql.ident: an identifier cannot contain NUL',
    });
  }
  if (Buffer.byteLength(name, 'utf8') > MAX_IDENT_BYTES) {
    throw new DbValidationError({
      field: 'identifier',
      limit: MAX_IDENT_BYTES,
      message: `sql.ident: identifier "${name.slice(0, 80)}" is longer than ${MAX_IDENT_BYTES} bytes; PostgreSQL would truncate it. Use a shorter name.`,
    });
  }
  return `"${name.replace(/"/g, '""')}"`;
}

/** `'...'` literal for DDL, where parameters are not allowed. standard_conforming_strings is assumed on. */
function quoteLiteral(value: string | number | boolean | null): string {
  if (value === null) return 'NULL';
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  if (typeof value === 'number') {
    if (!Number.isFinite(value))
      throw new DbValidationError({ field: 'literal', message: `sql.literal: ${value} is not finite` });
    return String(value);
  }
  if (value.includes('\u0000')) {
    throw new DbValidationError({
      field: 'literal',
      message: 'sql.literal: a string literal cannot contain NUL',
    });
  }
  // E'' form when backslashes are present so the literal means the same whatever standard_conforming_strings is.
  const body = value.replace(/'/g, "''");
  return value.includes('\\') ? `E'${body.replace(/\\/g, '\\\\')}'` : `'${body}'`;
}

// An escape that PostgreSQL's jsonb rejects: \u0000, or a lone surrogate (JSON.stringify escapes only those),
// preceded by an even number of backslashes (so it is an escape and not escaped data).
const BAD_JSON_ESCAPE = /(?:^|[^\\])(?:\\\\)*\\u(?:0000|d[89a-f][0-9a-f]{2})/i;

/** Serializes a value for a jsonb parameter, rejecting what PostgreSQL cannot store. */
export function toJsonText(value: unknown, field = 'json'): string | null {
  if (value === undefined || value === null) return null;
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw new DbValidationError({
      field,
      message: `${field}: value is not JSON-serializable (${(err as Error).message}).`,
    });
  }
  if (text === undefined) {
    throw new DbValidationError({
      field,
      message: `${field}: value is not JSON-serializable (${typeof value}).`,
    });
  }
  if (text.includes('\\u') && BAD_JSON_ESCAPE.test(text)) {
    throw new DbValidationError({
      field,
      message: `${field}: contains a NUL character or an unpaired UTF-16 surrogate, which PostgreSQL jsonb cannot store. Remove or encode it.`,
    });
  }
  return text;
}

interface SqlTag {
  (strings: TemplateStringsArray, ...values: unknown[]): SqlFragment;
  /** An escaped identifier; several parts are joined with dots (`sql.ident('s', 't')` → `"s"."t"`). */
  ident(...parts: string[]): SqlFragment;
  /** A schema-qualified table (or any schema object) name. */
  table(schema: string, name: string): SqlFragment;
  /** A jsonb parameter: objects, arrays, strings, numbers, booleans. null/undefined → SQL NULL. */
  json(value: unknown, field?: string): SqlFragment;
  /** Joins fragments (or values, which become parameters) with a separator of SQL text (default ", "). */
  join(parts: readonly unknown[], separator?: string | SqlFragment): SqlFragment;
  /** Trusted SQL text, inserted as is. Never pass user input. */
  raw(text: string): SqlFragment;
  /** A quoted literal, for DDL where parameters are not allowed. */
  literal(value: string | number | boolean | null): SqlFragment;
  /** The empty fragment. */
  readonly empty: SqlFragment;
}

function sqlTag(strings: TemplateStringsArray, ...values: unknown[]): SqlFragment {
  return build(strings, values);
}

const raw = (text: string): SqlFragment => new SqlFragment([text], []);

export const sql: SqlTag = Object.assign(sqlTag, {
  ident: (...parts: string[]) => raw(parts.map(quoteIdent).join('.')),
  table: (schema: string, name: string) => raw(`${quoteIdent(schema)}.${quoteIdent(name)}`),
  json: (value: unknown, field?: string) => {
    const text = toJsonText(value, field);
    return new SqlFragment(['', '::jsonb'], [text]);
  },
  join: (parts: readonly unknown[], separator: string | SqlFragment = ', ') => {
    const sep = typeof separator === 'string' ? raw(separator) : separator;
    if (parts.length === 0) return raw('');
    const strings: string[] = [''];
    const values: unknown[] = [];
    parts.forEach((p, i) => {
      if (i > 0) {
        values.push(sep);
        strings.push('');
      }
      values.push(p);
      strings.push('');
    });
    return build(strings, values);
  },
  raw,
  literal: (value: string | number | boolean | null) => raw(quoteLiteral(value)),
  empty: raw(''),
});
