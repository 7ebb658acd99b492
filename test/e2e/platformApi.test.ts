// The platform API over HTTP on the local stack (dev host running functions/index.ts, Postgres,
// Azurite): seed, submit (both routes), pre-flight with every problem at once, idempotency, the
// concurrency rules (one pending version per asset, one winning approval), failed jobs, cancel and
// the reconciler settling versions, artifacts from a workflow's artifacts: map, clearance, soft
// delete/restore, reprocess, reads with cursor paging, layer metadata, the audit log.
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { jobInstanceId } from '../../activities/contracts';
import { startStack, type Stack } from './stack';

let stack: Stack;
let failed = false;

type Body = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

beforeAll(async () => {
  stack = await startStack({ env: { DAG_RECONCILE_GRACE_SECONDS: '1' } });
  stack.writeWorkflow({
    workflow_id: 'plat_fail',
    name: 'fails',
    nodes: {
      start: { type: 'start', next: 'boom' },
      boom: {
        type: 'task',
        handler: 'fail',
        params: { error_message: 'the raster is corrupt' },
        retry: { max_attempts: 0 },
        next: 'end',
      },
      end: { type: 'end' },
    },
  });
  stack.writeWorkflow({
    workflow_id: 'plat_artifacts',
    name: 'artifacts',
    inputs: { name: { type: 'string' } },
    artifacts: {
      blob_path: 'silver/{{ nodes.make.output.echoed_params.blob }}',
      stac_item_id: '{{ inputs.name }}',
      content_hash: '{{ nodes.make.output.task_id }}',
    },
    nodes: {
      start: { type: 'start', next: 'make' },
      make: { type: 'task', handler: 'echo', params: { blob: '{{ inputs.name }}.tif' }, next: 'end' },
      end: { type: 'end' },
    },
  });
  stack.writeWorkflow({
    workflow_id: 'plat_slow',
    name: 'slow',
    nodes: {
      start: { type: 'start', next: 'nap' },
      nap: { type: 'task', handler: 'sleep', params: { duration_seconds: 60 }, next: 'end' },
      end: { type: 'end' },
    },
  });
  const seed = await stack.api<Body>('POST', '/api/bootstrap/seed-platforms?confirm=yes');
  expect(seed.body).toEqual({ seeded: ['ddh', 'arcgis', 'geonode'], skipped_existing: [], errors: [] });
}, 120_000);

afterAll(async () => {
  await stack?.stop(failed);
});

const track = () =>
  onTestFailed(() => {
    failed = true;
  });

let seq = 0;
const refs = () => ({ dataset_id: `ds-${++seq}`, resource_id: 'res-1' });

async function submit(body: Body, route = '/api/platform/submit') {
  return stack.api<Body>('POST', route, {
    platform_id: 'ddh',
    workflow_id: 'hello_world',
    input_params: {},
    ...body,
  });
}

