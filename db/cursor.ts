// Opaque keyset cursors: base64url JSON, validated on the way back in.
import { z } from 'zod';
import { DbValidationError } from './errors';

export function encodeCursor(value: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

export function decodeCursor<T>(cursor: string, schema: z.ZodType<T>, what: string): T {
  let parsed: unknown;
  try {
    if (cursor.length > 1000) throw new Error('too long');
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const r = schema.safeParse(parsed);
  if (!r.success) {
    throw new DbValidationError({
      field: 'cursor',
      message: `cursor: not a valid ${what} cursor. Pass back the next_cursor of the previous page unchanged, or omit it for the first page.`,
    });
  }
  return r.data;
}

/** Clamps a page size: default when absent, rejected when not a positive integer or above max. */
export function pageLimit(limit: number | undefined, dflt: number, max: number): number {
  if (limit === undefined) return dflt;
  if (!Number.isInteger(limit) || limit < 1 || limit > max) {
    throw new DbValidationError({
      field: 'limit',
      limit: max,
      message: `limit: ${limit} is not an integer between 1 and ${max}.`,
    });
  }
  return limit;
}

export const zCursorString = z.string().min(1).max(200);

/** A cursor's timestamp: an ISO-8601 UTC instant as the repositories write it (not any string). */
export const zCursorTimestamp = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/)
  .refine((t) => !Number.isNaN(Date.parse(t)));

/** A cursor's position in an int4 column (fan-out indexes): Postgres rejects anything wider. */
export const zCursorInt4 = z.number().int().min(-1).max(2147483647);

/** A cursor's position in a bigint serial column. */
export const zCursorSerial = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

export interface Page<T> {
  items: T[];
  /** Pass back for the next page; null on the last page. */
  nextCursor: string | null;
}

/**
 * The page of rows read with `LIMIT limit + 1`: the first `limit` rows parsed, and the cursor of the
 * last of them (cursorOf reads the raw row) when there was one more.
 */
export function pageOf<R, T>(
  rows: readonly R[],
  limit: number,
  parse: (row: R) => T,
  cursorOf: (row: R) => Record<string, unknown>,
): Page<T> {
  const kept = rows.slice(0, limit);
  const last = kept[kept.length - 1];
  return {
    items: kept.map(parse),
    nextCursor: rows.length > limit && last !== undefined ? encodeCursor(cursorOf(last)) : null,
  };
}
