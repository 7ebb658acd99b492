// The platform layer's state: asset identity (byte-compatible with the original), submissions in one
// transaction, and the rule that a version follows its job in the SAME statement as the job's change,
// on every path that changes a job's status (end, cancel, set status, rerun, reconciler's finishJob).
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import {
  ALL_TABLES,
  assetIdFor,
  canonicalRefsJson,
  createJob,
  finishJob,
  getVersion,
  listAudit,
  rerunJob,
  readSubmissionContext,
  reviewVersion,
  seedPlatforms,
  setJobStatus,
  submitAssetVersion,
  type SubmitVersionInput,
} from '../../db';
import { TEST_DATABASE_URL, waitForBlockedBy, type TestSchema } from '../support/pg';
import { jobInput, NASTY_STRINGS, SNAPSHOT, STD_NODES, useDeployedSchema } from './helpers';

const db = useDeployedSchema();

function submission(over: Partial<SubmitVersionInput> = {}): SubmitVersionInput {
  const refs = over.refs ?? { dataset_id: 'd1', resource_id: 'r1' };
  return {
    assetId: assetIdFor('ddh', refs),
    platformId: 'ddh',
    refs,
    dataType: 'raster',
    requestId: `req-${Math.random().toString(36).slice(2)}`,
    submittedBy: 'alice',
    workflowId: 'wf',
    inputParams: { a: 1 },
    job: { workflowVersion: 1, workflowSnapshot: SNAPSHOT, nodes: STD_NODES },
    ...over,
  };
}

async function submitted(t: TestSchema, over: Partial<SubmitVersionInput> = {}) {
  const r = await submitAssetVersion(t.pool, t.schema, submission(over));
  if (r.kind !== 'created') throw new Error(`not created: ${r.kind}`);
  return r;
}

const versionState = async (t: TestSchema, assetId: string, ordinal = 0) =>
  (await getVersion(t.pool, t.schema, assetId, ordinal))!;

