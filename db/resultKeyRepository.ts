// The keys that sign container results (dag_result_keys; lib/io/resultSignature.ts says what is
// signed). The first app that needs a key creates one, inserted only while the table is empty, so
// concurrent first calls agree on it; its 32 random bytes are made by Postgres (gen_random_uuid is
// a cryptographic generator), so that the secret never travels as a statement parameter (which
// server logs may show).
import { z } from 'zod';
import { query, type Queryable } from './queryable';
import { sql } from './sql';

export interface ResultKey {
  keyId: number;
  secret: Buffer;
}

const KeyRow = z.object({ key_id: z.number().int(), secret: z.string().regex(/^[0-9a-f]{64}$/) });

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
            SELECT 1, encode(sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text, 'UTF8')), 'hex')
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

/** How long a process keeps the keys it read before it reads them again. */
export const RESULT_KEYS_REFRESH_MS = 5 * 60_000;
/** A key id it does not hold, a signature that does not match, or an error: read again this soon at most. */
export const RESULT_KEYS_RECHECK_MS = 60_000;

/**
 * The result keys of one process: the worker signs with `signing()`, the trigger checks with `byId()`.
 * Read at first use and again every RESULT_KEYS_REFRESH_MS (a key added or deleted since reaches
 * every process within that time); `recheck()` reads them sooner, at most once per
 * RESULT_KEYS_RECHECK_MS, when a signature names a key this process does not hold or does not match
 * it (the table was rebuilt with a new key 1). Nothing here throws: without keys (the table not
 * migrated yet, Postgres down) results go unsigned and are read from Postgres, as before signing;
 * a failed read keeps the keys read before.
 */
export class ResultKeys {
  private keys: ResultKey[] | undefined;
  private readAt = Number.NEGATIVE_INFINITY;
  private reading: Promise<void> | undefined;

  constructor(
    private readonly db: Queryable,
    private readonly schema: string,
    private readonly onError: (err: unknown) => void = () => {},
    private readonly timing = { refreshMs: RESULT_KEYS_REFRESH_MS, recheckMs: RESULT_KEYS_RECHECK_MS },
  ) {}

  /** The newest key (undefined: none could be read). */
  async signing(): Promise<ResultKey | undefined> {
    return (await this.read(this.timing.refreshMs))?.[0];
  }

  /** The key of that id this process holds. */
  async byId(keyId: number): Promise<ResultKey | undefined> {
    return (await this.read(this.timing.refreshMs))?.find((k) => k.keyId === keyId);
  }

  /** The key of that id, read again first unless the keys were read less than recheckMs ago. */
  async recheck(keyId: number): Promise<ResultKey | undefined> {
    return (await this.read(this.timing.recheckMs))?.find((k) => k.keyId === keyId);
  }

  private async read(maxAgeMs: number): Promise<ResultKey[] | undefined> {
    // At most one read per recheckMs whatever asks; without keys (the last read failed) one then.
    // A caller that comes while a read is under way waits for it.
    if (!this.reading && Date.now() - this.readAt >= (this.keys ? maxAgeMs : this.timing.recheckMs)) {
      this.readAt = Date.now();
      this.reading = loadResultKeys(this.db, this.schema).then(
        (keys) => {
          this.keys = keys;
        },
        (err: unknown) => this.onError(err),
      );
      void this.reading.finally(() => {
        this.reading = undefined;
      });
    }
    await this.reading;
    return this.keys;
  }
}
