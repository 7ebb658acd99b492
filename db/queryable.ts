// What repositories take: a pool (each call is its own autocommit statement or transaction) or a client
// (the caller's connection, possibly inside the caller's transaction).
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { DbError, DbValidationError } from './errors';
import { type SqlFragment } from './sql';

export type Queryable = pg.Pool | pg.PoolClient | pg.Client;

/** A client inside a transaction opened by withTransaction (nested calls use savepoints). */
const inTransaction = new WeakSet<object>();

function isPool(db: Queryable): db is pg.Pool {
  return 'idleCount' in db && typeof (db as pg.Pool).connect === 'function';
}

export interface QueryOptions {
  /**
   * Run as a named prepared statement (name derived from the text), so each connection parses and plans
   * it once. For hot statements with a fixed shape. Needs session pooling or a PgBouncer with
   * prepared-statement support (Azure's built-in PgBouncer has it); see docs/database.md.
   */
  prepare?: boolean;
}

const statementNames = new Map<string, string>();

function statementName(text: string): string {
  let name = statementNames.get(text);
  if (!name) {
    if (statementNames.size > 2000) statementNames.clear();
    name = `dag_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
    statementNames.set(text, name);
  }
  return name;
}

/** Runs a fragment and returns its rows. */
export async function query<R extends pg.QueryResultRow = pg.QueryResultRow>(
  db: Queryable,
  q: SqlFragment,
  opts: QueryOptions = {},
): Promise<pg.QueryResult<R>> {
  const text = q.text;
  try {
    return await db.query<R>(
      opts.prepare ? { name: statementName(text), text, values: q.values } : { text, values: q.values },
    );
  } catch (err) {
    // After a migration a connection's cached plan may no longer match the table; run it unprepared.
    if (opts.prepare && (err as { code?: string }).code === '0A000') {
      try {
        return await db.query<R>({ text, values: q.values });
      } catch (err2) {
        throw translatePgError(err2);
      }
    }
    throw translatePgError(err);
  }
}

/**
 * Turns the PostgreSQL errors that mean "bad input" or "schema not deployed" into DbErrors that say
 * what to do; anything else (connection loss, timeouts...) is returned unchanged.
 */
export function translatePgError(err: unknown): unknown {
  const e = err as {
    code?: string;
    message?: string;
    constraint?: string;
    table?: string;
    column?: string;
    detail?: string;
  };
  if (!e || typeof e.code !== 'string') return err;
  const at = [e.table, e.column ?? e.constraint].filter(Boolean).join('.');
  switch (e.code) {
    case '23503':
      return new DbError(
        'CONFLICT',
        `${e.message} (constraint ${e.constraint ?? '?'}): ${e.detail ?? 'the row refers to a row that does not exist'} Create the referenced row first.`,
        { pgCode: e.code, constraint: e.constraint },
        { cause: err },
      );
    case '22001':
    case '22P05':
    case '22021':
    case '23514':
    case '22P02':
      return new DbValidationError({
        ...(e.table ? { table: e.table } : {}),
        field: at || 'value',
        message: `${e.message}${at ? ` (${at})` : ''}`,
      });
    case '42P01':
    case '42704':
    case '3F000':
    case '42703':
      return new DbError(
        'CONFIG',
        `${e.message}: the database schema is missing or out of date. Run bootstrap deploy/migrate (POST /api/bootstrap/migrate?confirm=yes).`,
        { pgCode: e.code },
        { cause: err },
      );
    default:
      return err;
  }
}

let savepointSeq = 0;

/**
 * Runs fn in a transaction. With a pool: takes a client, BEGIN, COMMIT (ROLLBACK on throw), releases it.
 * With a client already inside withTransaction: a savepoint, so repositories compose inside a caller's
 * transaction. With any other client: BEGIN/COMMIT on that client.
 */
export async function withTransaction<T>(
  db: Queryable,
  fn: (tx: pg.PoolClient | pg.Client) => Promise<T>,
): Promise<T> {
  if (isPool(db)) {
    const client = await db.connect();
    let broken = false;
    try {
      return await runTx(client, fn);
    } catch (err) {
      broken = isConnectionError(err);
      throw err;
    } finally {
      client.release(broken);
    }
  }
  if (inTransaction.has(db)) {
    const name = `sp_${++savepointSeq}`;
    await db.query(`SAVEPOINT ${name}`);
    try {
      const result = await fn(db);
      await db.query(`RELEASE SAVEPOINT ${name}`);
      return result;
    } catch (err) {
      await db.query(`ROLLBACK TO SAVEPOINT ${name}`).catch(() => undefined);
      throw err;
    }
  }
  return runTx(db, fn);
}

async function runTx<T>(
  client: pg.PoolClient | pg.Client,
  fn: (tx: pg.PoolClient | pg.Client) => Promise<T>,
): Promise<T> {
  await client.query('BEGIN');
  inTransaction.add(client);
  try {
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    inTransaction.delete(client);
  }
}

function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('08') || code === 'ECONNRESET' || code === 'EPIPE');
}
