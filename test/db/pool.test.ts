import { type AccessToken, type TokenCredential } from '@azure/identity';
import { describe, expect, it } from 'vitest';
import {
  acquireSessionLock,
  createPool,
  entraPasswordProvider,
  loadDbConfig,
  poolOptions,
  tryWithAdvisoryLock,
  withAdvisoryLock,
  DbError,
} from '../../db';
import { TEST_DATABASE_URL, useTestSchema } from '../support/pg';

class FakeCredential implements TokenCredential {
  calls = 0;
  constructor(
    private readonly lifetimeMs: number,
    private readonly now: () => number,
  ) {}
  async getToken(scope: string | string[]): Promise<AccessToken> {
    this.calls++;
    expect(scope).toBe('https://ossrdbms-aad.database.windows.net/.default');
    return { token: `token-${this.calls}`, expiresOnTimestamp: this.now() + this.lifetimeMs };
  }
}

describe('configuration', () => {
  it('reads DATABASE_URL and the DAG_DB_* variables with defaults', () => {
    const c = loadDbConfig({ DATABASE_URL: 'postgres://u@h:5432/d' });
    expect(c).toMatchObject({
      connectionString: 'postgres://u@h:5432/d',
      auth: 'password',
      schema: 'dagapp',
      poolMax: 10,
      statementTimeoutMs: 30000,
      applicationName: 'rmhdagmaster',
    });
    const e = loadDbConfig({
      DAG_DB_HOST: 'srv.postgres.database.azure.com',
      DAG_DB_NAME: 'dag',
      DAG_DB_USER: 'my-identity',
      DAG_DB_AUTH: 'entra',
      DAG_DB_SCHEMA: 'other',
      DAG_DB_POOL_MAX: '4',
      DAG_DB_STATEMENT_TIMEOUT_MS: '5000',
      DAG_DB_APPLICATION_NAME: 'worker',
    });
    expect(e).toMatchObject({
      host: 'srv.postgres.database.azure.com',
      database: 'dag',
      user: 'my-identity',
      auth: 'entra',
      schema: 'other',
      poolMax: 4,
    });
    const opts = poolOptions(e, { credential: new FakeCredential(3_600_000, Date.now) });
    expect(opts).toMatchObject({
      max: 4,
      statement_timeout: 5000,
      application_name: 'worker',
      ssl: { rejectUnauthorized: true },
    });
    expect(typeof opts.password).toBe('function');
  });

  it('says what is wrong with a bad configuration', () => {
    expect(() => loadDbConfig({})).toThrow(/DATABASE_URL/);
    expect(() => loadDbConfig({ DATABASE_URL: 'postgres://h/d', DAG_DB_POOL_MAX: 'many' })).toThrow(
      /DAG_DB_POOL_MAX/,
    );
    expect(() => loadDbConfig({ DAG_DB_HOST: 'h', DAG_DB_AUTH: 'entra' })).toThrow(/DAG_DB_USER/);
    expect(() => loadDbConfig({ DATABASE_URL: 'x', DAG_DB_AUTH: 'kerberos' })).toThrow(DbError);
  });
});

describe('Entra token password', () => {
  it('caches the token and refreshes it before expiry; concurrent callers share one request', async () => {
    let now = 1_000_000;
    const cred = new FakeCredential(60 * 60_000, () => now);
    const password = entraPasswordProvider(cred, undefined, { refreshMarginMs: 5 * 60_000, now: () => now });
    const [a, b] = await Promise.all([password(), password()]);
    expect([a, b, cred.calls]).toEqual(['token-1', 'token-1', 1]);
    now += 54 * 60_000; // 6 minutes left: still cached
    expect(await password()).toBe('token-1');
    now += 2 * 60_000; // 4 minutes left: refreshed
    expect(await password()).toBe('token-2');
  });

  it('explains a credential failure', async () => {
    const password = entraPasswordProvider({
      getToken: async () => Promise.reject(new Error('no identity')),
    });
    await expect(password()).rejects.toThrow(/Entra token.*no identity.*AZURE_CLIENT_ID/s);
  });

  it('a pool in entra mode connects, with the token provider as its password callback', async () => {
    const cred = new FakeCredential(3_600_000, Date.now);
    const u = new URL(TEST_DATABASE_URL);
    const config = loadDbConfig({
      DAG_DB_HOST: u.hostname,
      DAG_DB_PORT: u.port || '5432',
      DAG_DB_NAME: u.pathname.slice(1),
      DAG_DB_USER: u.username || 'postgres',
      DAG_DB_AUTH: 'entra',
      DAG_DB_SSL: 'disable',
    });
    const pool = createPool(config, { credential: cred });
    try {
      const r = await pool.query(
        "SELECT current_setting('application_name') AS app, current_setting('statement_timeout') AS st",
      );
      expect(r.rows[0]).toEqual({ app: 'rmhdagmaster', st: '30s' });
      // The local server trusts 127.0.0.1 and never asks for a password; the callback pg would call gives the token.
      const password = poolOptions(config, { credential: cred }).password as () => Promise<string>;
      expect(await password()).toMatch(/^token-/);
    } finally {
      await pool.end();
    }
  });
});

describe('advisory locks', () => {
  const db = useTestSchema('lock');

  it('withAdvisoryLock serializes critical sections; tryWithAdvisoryLock does not wait', async () => {
    const { pool, schema } = db();
    const key = `test:${schema}`;
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const first = withAdvisoryLock(pool, key, async () => {
      order.push('first:in');
      await gate;
      order.push('first:out');
    });
    while (order.length === 0) await new Promise((r) => setTimeout(r, 5));
    expect(await tryWithAdvisoryLock(pool, key, async () => 'x')).toEqual({ acquired: false });
    const second = withAdvisoryLock(pool, key, async () => {
      order.push('second');
    });
    await new Promise((r) => setTimeout(r, 50));
    release();
    await Promise.all([first, second]);
    expect(order).toEqual(['first:in', 'first:out', 'second']);
    expect(await tryWithAdvisoryLock(pool, key, async () => 42)).toEqual({ acquired: true, result: 42 });
  });

  it('a session lock is held until released, and only one holder exists', async () => {
    const { pool, schema } = db();
    const key = `leader:${schema}`;
    const a = await acquireSessionLock(pool, key);
    expect(a).not.toBeNull();
    expect(await acquireSessionLock(pool, key)).toBeNull();
    expect(await a!.isHeld()).toBe(true);
    await a!.release();
    await a!.release();
    expect(await a!.isHeld()).toBe(false);
    const b = await acquireSessionLock(pool, key);
    expect(b).not.toBeNull();
    await b!.release();
  });

  it('rolls back the transaction when the critical section throws', async () => {
    // A fixture table of the test's own: created and written by the administrator.
    const { adminPool: pool, schema } = db();
    await pool.query(`CREATE TABLE "${schema}".t (x int)`);
    await expect(
      withAdvisoryLock(pool, `rb:${schema}`, async (tx) => {
        await tx.query(`INSERT INTO "${schema}".t VALUES (1)`);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect((await pool.query(`SELECT count(*)::int AS n FROM "${schema}".t`)).rows[0].n).toBe(0);
  });
});
