// Fuzzed bodies, SQL-injection strings in references, route parameters and query strings on every
// platform route: always a JSON answer, never a 5xx or a stack trace; accepted references are stored
// exactly as sent (data, never SQL), and the schema is intact afterwards.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { ALL_TABLES } from '../../db';
import { NASTY_STRINGS } from '../db/helpers';
import { startStack, type Stack } from './stack';

let stack: Stack;
let failed = false;
let assetId = '';
type Body = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const INJECTIONS = [
  ...NASTY_STRINGS,
  "' OR 1=1 --",
  "x'; UPDATE asset_versions SET approval_state = 'approved'; --",
  '"; DROP SCHEMA public CASCADE; --',
  '1; SELECT pg_terminate_backend(pg_backend_pid()); --',
  '../../etc/passwd',
  '%27%20OR%20%271%27%3D%271',
  '\u0000',
  '\ud800',
];

beforeAll(async () => {
  stack = await startStack();
  await stack.api('POST', '/api/bootstrap/seed-platforms?confirm=yes');
  const r = await stack.api<Body>('POST', '/api/platform/submit', {
    platform_id: 'geonode',
    platform_refs: { uuid: 'fuzz-base' },
    workflow_id: 'hello_world',
  });
  assetId = r.body.asset_id;
}, 120_000);
afterAll(async () => {
  await stack?.stop(failed);
});

