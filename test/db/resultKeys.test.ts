// The keys that sign container results (dag_result_keys): created once by whichever app needs one
// first — concurrent first reads agree — read newest first and again as the process's cache ages,
// sooner (at most once per recheck interval) when a signature names a key the process does not hold
// or no longer matches; a process that cannot read them (the table missing: a database not migrated
// yet) signs and checks nothing instead of failing.
import { describe, expect, it } from 'vitest';
import { loadResultKeys, ResultKeys } from '../../db';
import { useDeployedSchema } from './helpers';
import { useTestSchema } from '../support/pg';

const db = useDeployedSchema();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('result keys', () => {
  it('the first reads create one key, made by Postgres; concurrent first reads (the app role) agree on it', async () => {
    const t = db();
    const all = await Promise.all(Array.from({ length: 8 }, () => loadResultKeys(t.pool, t.schema)));
    const rows = await t.pool.query(`SELECT key_id, secret FROM "${t.schema}".dag_result_keys`);
    expect(rows.rows).toHaveLength(1);
    expect(rows.rows[0].secret).toMatch(/^[0-9a-f]{64}$/);
    for (const keys of all) {
      expect(keys).toHaveLength(1);
      expect(keys[0]!.keyId).toBe(1);
      expect(keys[0]!.secret.toString('hex')).toBe(rows.rows[0].secret);
    }
    // Processes starting together: every first caller of one cache gets the key, none goes unsigned.
    const cache = new ResultKeys(t.pool, t.schema);
    const firsts = await Promise.all(Array.from({ length: 5 }, () => cache.signing()));
    expect(firsts.map((k) => k?.keyId)).toEqual([1, 1, 1, 1, 1]);
  });

  it('a key added later signs once the cache is refreshed; an older one still checks; ids and secrets are checked', async () => {
    const t = db();
    const keys = new ResultKeys(t.pool, t.schema, undefined, { refreshMs: 300, recheckMs: 100 });
    expect((await keys.signing())!.keyId).toBe(1);
    await t.pool.query(
      `INSERT INTO "${t.schema}".dag_result_keys (key_id, secret) VALUES (2, repeat('ab', 32))`,
    );
    // Read before key 2 existed: signs with key 1 until its keys are read again.
    expect((await keys.signing())!.keyId).toBe(1);
    await sleep(350);
    expect((await keys.signing())!.keyId).toBe(2);
    expect((await keys.byId(1))!.keyId).toBe(1);
    expect(await keys.byId(3)).toBeUndefined();
    // A signature names its key in 9 digits at most; a secret is 64 lowercase hex characters.
    await expect(
      t.pool.query(
        `INSERT INTO "${t.schema}".dag_result_keys (key_id, secret) VALUES (1000000000, repeat('ab', 32))`,
      ),
    ).rejects.toThrow(/dag_result_keys_key_id_check/);
    await expect(
      t.pool.query(`INSERT INTO "${t.schema}".dag_result_keys (key_id, secret) VALUES (4, 'AB')`),
    ).rejects.toThrow(/dag_result_keys_secret_check/);
  });

  it('recheck reads a replaced key at once, then not again within the recheck interval', async () => {
    const t = db();
    const keys = new ResultKeys(t.pool, t.schema, undefined, { refreshMs: 60_000, recheckMs: 200 });
    const before = (await keys.byId(1))!;
    // The table rebuilt: key 1 again, another secret.
    await t.pool.query(`UPDATE "${t.schema}".dag_result_keys SET secret = repeat('cd', 32) WHERE key_id = 1`);
    await sleep(250);
    expect((await keys.byId(1))!.secret).toEqual(before.secret);
    const after = (await keys.recheck(1))!;
    expect(after.secret.toString('hex')).toBe('cd'.repeat(32));
    await t.pool.query(`UPDATE "${t.schema}".dag_result_keys SET secret = repeat('ef', 32) WHERE key_id = 1`);
    // Within the interval a recheck does not read (a flood of bad signatures costs one read a minute).
    expect((await keys.recheck(1))!.secret.toString('hex')).toBe('cd'.repeat(32));
  });
});

describe('result keys without their table', () => {
  const bare = useTestSchema('rk');
  it('no key, no exception: the error is reported, nothing is signed, and the table is asked again only after the recheck interval', async () => {
    const t = bare();
    const errors: unknown[] = [];
    const keys = new ResultKeys(t.adminPool, t.schema, (err) => errors.push(err), {
      refreshMs: 60_000,
      recheckMs: 200,
    });
    expect(await keys.signing()).toBeUndefined();
    expect(await keys.byId(1)).toBeUndefined();
    expect(await keys.recheck(1)).toBeUndefined();
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).toMatch(/dag_result_keys/);
    await sleep(250);
    expect(await keys.signing()).toBeUndefined();
    expect(errors).toHaveLength(2);
  });
});