async function waitVersion(
  assetId: string,
  ordinal: number,
  states: string[],
  timeoutMs = 30_000,
): Promise<Body> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const r = await stack.api<Body>('GET', `/api/assets/${assetId}/versions/${ordinal}`);
    if (r.status === 200 && states.includes(r.body.processing_state)) return r.body;
    if (Date.now() > until) throw new Error(`version ${assetId}/${ordinal}: ${JSON.stringify(r.body)}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

async function processed(body: Body): Promise<Body> {
  const r = await submit(body);
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  const v = await waitVersion(r.body.asset_id, r.body.version_ordinal, ['completed', 'failed']);
  return { ...r.body, v };
}

describe('platforms', () => {
  it('seed is idempotent; admin routes add, update and deactivate platforms', async () => {
    track();
    const again = await stack.api<Body>('POST', '/api/bootstrap/seed-platforms?confirm=yes');
    expect(again.body).toMatchObject({ seeded: [], skipped_existing: ['ddh', 'arcgis', 'geonode'] });
    expect((await stack.api<Body>('POST', '/api/bootstrap/seed-platforms')).status).toBe(400);
    const list = await stack.api<Body>('GET', '/api/platforms');
    expect(list.body.platforms.map((p: Body) => [p.platform_id, p.required_refs])).toEqual([
      ['arcgis', ['item_id', 'layer_index']],
      ['ddh', ['dataset_id', 'resource_id']],
      ['geonode', ['uuid']],
    ]);
    const created = await stack.api<Body>('POST', '/api/platforms', {
      platform_id: 'acme',
      display_name: 'ACME portal',
      required_refs: ['doc_id'],
      optional_refs: ['lang'],
      actor: 'admin@acme',
    });
    expect(created.status).toBe(201);
    const bad = await stack.api<Body>('POST', '/api/platforms', {
      platform_id: 'Bad Id',
      display_name: '',
      required_refs: [],
    });
    expect(bad.status).toBe(400);
    expect((bad.body.error.details as Body[]).map((d) => d.path).sort()).toEqual([
      'display_name',
      'platform_id',
      'required_refs',
    ]);
    const dup = await stack.api<Body>('POST', '/api/platforms', {
      platform_id: 'acme',
      display_name: 'again',
      required_refs: ['doc_id'],
    });
    expect(dup.status).toBe(409);
    expect(dup.body.error.details.field).toBe('platform_id');
    const upd = await stack.api<Body>('PATCH', '/api/platforms/acme', { display_name: 'ACME', version: 1 });
    expect(upd.body).toMatchObject({ display_name: 'ACME', version: 2 });
    const stale = await stack.api<Body>('PATCH', '/api/platforms/acme', { display_name: 'X', version: 1 });
    expect(stale.status).toBe(409);
    expect(stale.body.error.details).toMatchObject({ field: 'version', current: 2 });
    // An asset of acme locks its required references (they make asset identities).
    const s = await submit({ platform_id: 'acme', platform_refs: { doc_id: 'x1' } });
    expect(s.status).toBe(202);
    const locked = await stack.api<Body>('PATCH', '/api/platforms/acme', {
      required_refs: ['doc_id', 'page'],
    });
    expect(locked.status).toBe(409);
    expect(locked.body.error.details.field).toBe('required_refs');
    expect(
      (await stack.api<Body>('PATCH', '/api/platforms/acme', { optional_refs: ['lang', 'page'] })).status,
    ).toBe(200);
    const off = await stack.api<Body>('POST', '/api/platforms/acme/deactivate', { actor: 'admin@acme' });
    expect(off.body.is_active).toBe(false);
    expect(
      (await stack.api<Body>('GET', '/api/platforms')).body.platforms.map((p: Body) => p.platform_id),
    ).not.toContain('acme');
    const refused = await submit({ platform_id: 'acme', platform_refs: { doc_id: 'x2' } });
    expect(refused.status).toBe(400);
    expect(refused.body.error.details).toContainEqual({
      path: 'platform_id',
      message: 'platform "acme" is deactivated',
    });
  });
});

describe('submit', () => {
  it('202 with asset, ordinal, job and request id; the version completes; status by request id', async () => {
    track();
    const r = await submit({
      platform_refs: { resource_id: 'r1', dataset_id: 'd1' },
      request_id: 'req-basic',
      submitted_by: 'alice',
    });
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({
      asset_id: 'a7b2bbc34ab79dbf340d042c2079187b',
      version_ordinal: 0,
      request_id: 'req-basic',
      status: 'accepted',
      created: true,
    });
    const v = await waitVersion(r.body.asset_id, 0, ['completed']);
    expect(v).toMatchObject({
      approval_state: 'pending_review',
      current_job_id: r.body.job_id,
      revision: 0,
      submitted_by: 'alice',
    });
    const job = await stack.api<Body>('GET', `/api/jobs/${r.body.job_id}`);
    expect(job.body.job).toMatchObject({
      status: 'completed',
      asset_id: r.body.asset_id,
      correlation_id: 'req-basic',
    });
    const st = await stack.api<Body>('GET', '/api/platform/status/req-basic');
    expect(st.body).toMatchObject({
      request_id: 'req-basic',
      asset_id: r.body.asset_id,
      version_ordinal: 0,
      processing_state: 'completed',
      job: { job_id: r.body.job_id, status: 'completed' },
    });
    expect((await stack.api<Body>('GET', '/api/platform/status/nope-nope')).status).toBe(404);

    // Idempotent on the request id: same body → 200 with the same version and job.
    const again = await submit({
      platform_refs: { dataset_id: 'd1', resource_id: 'r1' },
      request_id: 'req-basic',
      submitted_by: 'alice',
    });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({
      asset_id: r.body.asset_id,
      version_ordinal: 0,
      job_id: r.body.job_id,
      created: false,
    });
    const other = await submit({
      platform_refs: { dataset_id: 'd1', resource_id: 'r1' },
      request_id: 'req-basic',
      input_params: { message: 'different' },
    });
    expect(other.status).toBe(409);
    expect(other.body.error.details.field).toBe('request_id');

    // A new request for the same refs while version 0 awaits review: 409 naming it.
    const blocked = await submit({ platform_refs: { dataset_id: 'd1', resource_id: 'r1' } });
    expect(blocked.status).toBe(409);
    expect(blocked.body.error.message).toMatch(/version 0 awaiting review/);
    expect(blocked.body.error.details).toMatchObject({ field: 'platform_refs', pending_version_ordinal: 0 });
  });

  it('the original body on POST /api/v1/domain/submit (correlation_id, input_params)', async () => {
    track();
    const r = await submit(
      { platform_refs: refs(), correlation_id: 'corr-1', data_type: 'raster' },
      '/api/v1/domain/submit',
    );
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({
      request_id: 'corr-1',
      correlation_id: 'corr-1',
      status: 'accepted',
      version_ordinal: 0,
    });
  });

  it('pre-flight reports every problem at once', async () => {
    track();
    const r = await stack.api<Body>('POST', '/api/platform/submit', {
      platform_id: 'ddh',
      platform_refs: { dataset_id: 'd-pre', resourse_id: 'x' },
      workflow_id: 'raster_ingest',
      input_params: { blob_name: 'uploads/missing.tif', container_name: 'bronze', collection_id: '  ' },
    });
    expect(r.status).toBe(400);
    const paths = (r.body.error.details as Body[]).map((d) => d.path).sort();
    expect(paths).toEqual([
      'input_params.blob_name',
      'input_params.collection_id',
      'platform_refs',
      'platform_refs.resourse_id',
    ]);
    const msg = r.body.error.message as string;
    expect(msg).toMatch(/^Pre-flight validation failed/);
    expect(msg).toMatch(/missing required reference\(s\) of platform "ddh": resource_id/);
    expect(msg).toMatch(
      /"resourse_id" is not a reference of platform "ddh" \(did you mean "resource_id"\?\)/,
    );
    expect(msg).toMatch(/blob "uploads\/missing.tif" does not exist in container "bronze"/);
    expect(msg).toMatch(/collection_id is required by raster workflows and is missing or blank/);

    const unknown = await stack.api<Body>('POST', '/api/platform/submit', {
      platform_id: 'dhh',
      platform_refs: { a: 1 },
      workflow_id: 'nope',
      input_params: {},
    });
    expect(unknown.status).toBe(400);
    expect((unknown.body.error.details as Body[]).map((d) => d.path).sort()).toEqual([
      'platform_id',
      'workflow_id',
    ]);
    expect(unknown.body.error.message).toMatch(/platform "dhh" is not registered \(did you mean "ddh"\?\)/);

    const shape = await stack.api<Body>('POST', '/api/platform/submit', {
      platform_id: 'ddh',
      platform_refs: { x: { nested: 1 } },
      surprise: 1,
    });
    expect(shape.status).toBe(400);
    const shapePaths = (shape.body.error.details as Body[]).map((d) => d.path);
    expect(shapePaths).toEqual(expect.arrayContaining(['platform_refs.x', 'workflow_id', '(body)']));

    // No unfinished job may carry the request id (here a plain job from POST /api/jobs).
    const jobId = await stack.submit('plat_slow', {}, { correlation_id: 'busy-req' });
    const busy = await submit({ platform_refs: refs(), request_id: 'busy-req' });
    expect(busy.status).toBe(400);
    expect(busy.body.error.details).toContainEqual({
      path: 'request_id',
      message: expect.stringMatching(new RegExp(`job ${jobId} with request id "busy-req" has not finished`)),
    });
    await stack.api('POST', `/api/jobs/${jobId}/cancel`);
  });

  it('20 simultaneous submits of the same refs: one asset, exactly one accepted pending version, 19 × 409', async () => {
    track();
    const same = refs();
    const rs = await Promise.all(Array.from({ length: 20 }, () => submit({ platform_refs: same })));
    const statuses = rs.map((r) => r.status).sort();
    expect(statuses).toEqual([202, ...Array(19).fill(409)]);
    for (const r of rs.filter((x) => x.status === 409))
      expect(r.body.error.details.pending_version_ordinal).toBe(0);
    const assetId = rs.find((r) => r.status === 202)!.body.asset_id as string;
    const c = await stack.schema.pool.query(
      `SELECT (SELECT count(*)::int FROM geospatial_assets WHERE platform_refs @> $1::jsonb) AS assets,
              (SELECT count(*)::int FROM asset_versions WHERE asset_id = $2) AS versions,
              (SELECT count(*)::int FROM asset_versions WHERE asset_id = $2 AND approval_state = 'pending_review') AS pending,
              (SELECT count(*)::int FROM dag_jobs WHERE asset_id = $2) AS jobs`,
      [JSON.stringify(same), assetId],
    );
    expect(c.rows[0]).toEqual({ assets: 1, versions: 1, pending: 1, jobs: 1 });
  });

  it('20 simultaneous submits with different refs: 20 assets; the list pages through them with a cursor', async () => {
    track();
    const rs = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        submit({ platform_id: 'geonode', platform_refs: { uuid: `conc-${i}` } }),
      ),
    );
    expect(rs.map((r) => r.status)).toEqual(Array(20).fill(202));
    expect(new Set(rs.map((r) => r.body.asset_id)).size).toBe(20);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; body: Body } = await stack.api<Body>(
        'GET',
        `/api/assets?platform_id=geonode&limit=7${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
      expect(page.status).toBe(200);
      expect(page.body.assets.length).toBeLessThanOrEqual(7);
      seen.push(...page.body.assets.map((a: Body) => a.asset_id));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(seen.sort()).toEqual(rs.map((r) => r.body.asset_id).sort());
    const byRef = await stack.api<Body>(
      'GET',
      `/api/assets?refs=${encodeURIComponent(JSON.stringify({ uuid: 'conc-3' }))}`,
    );
    expect(byRef.body.assets.map((a: Body) => a.asset_id)).toEqual([rs[3]!.body.asset_id]);
  });
});

