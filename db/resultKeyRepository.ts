// The keys that sign container results (dag_result_keys; lib/resultSignature.ts says what is signed).
// The first app that needs a key creates one: 32 random bytes made here, inserted only while the table
// is empty, so concurrent first calls agree on the same key.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { query, type Queryable } from './queryable';
import { sql } from './sql';

export interface ResultKey {
  keyId: number;
  secret: Buffer;
}

const KeyRow = z.object({ key_id: z.number().int(), secret: z.string().regex(/^[0-9a-f]{64,128}$/) });

/**
 * Every result key, newest (highest key_id) first — one is created when there is none. Workers sign
 * with the first; the trigger checks a signature with the key it names.
 */
export async function loadResultKeys(db: Queryable, schema: string): Promise<ResultKey[]> {
  const table = sql.table(schema, 'dag_result_keys');
  // Two statements at most: a first call racing another's insert sees no row in its snapshot (the
  // insert waits for the other, then does nothing), so it reads again.
  for (let tries = 0; tries < 2; tries++) {
    const r = await query(
      db,
      sql`WITH made AS (
            INSERT INTO ${table} (key_id, secret)
            SELECT 1, ${randomBytes(32).toString('hex')}
            WHERE NOT EXISTS (SELECT 1 FROM ${table})
            ON CONFLICT (key_id) DO NOTHING
            RETURNING key_id, secret)
          SELECT key_id, secret FROM made
          UNION ALL
          SELECT key_id, secret FROM ${table}
          ORDER BY key_id DESC`,
    );
    if (r.rows.length)
      return r.rows.map((raw) => {
        const row = KeyRow.parse(raw);
        return { keyId: row.key_id, secret: Buffer.from(row.secret, 'hex') };
      });
  }
  throw new Error(`No result key could be read or created in ${schema}.dag_result_keys`);
}

/** Errors and unknown key ids reload at most this often. */
const RELOAD_AFTER_MS = 60_000;

/**
 * The result keys of one process, read once: the worker signs with `signing()`, the trigger checks
 * with `byId()`. Neither throws: without a key (the table not migrated yet, Postgres down) results
 * go unsigned and are read from Postgres, as before signing existed. A key id this process does not
 * hold (a key added since) makes it read the table again, at most once a minute.
 */
export class ResultKeys {
  private keys: Promise<ResultKey[] | undefined> | undefined;
  private loadedAt = 0;

  constructor(
    private readonly db: Queryable,
    private readonly schema: string,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  async signing(): Promise<ResultKey | undefined> {
    return (await this.load())?.[0];
  }

  async byId(keyId: number): Promise<ResultKey | undefined> {
    const found = (await this.load())?.find((k) => k.keyId === keyId);
    if (found || Date.now() - this.loadedAt < RELOAD_AFTER_MS) return found;
    this.keys = undefined;
    return (await this.load())?.find((k) => k.keyId === keyId);
  }

  private load(): Promise<ResultKey[] | undefined> {
    if (this.keys) return this.keys;
    this.loadedAt = Date.now();
    const loading = loadResultKeys(this.db, this.schema).catch((err: unknown) => {
      this.onError(err);
      // Asked again once RELOAD_AFTER_MS has passed; meanwhile nothing is signed or checked.
      setTimeout(() => {
        if (this.keys === loading) this.keys = undefined;
      }, RELOAD_AFTER_MS).unref();
      return undefined;
    });
    this.keys = loading;
    return loading;
  }
}
