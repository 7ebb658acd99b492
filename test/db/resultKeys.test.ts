// The keys that sign container results (dag_result_keys): created once by whichever app needs one
// first — concurrent first calls agree — read newest first, and a process that cannot read them
// (the table missing: a database not migrated yet) signs and checks nothing instead of failing.
import { describe, expect, it } from 'vitest';
import { loadResultKeys, ResultKeys } from '../../db';
import { useDeployedSchema } from './helpers';
import { useTestSchema } from '../support/pg';

const db = useDeployedSchema();

describe('result keys', () => {
  it('the first reads create one key; concurrent first reads (the app role) agree on it', async () => {
    const t = db();
    const all = await Promise.all(Array.from({ length: 8 }, () => loadResultKeys(t.pool, t.schema)));
    const rows = await t.pool.query(`SELECT key_id, secret FROM "${t.schema}".dag_result_keys`);
    expect(rows.rows).toHaveLength(1);
    for (const keys of all) {
      expect(keys).toHaveLength(1);
      expect(keys[0]!.keyId).toBe(1);
      expect(keys[0]!.secret.toString('hex')).toBe(rows.rows[0].secret);
      expect(keys[0]!.secret).toHaveLength(32);
    }
  });

  it('a key added later is the one that signs; the older one still checks', async () => {
    const t = db();
    await loadResultKeys(t.pool, t.schema);
    const keys = new ResultKeys(t.pool, t.schema);
    expect((await keys.signing())!.keyId).toBe(1);
    await t.pool.query(
      `INSERT INTO "${t.schema}".dag_result_keys (key_id, secret) VALUES (2, repeat('ab', 32))`,
    );
    // This process read the table before key 2 existed: it keeps signing with key 1 until it reads again.
    expect((await keys.signing())!.keyId).toBe(1);
    expect((await new ResultKeys(t.pool, t.schema).signing())!.keyId).toBe(2);
    expect((await new ResultKeys(t.pool, t.schema).byId(1))!.keyId).toBe(1);
    expect(await new ResultKeys(t.pool, t.schema).byId(3)).toBeUndefined();
  });
});

describe('result keys without their table', () => {
  const bare = useTestSchema('rk');
  it('no key, no exception: the error is reported once and nothing is signed', async () => {
    const t = bare();
    const errors: unknown[] = [];
    const keys = new ResultKeys(t.adminPool, t.schema, (err) => errors.push(err));
    expect(await keys.signing()).toBeUndefined();
    expect(await keys.byId(1)).toBeUndefined();
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).toMatch(/dag_result_keys/);
  });
});
