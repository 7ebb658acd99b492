// DAG_AUTH_ENABLED: platform mutations need the App Service principal (x-ms-client-principal), review
// needs one of DAG_REVIEWER_ROLES and clearance / delete one of DAG_CLEARANCE_ROLES; the actor
// recorded is the principal, never the body.
import { afterAll, beforeAll, expect, it, onTestFailed } from 'vitest';
import { startStack, type Stack } from './stack';

let stack: Stack;
let failed = false;
type Body = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

beforeAll(async () => {
  stack = await startStack({
    env: {
      DAG_AUTH_ENABLED: 'true',
      DAG_REVIEWER_ROLES: 'Asset.Review',
      DAG_CLEARANCE_ROLES: 'Data.Steward,Admin',
    },
  });
  await stack.api('POST', '/api/bootstrap/seed-platforms?confirm=yes');
}, 120_000);
afterAll(async () => {
  await stack?.stop(failed);
});

const principal = (name: string, roles: string[]) => ({
  'x-ms-client-principal': Buffer.from(
    JSON.stringify({
      auth_typ: 'aad',
      name_typ: 'preferred_username',
      role_typ: 'roles',
      claims: [{ typ: 'preferred_username', val: name }, ...roles.map((r) => ({ typ: 'roles', val: r }))],
    }),
  ).toString('base64'),
});

async function waitCompleted(assetId: string) {
  for (let i = 0; i < 300; i++) {
    const r = await stack.api<Body>('GET', `/api/assets/${assetId}/versions/0`);
    if (r.body.processing_state === 'completed') return;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error('version never completed');
}

it('401 without a principal, 403 without the role, the principal recorded as actor', async () => {
  onTestFailed(() => {
    failed = true;
  });
  const body = {
    platform_id: 'geonode',
    platform_refs: { uuid: 'u-1' },
    workflow_id: 'hello_world',
    submitted_by: 'spoof',
  };
  const anon = await stack.api<Body>('POST', '/api/platform/submit', body);
  expect(anon.status).toBe(401);
  expect(anon.body.error.details.field).toBe('x-ms-client-principal');
  const s = await stack.api<Body>('POST', '/api/platform/submit', body, principal('portal@contoso.com', []));
  expect(s.status).toBe(202);
  await waitCompleted(s.body.asset_id);
  const v = await stack.api<Body>('GET', `/api/assets/${s.body.asset_id}/versions/0`);
  expect(v.body.submitted_by).toBe('portal@contoso.com');

  const approve = `/api/assets/${s.body.asset_id}/versions/0/approve`;
  expect((await stack.api<Body>('POST', approve, { reviewer: 'rita' })).status).toBe(401);
  const noRole = await stack.api<Body>('POST', approve, {}, principal('rita@contoso.com', ['Data.Steward']));
  expect(noRole.status).toBe(403);
  expect(noRole.body.error.message).toMatch(/needs one of the roles Asset\.Review/);
  expect(noRole.body.error.details).toMatchObject({ field: 'roles', required: ['Asset.Review'] });
  const ok = await stack.api<Body>(
    'POST',
    approve,
    { reviewer: 'mallory' },
    principal('rita@contoso.com', ['Asset.Review']),
  );
  expect(ok.status).toBe(200);
  expect(ok.body.reviewer).toBe('rita@contoso.com');

  const clear = `/api/assets/${s.body.asset_id}/clearance/ouo`;
  expect(
    (await stack.api<Body>('POST', clear, {}, principal('rita@contoso.com', ['Asset.Review']))).status,
  ).toBe(403);
  const cleared = await stack.api<Body>(
    'POST',
    clear,
    { actor: 'spoof' },
    principal('dee@contoso.com', ['Admin']),
  );
  expect(cleared.body.asset).toMatchObject({ clearance_state: 'ouo', cleared_by: 'dee@contoso.com' });
  expect(
    (
      await stack.api<Body>(
        'DELETE',
        `/api/assets/${s.body.asset_id}?actor=x`,
        undefined,
        principal('rita@contoso.com', []),
      )
    ).status,
  ).toBe(403);

  // Reads stay open (function key only).
  expect((await stack.api<Body>('GET', `/api/assets/${s.body.asset_id}`)).status).toBe(200);
  const audit = await stack.api<Body>('GET', `/api/assets/${s.body.asset_id}/audit`);
  expect(audit.body.entries.map((e: Body) => e.actor)).toEqual([
    'portal@contoso.com',
    'portal@contoso.com',
    'system:functionapp',
    'system:functionapp',
    'rita@contoso.com',
    'dee@contoso.com',
  ]);
}, 60_000);
