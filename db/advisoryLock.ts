// Advisory locks for singletons (one migration at a time, one sweeper, one leader). Keys are strings,
// hashed to a bigint with hashtextextended(); include the schema in the key so that deployments sharing
// a database do not block each other (e.g. `rmhdagmaster:bootstrap:dagapp`).
import type pg from 'pg';
import { withTransaction, type Queryable } from './queryable';
import { sql } from './sql';

const keyExpr = (key: string) => sql`hashtextextended(${key}, 0)`;

/**
 * Transaction-level lock: BEGIN, wait for pg_advisory_xact_lock(key), run fn inside the transaction,
 * COMMIT (or ROLLBACK on throw). The lock is released with the transaction, so it cannot leak even if
 * the process dies. Waits as long as statement_timeout allows.
 */
export async function withAdvisoryLock<T>(
  db: Queryable,
  key: string,
  fn: (tx: pg.PoolClient | pg.Client) => Promise<T>,
): Promise<T> {
  return withTransaction(db, async (tx) => {
    const q = sql`SELECT pg_advisory_xact_lock(${keyExpr(key)})`;
    await tx.query(q.text, q.values);
    return fn(tx);
  });
}

export type TryLockResult<T> = { acquired: true; result: T } | { acquired: false };

/** Like withAdvisoryLock, but returns {acquired: false} at once when another session holds the lock. */
export async function tryWithAdvisoryLock<T>(
  db: Queryable,
  key: string,
  fn: (tx: pg.PoolClient | pg.Client) => Promise<T>,
): Promise<TryLockResult<T>> {
  return withTransaction(db, async (tx) => {
    const q = sql`SELECT pg_try_advisory_xact_lock(${keyExpr(key)}) AS ok`;
    const r = await tx.query<{ ok: boolean }>(q.text, q.values);
    if (!r.rows[0]?.ok) return { acquired: false as const };
    return { acquired: true as const, result: await fn(tx) };
  });
}

export interface SessionLock {
  readonly key: string;
  /** The dedicated connection holding the lock (do not release it yourself). */
  readonly client: pg.PoolClient;
  /** True while the connection (and so the lock) is alive. */
  isHeld(): Promise<boolean>;
  /** Unlocks and returns the connection to the pool. Safe to call twice. */
  release(): Promise<void>;
}

/**
 * Session-level try-lock for long-lived singletons (leader election): holds a dedicated pooled
 * connection until release(). Returns null when another session holds the lock. The lock dies with the
 * connection, so a crashed holder frees it; call isHeld() periodically to notice a lost connection.
 */
export async function acquireSessionLock(pool: pg.Pool, key: string): Promise<SessionLock | null> {
  const client = await pool.connect();
  let released = false;
  try {
    const q = sql`SELECT pg_try_advisory_lock(${keyExpr(key)}) AS ok`;
    const r = await client.query<{ ok: boolean }>(q.text, q.values);
    if (!r.rows[0]?.ok) {
      client.release();
      return null;
    }
  } catch (err) {
    client.release(true);
    throw err;
  }
  let broken = false;
  client.on('error', () => {
    broken = true;
  });
  return {
    key,
    client,
    async isHeld() {
      if (released || broken) return false;
      try {
        await client.query('SELECT 1');
        return true;
      } catch {
        broken = true;
        return false;
      }
    },
    async release() {
      if (released) return;
      released = true;
      try {
        if (!broken) {
          const q = sql`SELECT pg_advisory_unlock(${keyExpr(key)})`;
          await client.query(q.text, q.values);
        }
        client.release();
      } catch {
        // Destroy the connection: closing it releases the lock anyway.
        client.release(true);
      }
    },
  };
}