describe('review and lifecycle', () => {
  it('two racing approvals: one 200, one 409; latest; clearance uncleared → ouo → public only; reprocess', async () => {
    track();
    const assetRefs = refs();
    const s = await processed({ platform_refs: assetRefs });
    const id = s.asset_id as string;
    expect((await stack.api<Body>('GET', `/api/assets/${id}/versions/latest`)).status).toBe(404);
    const [a, b] = await Promise.all([
      stack.api<Body>('POST', `/api/assets/${id}/versions/0/approve`, { reviewer: 'rita' }),
      stack.api<Body>('POST', `/api/assets/${id}/versions/0/approve`, { reviewer: 'sam' }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    const loser = a.status === 409 ? a : b;
    expect(loser.body.error.details).toMatchObject({ field: 'approval_state', current: 'approved' });
    const latest = await stack.api<Body>('GET', `/api/assets/${id}/versions/latest`);
    expect(latest.body).toMatchObject({ version_ordinal: 0, approval_state: 'approved' });

    // Clearance: public before ouo is refused; ouo then public; public again refused.
    const early = await stack.api<Body>('POST', `/api/assets/${id}/clearance/public`, { actor: 'dee' });
    expect(early.status).toBe(409);
    expect(early.body.error.details).toMatchObject({ field: 'clearance_state', current: 'uncleared' });
    expect(
      (await stack.api<Body>('POST', `/api/assets/${id}/clearance/cleared`, { actor: 'dee' })).body
        .clearance_state,
    ).toBe('ouo');
    expect((await stack.api<Body>('POST', `/api/assets/${id}/clearance/ouo`, { actor: 'dee' })).status).toBe(
      409,
    );
    const pub = await stack.api<Body>('POST', `/api/assets/${id}/clearance/public`, { actor: 'eve' });
    expect(pub.body.asset).toMatchObject({
      clearance_state: 'public',
      cleared_by: 'dee',
      made_public_by: 'eve',
      is_public: true,
    });
    expect(
      (await stack.api<Body>('POST', `/api/assets/${id}/clearance/public`, { actor: 'eve' })).status,
    ).toBe(409);
    expect(
      (await stack.api<Body>('POST', `/api/assets/${id}/clearance/secret`, { actor: 'eve' })).status,
    ).toBe(400);
    expect((await stack.api<Body>('POST', `/api/assets/${id}/clearance/ouo`, {})).status).toBe(400);

    // Reprocess: revision + 1 and a new job; refused while it runs.
    const rp = await stack.api<Body>('POST', `/api/assets/${id}/versions/0/reprocess`, {
      actor: 'ops',
      reason: 'new GDAL',
    });
    expect(rp.status).toBe(202);
    expect(rp.body.revision).toBe(1);
    expect(rp.body.job_id).not.toBe(s.job_id);
    const busy = await stack.api<Body>('POST', `/api/assets/${id}/versions/0/reprocess`, { actor: 'ops' });
    if (busy.status !== 202) {
      expect(busy.status).toBe(409);
      expect(busy.body.error.details.field).toBe('processing_state');
    }
    const v = await waitVersion(id, 0, ['completed']);
    expect(v.approval_state).toBe('approved');
    expect(v.revision).toBeGreaterThanOrEqual(1);

    // A next version after approval gets ordinal 1; rejecting needs a reason of at most 500 characters.
    const n = await submit({ platform_refs: assetRefs });
    expect(n.status).toBe(202);
    expect(n.body.version_ordinal).toBe(1);
    expect(
      (await stack.api<Body>('POST', `/api/assets/${id}/versions/1/reject`, { reviewer: 'rita' })).status,
    ).toBe(400);
    const long = await stack.api<Body>('POST', `/api/assets/${id}/versions/1/reject`, {
      reviewer: 'rita',
      reason: 'x'.repeat(501),
    });
    expect(long.status).toBe(400);
    expect(long.body.error.details[0].path).toBe('reason');
    const rej = await stack.api<Body>('POST', `/api/assets/${id}/versions/1/reject`, {
      reviewer: 'rita',
      reason: 'wrong projection',
    });
    expect(rej.body).toMatchObject({
      approval_state: 'rejected',
      rejection_reason: 'wrong projection',
      reviewer: 'rita',
    });
    expect((await stack.api<Body>('GET', `/api/assets/${id}/versions/latest`)).body.version_ordinal).toBe(0);
    const versions = await stack.api<Body>('GET', `/api/assets/${id}/versions`);
    expect(versions.body.versions.map((x: Body) => x.version_ordinal)).toEqual([1, 0]);
    expect((await stack.api<Body>('GET', `/api/assets/${id}/versions/abc`)).status).toBe(400);
    expect((await stack.api<Body>('GET', `/api/assets/${id}/versions/7`)).status).toBe(404);
    expect((await stack.api<Body>('GET', `/api/assets/${'0'.repeat(32)}`)).status).toBe(404);
    expect((await stack.api<Body>('GET', '/api/assets/not-an-asset')).status).toBe(400);

    // The audit log lists every step with its actor and time (version 1's processing runs meanwhile).
    const audit = await stack.api<Body>('GET', `/api/assets/${id}/audit`);
    const steps = (ordinals: Array<number | null>) =>
      audit.body.entries
        .filter((e: Body) => ordinals.includes(e.version_ordinal))
        .map((e: Body) => `${e.action}:${e.version_ordinal ?? '-'}:${e.actor}`);
    expect(steps([null, 0])).toEqual([
      'asset_created:-:null',
      'version_submitted:0:null',
      'processing_started:0:system:functionapp',
      'processing_completed:0:system:functionapp',
      `version_approved:0:${a.status === 200 ? 'rita' : 'sam'}`,
      'clearance_changed:-:dee',
      'clearance_changed:-:eve',
      'version_reprocessed:0:ops',
      'processing_started:0:system:functionapp',
      'processing_completed:0:system:functionapp',
    ]);
    expect(steps([1])).toEqual(
      expect.arrayContaining(['version_submitted:1:null', 'version_rejected:1:rita']),
    );
    const clearance = audit.body.entries.filter((e: Body) => e.action === 'clearance_changed');
    expect(clearance.map((e: Body) => [e.from, e.to])).toEqual([
      [{ clearance_state: 'uncleared' }, { clearance_state: 'ouo' }],
      [{ clearance_state: 'ouo' }, { clearance_state: 'public' }],
    ]);
    for (const e of audit.body.entries) expect(Date.parse(e.at)).toBeGreaterThan(0);
  });

  it('a failing job fails its version with the error; approval is refused; reprocess after failure', async () => {
    track();
    const s = await processed({ platform_refs: refs(), workflow_id: 'plat_fail' });
    expect(s.v).toMatchObject({ processing_state: 'failed', approval_state: 'pending_review' });
    expect(s.v.last_error).toMatch(/the raster is corrupt/);
    const ap = await stack.api<Body>('POST', `/api/assets/${s.asset_id}/versions/0/approve`, {
      reviewer: 'rita',
    });
    expect(ap.status).toBe(409);
    expect(ap.body.error.details).toMatchObject({ field: 'processing_state', current: 'failed' });
    const rp = await stack.api<Body>('POST', `/api/assets/${s.asset_id}/versions/0/reprocess`, {});
    expect(rp.status).toBe(202);
    const v = await waitVersion(s.asset_id, 0, ['failed']);
    expect(v.revision).toBe(1);
    expect(v.current_job_id).toBe(rp.body.job_id);
  });

  it("artifacts come from the workflow's artifacts: map over node outputs", async () => {
    track();
    const s = await processed({
      platform_refs: refs(),
      workflow_id: 'plat_artifacts',
      input_params: { name: 'scene-7' },
    });
    expect(s.v).toMatchObject({
      processing_state: 'completed',
      blob_path: 'silver/scene-7.tif',
      stac_item_id: 'scene-7',
      has_artifacts: true,
    });
    expect(s.v.content_hash).toBe(`${s.job_id}_make_0`);
  });

  it('a cancelled job and a job the reconciler marks failed both fail their version', async () => {
    track();
    const c = await submit({ platform_refs: refs(), workflow_id: 'plat_slow' });
    await waitVersion(c.body.asset_id, 0, ['processing']);
    const early = await stack.api<Body>('POST', `/api/assets/${c.body.asset_id}/versions/0/reprocess`, {});
    expect(early.status).toBe(409);
    expect(early.body.error.details).toMatchObject({ field: 'processing_state', current: 'processing' });
    expect(
      (await stack.api('POST', `/api/jobs/${c.body.job_id}/cancel`, { reason: 'wrong file' })).status,
    ).toBe(202);
    const vc = await waitVersion(c.body.asset_id, 0, ['failed']);
    expect(vc.last_error).toMatch(/^The job was cancelled/);

    const t = await submit({ platform_refs: refs(), workflow_id: 'plat_slow' });
    await waitVersion(t.body.asset_id, 0, ['processing']);
    await stack.host.terminate(jobInstanceId(t.body.job_id, 1), 'operator pressed the button');
    await new Promise((res) => setTimeout(res, 1500));
    await stack.host.runTimer('reconcileJobs');
    const vt = await waitVersion(t.body.asset_id, 0, ['failed']);
    expect(vt.last_error).toMatch(/terminated/);
    const audit = await stack.api<Body>('GET', `/api/assets/${t.body.asset_id}/audit`);
    expect(audit.body.entries.at(-1)).toMatchObject({
      action: 'processing_failed',
      actor: 'system:reconciler',
    });
  });

  it('soft delete hides the asset and refuses a new version with a restore hint; restore brings it back', async () => {
    track();
    const r = refs();
    const s = await processed({ platform_refs: r });
    await stack.api('POST', `/api/assets/${s.asset_id}/versions/0/approve`, { reviewer: 'rita' });
    expect((await stack.api<Body>('DELETE', `/api/assets/${s.asset_id}`)).status).toBe(400);
    const del = await stack.api<Body>('DELETE', `/api/assets/${s.asset_id}?actor=dee`);
    expect(del.body).toEqual({ deleted: true, asset_id: s.asset_id });
    expect((await stack.api<Body>('DELETE', `/api/assets/${s.asset_id}?actor=dee`)).body.deleted).toBe(false);
    const list = await stack.api<Body>('GET', '/api/assets?platform_id=ddh&limit=500');
    expect(list.body.assets.map((a: Body) => a.asset_id)).not.toContain(s.asset_id);
    const withDeleted = await stack.api<Body>(
      'GET',
      '/api/assets?platform_id=ddh&include_deleted=true&limit=500',
    );
    expect(withDeleted.body.assets.find((a: Body) => a.asset_id === s.asset_id)).toMatchObject({
      is_deleted: true,
      deleted_by: 'dee',
    });
    const again = await submit({ platform_refs: r });
    expect(again.status).toBe(409);
    expect(again.body.error.message).toMatch(/restore it \(POST \/api\/assets\/[0-9a-f]{32}\/restore\)/);
    expect(
      (await stack.api<Body>('POST', `/api/assets/${s.asset_id}/clearance/ouo`, { actor: 'dee' })).status,
    ).toBe(409);
    const res = await stack.api<Body>('POST', `/api/assets/${s.asset_id}/restore`, { actor: 'dee' });
    expect(res.body).toMatchObject({ restored: true });
    expect(
      (await stack.api<Body>('POST', `/api/assets/${s.asset_id}/restore`, { actor: 'dee' })).status,
    ).toBe(409);
    const next = await submit({ platform_refs: r });
    expect(next.status).toBe(202);
    expect(next.body.version_ordinal).toBe(1);
  });
});

describe('layer metadata', () => {
  it('create (409 when it exists, 404 for an unknown asset), merge update under a version, delete', async () => {
    track();
    const s = await submit({ platform_refs: refs() });
    const id = s.body.asset_id as string;
    const c = await stack.api<Body>('POST', '/api/layer-metadata', {
      asset_id: id,
      display_name: 'Flood depth',
      keywords: ['flood', 'hazard'],
      min_zoom: 2,
      max_zoom: 14,
      style: { colormap: 'viridis' },
    });
    expect(c.status).toBe(201);
    expect(c.body).toMatchObject({ data_type: 'raster', version: 1, has_style: true, is_published: false });
    expect(
      (await stack.api<Body>('POST', '/api/layer-metadata', { asset_id: id, display_name: 'again' })).status,
    ).toBe(409);
    const unknown = await stack.api<Body>('POST', '/api/layer-metadata', {
      asset_id: 'f'.repeat(32),
      display_name: 'x',
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.details.field).toBe('asset_id');
    const badZoom = await stack.api<Body>('POST', '/api/layer-metadata', {
      asset_id: id,
      display_name: 'x',
      min_zoom: 30,
    });
    expect(badZoom.status).toBe(400);
    expect(badZoom.body.error.details[0].path).toBe('min_zoom');

    const u = await stack.api<Body>('PUT', `/api/layer-metadata/${id}`, {
      version: 1,
      description: 'metres',
      display_name: null,
      max_zoom: 16,
    });
    expect(u.body).toMatchObject({
      version: 2,
      display_name: 'Flood depth',
      description: 'metres',
      max_zoom: 16,
      min_zoom: 2,
    });
    const stale = await stack.api<Body>('PUT', `/api/layer-metadata/${id}`, {
      version: 1,
      description: 'lost update',
    });
    expect(stale.status).toBe(409);
    expect(stale.body.error.details).toMatchObject({ field: 'version', current: 2 });
    const inverted = await stack.api<Body>('PUT', `/api/layer-metadata/${id}`, { version: 2, min_zoom: 18 });
    expect(inverted.status).toBe(400);
    expect(inverted.body.error.details.field).toBe('min_zoom');
    expect(
      (await stack.api<Body>('PUT', `/api/layer-metadata/${id}`, { description: 'no version' })).status,
    ).toBe(400);
    const list = await stack.api<Body>('GET', '/api/layer-metadata?data_type=raster');
    expect(list.body.layers.map((l: Body) => l.asset_id)).toContain(id);
    expect((await stack.api<Body>('DELETE', `/api/layer-metadata/${id}`)).body).toEqual({
      deleted: true,
      asset_id: id,
    });
    expect((await stack.api<Body>('GET', `/api/layer-metadata/${id}`)).status).toBe(404);
    expect((await stack.api<Body>('DELETE', `/api/layer-metadata/${id}`)).status).toBe(404);
    const audit = await stack.api<Body>('GET', `/api/assets/${id}/audit`);
    const actions = audit.body.entries.map((e: Body) => e.action);
    expect(actions).toEqual(
      expect.arrayContaining(['metadata_created', 'metadata_updated', 'metadata_deleted']),
    );
    const updated = audit.body.entries.find((e: Body) => e.action === 'metadata_updated');
    expect(updated).toMatchObject({
      from: { description: null, max_zoom: 14 },
      to: { description: 'metres', max_zoom: 16 },
    });
  });
});

describe('who did it', () => {
  it('the App Service principal is the actor, whatever the body says; a malformed principal is a 401', async () => {
    track();
    const s = await processed({ platform_refs: refs() });
    const principal = Buffer.from(
      JSON.stringify({
        auth_typ: 'aad',
        name_typ: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name',
        role_typ: 'roles',
        claims: [
          { typ: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name', val: 'reviewer@contoso.com' },
          { typ: 'roles', val: 'Reviewer' },
        ],
      }),
    ).toString('base64');
    const r = await stack.api<Body>(
      'POST',
      `/api/assets/${s.asset_id}/versions/0/approve`,
      { reviewer: 'mallory' },
      {
        'x-ms-client-principal': principal,
      },
    );
    expect(r.body.reviewer).toBe('reviewer@contoso.com');
    const bad = await stack.api<Body>(
      'POST',
      `/api/assets/${s.asset_id}/clearance/ouo`,
      {},
      { 'x-ms-client-principal': 'not base64 json' },
    );
    expect(bad.status).toBe(401);
    expect(bad.body.error.details.field).toBe('x-ms-client-principal');
  });
});