describe('asset identity', () => {
  it('matches the original system (Python json.dumps sort_keys, ensure_ascii) and ignores key order', () => {
    // Expected values computed with the original's expression in CPython 3.
    expect(assetIdFor('ddh', { resource_id: 'r1', dataset_id: 'd1' })).toBe(
      'a7b2bbc34ab79dbf340d042c2079187b',
    );
    expect(assetIdFor('ddh', { dataset_id: 'd1', resource_id: 'r1' })).toBe(
      'a7b2bbc34ab79dbf340d042c2079187b',
    );
    expect(assetIdFor('arcgis', { item_id: 'abc', layer_index: 3 })).toBe('3f534df7bdfb6f3c3fff0bdd60334cd3');
    const odd = { uuid: 'é"\\x\n\u007f😀', b: true };
    expect(canonicalRefsJson(odd)).toBe('{"b":true,"uuid":"\\u00e9\\"\\\\x\\n\\u007f\\ud83d\\ude00"}');
    expect(assetIdFor('geonode', odd)).toBe('08a3c3b695bf471c792e2f1cdf785206');
    // Another platform, another value or another key: another asset.
    expect(assetIdFor('arcgis', { resource_id: 'r1', dataset_id: 'd1' })).not.toBe(
      assetIdFor('ddh', { resource_id: 'r1', dataset_id: 'd1' }),
    );
    expect(assetIdFor('ddh', { dataset_id: 'd1', resource_id: 'r2' })).not.toBe(
      assetIdFor('ddh', { dataset_id: 'd1', resource_id: 'r1' }),
    );
    expect(assetIdFor('ddh', { dataset_id: 'd1', resource_id: 'r1' })).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe('submission', () => {
  it('creates asset, version 0 and its job in one transaction; a second version waits for review', async () => {
    const t = db();
    await seedPlatforms(t.pool, t.schema, 'test');
    const first = await submitted(t);
    expect(first.assetCreated).toBe(true);
    expect(first.version).toMatchObject({
      version_ordinal: 0,
      approval_state: 'pending_review',
      processing_state: 'queued',
    });
    expect(first.version.current_job_id).toBe(first.job.job_id);
    expect(first.job.asset_id).toBe(first.asset.asset_id);
    expect(first.job.correlation_id).toBe(first.version.request_id);

    const blocked = await submitAssetVersion(t.pool, t.schema, submission());
    expect(blocked).toMatchObject({ kind: 'pending', pending: { version_ordinal: 0 } });
    // Refused submissions leave no job behind (the job is created inside the transaction).
    const jobs = await t.pool.query(`SELECT count(*)::int AS n FROM "${t.schema}".dag_jobs`);
    expect(jobs.rows[0].n).toBe(1);

    // The database itself refuses a second pending version.
    await expect(
      t.pool.query(
        `INSERT INTO "${t.schema}".asset_versions (asset_id, version_ordinal, workflow_id) VALUES ($1, 1, 'wf')`,
        [first.asset.asset_id],
      ),
    ).rejects.toThrow(/asset_versions_one_pending_uq/);

    await finishJob(t.pool, t.schema, { jobId: first.job.job_id, status: 'completed' });
    const approved = await reviewVersion(t.pool, t.schema, {
      assetId: first.asset.asset_id,
      ordinal: 0,
      decision: 'approved',
      reviewer: 'bob',
    });
    expect(approved.kind).toBe('applied');
    const second = await submitted(t);
    expect(second.assetCreated).toBe(false);
    expect(second.version.version_ordinal).toBe(1);
  });

  it('is idempotent on the request id; the same id with other parameters is a conflict', async () => {
    const t = db();
    await seedPlatforms(t.pool, t.schema, 'test');
    const first = await submitted(t, { requestId: 'same' });
    const again = await submitAssetVersion(t.pool, t.schema, submission({ requestId: 'same' }));
    expect(again).toMatchObject({
      kind: 'replay',
      version: { version_ordinal: 0, current_job_id: first.job.job_id },
    });
    const other = await submitAssetVersion(
      t.pool,
      t.schema,
      submission({ requestId: 'same', inputParams: { a: 2 } }),
    );
    expect(other.kind).toBe('request_conflict');
    const elsewhere = await submitAssetVersion(
      t.pool,
      t.schema,
      submission({ requestId: 'same', refs: { dataset_id: 'd9', resource_id: 'r9' } }),
    );
    expect(elsewhere.kind).toBe('request_conflict');
  });

  it('concurrent submissions: one version per asset (new or existing asset), one asset per request id', async () => {
    const t = db();
    await seedPlatforms(t.pool, t.schema, 'test');
    const race = (over: () => Partial<SubmitVersionInput>) =>
      Promise.all(Array.from({ length: 20 }, () => submitAssetVersion(t.pool, t.schema, submission(over()))));
    const kinds = (rs: Array<{ kind: string }>) => rs.map((r) => r.kind).sort();
    const fresh = { dataset_id: 'race', resource_id: 'new' };
    expect(kinds(await race(() => ({ refs: fresh })))).toEqual(['created', ...Array(19).fill('pending')]);
    // An existing asset whose version 0 is approved: again exactly one version 1.
    const assetId = assetIdFor('ddh', fresh);
    const v0 = await getVersion(t.pool, t.schema, assetId, 0);
    await finishJob(t.pool, t.schema, { jobId: v0!.current_job_id!, status: 'completed' });
    await reviewVersion(t.pool, t.schema, { assetId, ordinal: 0, decision: 'approved', reviewer: 'r' });
    expect(kinds(await race(() => ({ refs: fresh })))).toEqual(['created', ...Array(19).fill('pending')]);
    // One request id for 20 different assets: one version, the others are told the id is taken.
    let i = 0;
    const one = await race(() => ({
      requestId: 'one-id',
      refs: { dataset_id: 'race', resource_id: `r${i++}` },
    }));
    expect(kinds(one)).toEqual(['created', ...Array(19).fill('request_conflict')]);
    const counts = await t.pool.query(
      `SELECT (SELECT count(*)::int FROM "${t.schema}".asset_versions) AS versions,
              (SELECT count(*)::int FROM "${t.schema}".dag_jobs) AS jobs,
              (SELECT count(*)::int FROM "${t.schema}".geospatial_assets) AS assets`,
    );
    // Refused submissions leave nothing behind: 3 versions, their 3 jobs, their 2 assets.
    expect(counts.rows[0]).toEqual({ versions: 3, jobs: 3, assets: 2 });
  });

  it('with `check`, writes only when the checks of readSubmissionContext pass, and returns what they read', async () => {
    const t = db();
    await seedPlatforms(t.pool, t.schema, 'test');
    const checked = (over: Partial<SubmitVersionInput>, requestId: string | null = null) =>
      submitAssetVersion(t.pool, t.schema, {
        ...submission({ ...over, ...(requestId ? { requestId } : {}) }),
        check: { requestId },
      });
    const context = async (platformId: string, requestId?: string) =>
      readSubmissionContext(t.pool, t.schema, { platformId, ...(requestId ? { requestId } : {}) });
    // Passing: the same outcome as without the check (an optional reference is allowed).
    const ok = await checked({ refs: { dataset_id: 'c', resource_id: 'r', version_id: 'v1' } }, 'chk-1');
    expect(ok.kind).toBe('created');
    // Each failing check: nothing written, and the context is what readSubmissionContext reads.
    const refused: Array<[Partial<SubmitVersionInput>, string | null]> = [
      [{ platformId: 'nope', assetId: assetIdFor('nope', { dataset_id: 'c', resource_id: 'x' }) }, null],
      [{ refs: { dataset_id: 'c' } }, null], // a required reference missing
      [{ refs: { dataset_id: 'c', resource_id: 'x', other: 'y' } }, null], // not a reference of ddh
      [{ refs: { dataset_id: 'c', resource_id: 'x' } }, 'chk-1'], // the request id made a version
    ];
    for (const [over, requestId] of refused) {
      const r = await checked(over, requestId);
      expect(r.kind, JSON.stringify(over)).toBe('unchecked');
      if (r.kind !== 'unchecked') continue;
      expect(r.context).toEqual(await context(over.platformId ?? 'ddh', requestId ?? undefined));
    }
    const byRequest = await checked({ refs: { dataset_id: 'c', resource_id: 'x' } }, 'chk-1');
    expect(byRequest).toMatchObject({ kind: 'unchecked', context: { byRequest: { request_id: 'chk-1' } } });
    // An unfinished plain job carrying the request id as its correlation id.
    const job = await createJob(t.pool, t.schema, { ...jobInput(), correlationId: 'chk-2' });
    expect(await checked({ refs: { dataset_id: 'c', resource_id: 'y' } }, 'chk-2')).toMatchObject({
      kind: 'unchecked',
      context: { activeJob: { job_id: job.job.job_id, status: 'pending' } },
    });
    // A deactivated platform.
    await t.pool.query(`UPDATE "${t.schema}".platforms SET is_active = false WHERE platform_id = 'ddh'`);
    expect(await checked({ refs: { dataset_id: 'c', resource_id: 'z' } })).toMatchObject({
      kind: 'unchecked',
      context: { platform: { platform_id: 'ddh', is_active: false } },
    });
    const counts = await t.pool.query(
      `SELECT (SELECT count(*)::int FROM "${t.schema}".asset_versions) AS versions,
              (SELECT count(*)::int FROM "${t.schema}".geospatial_assets) AS assets`,
    );
    expect(counts.rows[0]).toEqual({ versions: 1, assets: 1 });
  });

  it('stores SQL-injection strings and odd Unicode in references as data', async () => {
    const t = db();
    await seedPlatforms(t.pool, t.schema, 'test');
    for (const [i, s] of NASTY_STRINGS.entries()) {
      const refs = { dataset_id: s, resource_id: `r${i}` };
      const r = await submitted(t, { refs, submittedBy: s.slice(0, 200), versionLabel: s.slice(0, 100) });
      const row = await t.pool.query(
        `SELECT platform_refs, created_by FROM "${t.schema}".geospatial_assets WHERE asset_id = $1`,
        [r.asset.asset_id],
      );
      expect(row.rows[0].platform_refs).toEqual(refs);
      expect(row.rows[0].created_by).toBe(s.slice(0, 200));
      // Found through the GIN index by containment.
      const found = await t.pool.query(
        `SELECT asset_id FROM "${t.schema}".geospatial_assets WHERE platform_refs @> $1::jsonb`,
        [JSON.stringify({ dataset_id: s })],
      );
      expect(found.rows.map((x) => x.asset_id)).toEqual([r.asset.asset_id]);
    }
    // Every table is still there (none dropped by an "injection").
    const tables = await t.pool.query(`SELECT tablename FROM pg_tables WHERE schemaname = $1`, [t.schema]);
    const names = new Set(tables.rows.map((x) => x.tablename as string));
    for (const table of ALL_TABLES) expect(names.has(table.name), table.name).toBe(true);
  });
});

describe('a version follows its job in the same statement', () => {
  it('job start → processing; completed → completed with artifacts; each step audited', async () => {
    const t = db();
    await seedPlatforms(t.pool, t.schema, 'test');
    const s = await submitted(t);
    const jobId = s.job.job_id;
    await setJobStatus(t.pool, t.schema, {
      jobId,
      from: ['pending'],
      to: 'running',
      sourceApp: 'functionapp',
    });
    expect((await versionState(t, s.asset.asset_id)).processing_state).toBe('processing');
    await finishJob(t.pool, t.schema, {
      jobId,
      status: 'completed',
      sourceApp: 'functionapp',
      version: { artifacts: { blob_path: 'silver-cogs/a.tif', stac_item_id: 'a', content_hash: '1220ab' } },
    });
    const v = await versionState(t, s.asset.asset_id);
    expect(v).toMatchObject({
      processing_state: 'completed',
      blob_path: 'silver-cogs/a.tif',
      stac_item_id: 'a',
      content_hash: '1220ab',
      last_error: null,
    });
    expect(v.processing_completed_at).toBeInstanceOf(Date);
    const audit = await listAudit(t.pool, t.schema, { assetId: s.asset.asset_id });
    expect(audit.items.map((e) => [e.action, e.actor])).toEqual([
      ['asset_created', 'alice'],
      ['version_submitted', 'alice'],
      ['processing_started', 'system:functionapp'],
      ['processing_completed', 'system:functionapp'],
    ]);
    expect(audit.items[3]!.details).toMatchObject({ blob_path: 'silver-cogs/a.tif' });
  });

  it('failed → failed with the error; cancelled → failed "cancelled"; artifacts that cannot be read → failed', async () => {
    const t = db();
    await seedPlatforms(t.pool, t.schema, 'test');
    const a = await submitted(t, { refs: { dataset_id: 'a', resource_id: '1' } });
    await finishJob(t.pool, t.schema, {
      jobId: a.job.job_id,
      status: 'failed',
      errorMessage: 'GDAL said no',
      sourceApp: 'reconciler',
    });
    expect(await versionState(t, a.asset.asset_id)).toMatchObject({
      processing_state: 'failed',
      last_error: 'GDAL said no',
    });

    const b = await submitted(t, { refs: { dataset_id: 'b', resource_id: '1' } });
    await finishJob(t.pool, t.schema, { jobId: b.job.job_id, status: 'cancelled', errorMessage: 'operator' });
    expect(await versionState(t, b.asset.asset_id)).toMatchObject({
      processing_state: 'failed',
      last_error: 'The job was cancelled: operator',
    });

    const c = await submitted(t, { refs: { dataset_id: 'c', resource_id: '1' } });
    await finishJob(t.pool, t.schema, {
      jobId: c.job.job_id,
      status: 'completed',
      version: { artifacts: { blob_path: 'x'.repeat(501) } },
    });
    const vc = await versionState(t, c.asset.asset_id);
    expect(vc.processing_state).toBe('failed');
    expect(vc.last_error).toMatch(
      /artifacts could not be read: artifact blob_path is 501 characters long; the limit is 500/,
    );
    expect(vc.blob_path).toBeNull();

    // setJobStatus to a terminal status carries the version too.
    const d = await submitted(t, { refs: { dataset_id: 'd', resource_id: '1' } });
    await setJobStatus(t.pool, t.schema, {
      jobId: d.job.job_id,
      from: ['pending'],
      to: 'failed',
      errorMessage: 'boom',
    });
    expect(await versionState(t, d.asset.asset_id)).toMatchObject({
      processing_state: 'failed',
      last_error: 'boom',
    });

    // A rerun of the failed job makes its version processing again, and its end completes it.
    await rerunJob(t.pool, t.schema, { jobId: a.job.job_id, sourceApp: 'functionapp' });
    expect(await versionState(t, a.asset.asset_id)).toMatchObject({
      processing_state: 'processing',
      last_error: null,
    });
    await finishJob(t.pool, t.schema, { jobId: a.job.job_id, status: 'completed' });
    expect((await versionState(t, a.asset.asset_id)).processing_state).toBe('completed');

    // The invariant: no version is queued/processing while its job has ended.
    const stuck = await t.pool.query(
      `SELECT v.asset_id FROM "${t.schema}".asset_versions v JOIN "${t.schema}".dag_jobs j ON j.job_id = v.current_job_id
       WHERE j.status IN ('completed','failed','cancelled') AND v.processing_state IN ('queued','processing')`,
    );
    expect(stuck.rows).toEqual([]);
  });

  it('the job end and the version update are one statement: while the version row is locked the job does not end for anyone else', async () => {
    const t = db();
    await seedPlatforms(t.pool, t.schema, 'test');
    const s = await submitted(t);
    const locker = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query(`SELECT 1 FROM "${t.schema}".asset_versions WHERE asset_id = $1 FOR UPDATE`, [
        s.asset.asset_id,
      ]);
      const ending = finishJob(t.pool, t.schema, { jobId: s.job.job_id, status: 'completed' });
      // Wait until the finishing statement is blocked by the lock on the version row.
      const lockerPid = (await locker.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
      await waitForBlockedBy(t.pool, lockerPid);
      const seen = await t.pool.query(`SELECT status::text FROM "${t.schema}".dag_jobs WHERE job_id = $1`, [
        s.job.job_id,
      ]);
      expect(seen.rows[0].status).toBe('pending');
      await locker.query('ROLLBACK');
      expect(await ending).toEqual({ kind: 'applied' });
    } finally {
      await locker.end();
    }
    expect((await versionState(t, s.asset.asset_id)).processing_state).toBe('completed');
  });

  it('standalone jobs (no version) end as before', async () => {
    const t = db();
    const { createJob } = await import('../../db');
    const j = await createJob(t.pool, t.schema, jobInput());
    expect(await finishJob(t.pool, t.schema, { jobId: j.job.job_id, status: 'completed' })).toEqual({
      kind: 'applied',
    });
    const audit = await t.pool.query(`SELECT count(*)::int AS n FROM "${t.schema}".asset_audit_log`);
    expect(audit.rows[0].n).toBe(0);
  });
});

describe('the audit log', () => {
  it('is append-only for the apps: their login may add and read entries, never change or delete them', async () => {
    const t = db();
    await seedPlatforms(t.pool, t.schema, 'test');
    await submitted(t);
    const table = `"${t.schema}".asset_audit_log`;
    const before = (await t.pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n as number;
    expect(before).toBeGreaterThan(0);
    await expect(t.pool.query(`UPDATE ${table} SET actor = 'mallory'`)).rejects.toThrow(/permission denied/);
    await expect(t.pool.query(`DELETE FROM ${table}`)).rejects.toThrow(/permission denied/);
    expect((await t.pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n).toBe(before);
  });
});
