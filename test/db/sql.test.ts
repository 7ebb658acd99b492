import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sql, DbValidationError, toJsonText } from '../../db';
import { useTestSchema } from '../support/pg';

describe('sql tagged template (no database)', () => {
  it('turns values into numbered parameters and nests fragments with renumbering', () => {
    const where = sql`status = ${'running'} AND n > ${3}`;
    const q = sql`SELECT * FROM ${sql.table('s', 't')} WHERE id = ${'a'} AND ${where} LIMIT ${10}`;
    expect(q.text).toBe('SELECT * FROM "s"."t" WHERE id = $1 AND status = $2 AND n > $3 LIMIT $4');
    expect(q.values).toEqual(['a', 'running', 3, 10]);
  });

  it('escapes identifiers and refuses names PostgreSQL would truncate', () => {
    expect(sql.ident('a"b').text).toBe('"a""b"');
    expect(sql.ident('s', 't').text).toBe('"s"."t"');
    expect(() => sql.ident('x'.repeat(64))).toThrow(DbValidationError);
    expect(() => sql.ident('')).toThrow(DbValidationError);
    expect(() => sql.ident('a\u0000b')).toThrow(DbValidationError);
  });

  it('wraps JSON explicitly: objects, arrays and strings become one jsonb parameter', () => {
    const q = sql`SELECT ${sql.json({ a: 1 })}, ${sql.json([1, 'x', [2]])}, ${sql.json('s')}, ${sql.json(null)}`;
    expect(q.text).toBe('SELECT $1::jsonb, $2::jsonb, $3::jsonb, $4::jsonb');
    expect(q.values).toEqual(['{"a":1}', '[1,"x",[2]]', '"s"', null]);
  });

  it('joins fragments and values, and refuses undefined', () => {
    const q = sql`SELECT ${sql.join([sql`a`, 1, sql`b + ${2}`])} WHERE ${sql.join([sql`x`, sql`y`], ' AND ')}`;
    expect(q.text).toBe('SELECT a, $1, b + $2 WHERE x AND y');
    expect(q.values).toEqual([1, 2]);
    expect(sql.join([]).text).toBe('');
    expect(() => sql`SELECT ${undefined}`).toThrow(/undefined/);
  });

  it('quotes literals for DDL', () => {
    expect(sql.literal("it's").text).toBe("'it''s'");
    expect(sql.literal('a\\b').text).toBe("E'a\\\\b'");
    expect(sql.literal(3).text).toBe('3');
    expect(sql.literal(null).text).toBe('NULL');
  });

  it('rejects JSON PostgreSQL cannot store, but not escaped look-alikes', () => {
    expect(() => toJsonText({ a: 'x\u0000y' })).toThrow(DbValidationError);
    expect(() => toJsonText(['\uD800'])).toThrow(DbValidationError);
    expect(() => toJsonText({ n: 10n })).toThrow(DbValidationError);
    expect(toJsonText({ a: '\\u0000 is text' })).toBe('{"a":"\\\\u0000 is text"}');
    expect(toJsonText('🦀')).toBe('"🦀"');
  });

  it('property: placeholders are numbered 1..n in order for any nesting', () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.integer(), { maxLength: 4 }), { maxLength: 6 }), (groups) => {
        const parts = groups.map((g) => sql.join(g.map((v) => sql`${v}`)));
        const q = sql`SELECT ${sql.join(parts, ' ; ')}`;
        const flat = groups.flat();
        expect(q.values).toEqual(flat);
        const nums = [...q.text.matchAll(/\$(\d+)/g)].map((m) => Number(m[1]));
        expect(nums).toEqual(flat.map((_, i) => i + 1));
      }),
    );
  });
});

describe('sql round trips through PostgreSQL', () => {
  const db = useTestSchema('sql');

  const text = fc.string({ unit: 'grapheme', maxLength: 40 }).filter((s) => !s.includes('\u0000'));

  it('property: any text value comes back unchanged', async () => {
    const { pool } = db();
    await fc.assert(
      fc.asyncProperty(fc.array(text, { minLength: 1, maxLength: 20 }), async (values) => {
        const q = sql`SELECT ${sql.join(values.map((v) => sql`${v}::text`))}`;
        const r = await pool.query({ text: q.text, values: q.values, rowMode: 'array' });
        expect(r.rows[0]).toEqual(values);
      }),
      { numRuns: 60 },
    );
  });

  it('property: any JSON value (objects, arrays, strings, numbers) comes back as the same JSON', async () => {
    const { pool } = db();
    const json = fc
      .jsonValue({ maxDepth: 3, stringUnit: 'grapheme' })
      .filter((v) => v !== null && !JSON.stringify(v).includes('\\u0000'));
    await fc.assert(
      fc.asyncProperty(json, async (v) => {
        const q = sql`SELECT ${sql.json(v)} AS v`;
        const r = await pool.query(q);
        expect(r.rows[0].v).toEqual(JSON.parse(JSON.stringify(v)));
      }),
      { numRuns: 80 },
    );
  });

  it('property: any identifier names a column exactly', async () => {
    const { pool } = db();
    const ident = fc
      .string({ unit: 'grapheme', minLength: 1, maxLength: 20 })
      .filter((s) => !s.includes('\u0000') && Buffer.byteLength(s) <= 63);
    await fc.assert(
      fc.asyncProperty(ident, async (name) => {
        const r = await pool.query(sql`SELECT 1 AS ${sql.ident(name)}`);
        expect(r.fields[0]!.name).toBe(name);
      }),
      { numRuns: 60 },
    );
  });
});