const nasty = fc.oneof(
  fc.constantFrom(...INJECTIONS),
  fc.string({ maxLength: 80 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
);

const HOST_CODES = ['not-found', 'method-not-allowed'];

/** A path segment; lone surrogates (not encodable) become U+FFFD. */
const enc = (s: string) =>
  encodeURIComponent(
    s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd'),
  );

function checkAnswer(r: { status: number; body: unknown }, what: string) {
  expect(r.status, `${what} → ${JSON.stringify(r.body).slice(0, 400)}`).toBeLessThan(500);
  expect(typeof r.body, what).toBe('object');
  if (r.status >= 400) {
    const e = (r.body as Body).error;
    // The host's own answer when no function matches the path (e.g. a segment that normalizes away).
    if (HOST_CODES.includes(e?.code)) return;
    expect(e?.code, what).toMatch(/^[A-Z_]+$/);
    expect(e?.message.length, what).toBeGreaterThan(5);
    expect(JSON.stringify(r.body), what).not.toMatch(/\n\s+at |node_modules|\.ts:\d+/);
  }
}

describe('fuzzing the platform API', () => {
  it('submit bodies: injection strings in references are 202 and stored as data, or a 4xx naming the problem', async () => {
    onTestFailed(() => {
      failed = true;
    });
    const stored: Array<{ id: string; refs: Body }> = [];
    const refValue = fc.oneof(
      nasty,
      fc.integer(),
      fc.boolean(),
      fc.double(),
      fc.constant(null),
      fc.jsonValue({ maxDepth: 2 }),
    );
    const body = fc.oneof(
      fc.record({
        platform_id: fc.oneof(fc.constantFrom('ddh', 'geonode', 'arcgis'), nasty),
        platform_refs: fc.oneof(
          fc.record({ dataset_id: nasty, resource_id: nasty }),
          fc.record({ uuid: refValue }),
          fc.dictionary(nasty, refValue, { maxKeys: 4 }),
          fc.jsonValue({ maxDepth: 2 }),
        ),
        workflow_id: fc.oneof(fc.constantFrom('hello_world', 'raster_ingest'), nasty),
        input_params: fc.oneof(
          fc.constant({}),
          fc.dictionary(nasty, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
          fc.jsonValue({ maxDepth: 2 }),
        ),
        request_id: fc.option(nasty, { nil: undefined }),
        submitted_by: fc.option(nasty, { nil: undefined }),
        version_label: fc.option(nasty, { nil: undefined }),
        data_type: fc.option(fc.oneof(fc.constantFrom('raster', 'vector'), nasty), { nil: undefined }),
      }),
      fc.jsonValue({ maxDepth: 3 }),
      fc.constantFrom('{', 'null', '[]', '"x"', '\u0000', '{"platform_id": "ddh", "platform_refs": []}'),
    );
    await fc.assert(
      fc.asyncProperty(body, fc.boolean(), async (b, compat) => {
        const route = compat ? '/api/v1/domain/submit' : '/api/platform/submit';
        const r = await stack.api<Body>('POST', route, typeof b === 'string' ? b : JSON.stringify(b));
        checkAnswer(r, `${route} ${JSON.stringify(b).slice(0, 300)}`);
        if (r.status === 202) stored.push({ id: r.body.asset_id, refs: (b as Body).platform_refs });
      }),
      { numRuns: 250 },
    );
    // Make sure the injection strings themselves went through as references.
    for (const s of INJECTIONS.filter((x) => x.length > 0 && x.length <= 256)) {
      const r = await stack.api<Body>('POST', '/api/platform/submit', {
        platform_id: 'ddh',
        platform_refs: { dataset_id: s, resource_id: 'inj' },
        workflow_id: 'hello_world',
      });
      checkAnswer(r, `injection ${JSON.stringify(s)}`);
      if (s.includes('\u0000') || s === '\ud800') expect(r.status).toBe(400);
      else {
        expect(r.status, JSON.stringify(r.body)).toBe(202);
        stored.push({ id: r.body.asset_id, refs: { dataset_id: s, resource_id: 'inj' } });
      }
    }
    expect(stored.length).toBeGreaterThan(INJECTIONS.length - 3);
    for (const { id, refs } of stored) {
      const a = await stack.api<Body>('GET', `/api/assets/${id}`);
      expect(a.body.platform_refs).toEqual(refs);
    }
    // Every table is still there (none dropped by an "injection").
    const tables = await stack.schema.pool.query(`SELECT tablename FROM pg_tables WHERE schemaname = $1`, [
      stack.schema.schema,
    ]);
    const names = new Set(tables.rows.map((x) => x.tablename as string));
    for (const table of ALL_TABLES) expect(names.has(table.name), table.name).toBe(true);
    const versions = await stack.schema.pool.query(
      `SELECT count(*)::int AS n FROM asset_versions WHERE approval_state = 'approved'`,
    );
    expect(versions.rows[0].n).toBe(0);
  }, 300_000);

  it('route parameters, query strings and bodies of the other routes', async () => {
    onTestFailed(() => {
      failed = true;
    });
    const segment = nasty.filter((x) => x.trim() !== '' && x !== '.' && x !== '..');
    const id = fc.oneof(fc.constant(assetId), fc.constant('0'.repeat(32)), segment);
    const ordinal = fc.oneof(fc.constantFrom('0', '1', '-1', '1.5', '99999999999', 'latest'), segment);
    const routes: Array<fc.Arbitrary<[string, string]>> = [
      fc.tuple(fc.constant('GET'), fc.constant('/api/assets')),
      id.map((i) => ['GET', `/api/assets/${enc(i)}`] as [string, string]),
      id.map((i) => ['GET', `/api/assets/${enc(i)}/versions`] as [string, string]),
      id.map((i) => ['GET', `/api/assets/${enc(i)}/audit`] as [string, string]),
      fc
        .tuple(id, ordinal)
        .map(([i, o]) => ['GET', `/api/assets/${enc(i)}/versions/${enc(o)}`] as [string, string]),
      fc
        .tuple(id, ordinal, fc.constantFrom('approve', 'reject', 'reprocess'))
        .map(([i, o, a]) => ['POST', `/api/assets/${enc(i)}/versions/${enc(o)}/${a}`] as [string, string]),
      fc
        .tuple(id, fc.oneof(fc.constantFrom('ouo', 'cleared', 'public'), nasty))
        .map(([i, l]) => ['POST', `/api/assets/${enc(i)}/clearance/${enc(l)}`] as [string, string]),
      id.map((i) => ['DELETE', `/api/assets/${enc(i)}`] as [string, string]),
      id.map((i) => ['POST', `/api/assets/${enc(i)}/restore`] as [string, string]),
      segment.map((r) => ['GET', `/api/platform/status/${enc(r)}`] as [string, string]),
      fc.constantFrom<[string, string]>(
        ['GET', '/api/platforms'],
        ['POST', '/api/platforms'],
        ['GET', '/api/layer-metadata'],
        ['POST', '/api/layer-metadata'],
      ),
      segment.map((p) => ['PATCH', `/api/platforms/${enc(p)}`] as [string, string]),
      id.map((i) => ['PUT', `/api/layer-metadata/${enc(i)}`] as [string, string]),
      id.map((i) => ['GET', `/api/layer-metadata/${enc(i)}`] as [string, string]),
    ];
    const query = fc.dictionary(
      fc.constantFrom(
        'platform_id',
        'include_deleted',
        'clearance_state',
        'refs',
        'limit',
        'cursor',
        'actor',
        'data_type',
        'include_inactive',
        'x',
      ),
      fc.oneof(
        nasty,
        fc.constantFrom('0', '-1', '501', 'true', 'ouo', '{"uuid":"fuzz-base"}', 'eyJ0IjoxfQ', '[1]'),
      ),
      { maxKeys: 3 },
    );
    const body = fc.oneof(
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
      fc
        .record({
          reviewer: fc.option(nasty, { nil: undefined }),
          reason: fc.option(nasty, { nil: undefined }),
          actor: fc.option(nasty, { nil: undefined }),
        })
        .map((v) => JSON.stringify(v)),
      fc
        .record({
          asset_id: id,
          display_name: nasty,
          version: fc.oneof(fc.integer(), nasty),
          min_zoom: fc.integer({ min: -5, max: 30 }),
          keywords: fc.array(nasty, { maxLength: 3 }),
        })
        .map((v) => JSON.stringify(v)),
      fc
        .record({ platform_id: nasty, display_name: nasty, required_refs: fc.array(nasty, { maxLength: 3 }) })
        .map((v) => JSON.stringify(v)),
      fc.constantFrom('', '{', '\u0000', 'null'),
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(...routes), query, body, async ([method, route], q, b) => {
        const qs = new URLSearchParams(q).toString();
        const url = `${route}${qs ? `?${qs}` : ''}`;
        const r = await stack.api<Body>(method, url, method === 'GET' || method === 'DELETE' ? undefined : b);
        checkAnswer(r, `${method} ${url} ${b.slice(0, 200)}`);
      }),
      { numRuns: 400 },
    );
  }, 300_000);
});
