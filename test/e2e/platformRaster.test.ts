// The platform flow end to end over HTTP on the local stack (dev host running the Function App,
// container worker, Azurite, Postgres, GDAL): seed platforms → submit a GeoTIFF made with GDAL here
// through /api/platform/submit → raster_ingest runs → the version is completed with the COG's blob
// path and STAC item id → approve → clearance ouo → public → versions/latest → reprocess gives
// revision + 1 and a new job → the audit log lists every step with its actor and time.
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startContainerWorker, type ContainerWorker } from '../../container-worker';
import { closeTestHandlerPool } from '../support/handlerContext';
import { describeGdal, itHasGdal, makeRaster, SPECS, tempDir, useEnv, validateCog } from '../raster/support';
import { testLogger } from '../worker/support';
import { startStack, type Stack } from './stack';

type Body = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const dir = tempDir('platform-raster-');
const mount = path.join(dir, 'etl');
let stack: Stack;
let worker: ContainerWorker | undefined;
let failed = false;

beforeAll(async () => {
  mkdirSync(mount, { recursive: true });
  stack = await startStack();
}, 120_000);
// The in-process worker's raster handlers read these (set after the stack started, restored first).
useEnv(() => ({
  DAG_WORKER_ETL_MOUNT_PATH: mount,
  DAG_STORAGE_CONNECTION: stack.azurite.connectionString,
  DATABASE_URL: stack.schema.url,
  DAG_STAC_SCHEMA: stack.schema.stacSchema,
}));

afterAll(async () => {
  await worker?.stop();
  await closeTestHandlerPool();
  if (!failed) rmSync(dir, { recursive: true, force: true });
  await stack?.stop(failed);
});

async function waitVersion(assetId: string, revision: number, timeoutMs = 150_000): Promise<Body> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const r = await stack.api<Body>('GET', `/api/assets/${assetId}/versions/0`);
    if (r.body.revision === revision && ['completed', 'failed'].includes(r.body.processing_state))
      return r.body;
    if (Date.now() > until) throw new Error(`version not done: ${JSON.stringify(r.body)}`);
    await new Promise((res) => setTimeout(res, 250));
  }
}

describeGdal('the platform flow on the local stack', () => {
  itHasGdal();

  it('seed → submit a GeoTIFF → COG + STAC item on the version → approve → ouo → public → latest → reprocess → audit', async () => {
    try {
      // A GeoTIFF made here with GDAL, uploaded to the bronze container.
      const tif = makeRaster(path.join(dir, 'scene.tif'), SPECS.rgb);
      const blobs = BlobServiceClient.fromConnectionString(stack.azurite.connectionString);
      const bronze = blobs.getContainerClient('bronze');
      await bronze.createIfNotExists();
      await bronze.getBlockBlobClient('uploads/flood_2024.tif').uploadFile(tif);
      worker = await startContainerWorker({
        queues: ['container-tasks'],
        storageConnectionString: stack.azurite.connectionString,
        databaseUrl: stack.schema.url,
        schema: stack.schema.schema,
        maxConcurrent: 2,
        pollIntervalMs: 100,
        logger: testLogger(),
      });

      const seed = await stack.api<Body>('POST', '/api/bootstrap/seed-platforms?confirm=yes');
      expect(seed.body.seeded).toEqual(['ddh', 'arcgis', 'geonode']);

      const submit = await stack.api<Body>('POST', '/api/platform/submit', {
        platform_id: 'ddh',
        platform_refs: { dataset_id: 'flood-risk', resource_id: 'depth-2024' },
        data_type: 'raster',
        workflow_id: 'raster_ingest',
        input_params: {
          blob_name: 'uploads/flood_2024.tif',
          container_name: 'bronze',
          collection_id: 'flood',
        },
        version_label: '2024 release',
        request_id: 'ddh-req-2024',
        submitted_by: 'ddh-portal',
      });
      expect(submit.status, JSON.stringify(submit.body)).toBe(202);
      const assetId = submit.body.asset_id as string;
      expect(submit.body.version_ordinal).toBe(0);

      const v = await waitVersion(assetId, 0);
      expect(v.last_error).toBeNull();
      expect(v).toMatchObject({
        processing_state: 'completed',
        approval_state: 'pending_review',
        blob_path: 'silver-cogs/uploads/flood_2024_cog.tif',
        stac_item_id: 'flood_2024_cog',
        stac_collection_id: 'flood',
        current_job_id: submit.body.job_id,
        version_label: '2024 release',
      });
      const job = await stack.api<Body>('GET', `/api/jobs/${submit.body.job_id}`);
      expect(job.body.job).toMatchObject({
        status: 'completed',
        asset_id: assetId,
        correlation_id: 'ddh-req-2024',
      });
      expect(v.content_hash).toBe(job.body.job.result_data.create_cog.file_checksum);
      // The blob path names a valid COG; the STAC item id names an item of the catalog.
      const cog = path.join(dir, 'from-silver.tif');
      await blobs
        .getContainerClient('silver-cogs')
        .getBlobClient('uploads/flood_2024_cog.tif')
        .downloadToFile(cog);
      const check = validateCog(cog);
      expect(check.valid, check.output).toBe(true);
      const items = await stack.schema.pool.query(
        `SELECT id FROM "${stack.schema.stacSchema}".stac_items WHERE collection_id = 'flood'`,
      );
      expect(items.rows.map((r) => r.id)).toEqual(['flood_2024_cog']);

      const approve = await stack.api<Body>('POST', `/api/assets/${assetId}/versions/0/approve`, {
        reviewer: 'rita.reviewer',
        reason: 'checked against the source',
      });
      expect(approve.body).toMatchObject({ approval_state: 'approved', reviewer: 'rita.reviewer' });
      const ouo = await stack.api<Body>('POST', `/api/assets/${assetId}/clearance/ouo`, {
        actor: 'dee.steward',
      });
      expect(ouo.body.clearance_state).toBe('ouo');
      const pub = await stack.api<Body>('POST', `/api/assets/${assetId}/clearance/public`, {
        actor: 'eve.steward',
      });
      expect(pub.body.clearance_state).toBe('public');
      const latest = await stack.api<Body>('GET', `/api/assets/${assetId}/versions/latest`);
      expect(latest.body).toMatchObject({
        version_ordinal: 0,
        approval_state: 'approved',
        blob_path: 'silver-cogs/uploads/flood_2024_cog.tif',
      });

      const rp = await stack.api<Body>('POST', `/api/assets/${assetId}/versions/0/reprocess`, {
        actor: 'ops.oncall',
        reason: 'new compression profile',
      });
      expect(rp.status, JSON.stringify(rp.body)).toBe(202);
      expect(rp.body.revision).toBe(1);
      expect(rp.body.job_id).not.toBe(submit.body.job_id);
      const v2 = await waitVersion(assetId, 1);
      expect(v2).toMatchObject({
        processing_state: 'completed',
        approval_state: 'approved',
        current_job_id: rp.body.job_id,
        blob_path: 'silver-cogs/uploads/flood_2024_cog.tif',
        stac_item_id: 'flood_2024_cog',
      });
      const status = await stack.api<Body>('GET', '/api/platform/status/ddh-req-2024');
      expect(status.body).toMatchObject({
        asset_id: assetId,
        job: { job_id: rp.body.job_id, status: 'completed' },
      });

      const audit = await stack.api<Body>('GET', `/api/assets/${assetId}/audit`);
      const entries = audit.body.entries as Body[];
      expect(entries.map((e) => [e.action, e.actor])).toEqual([
        ['asset_created', 'ddh-portal'],
        ['version_submitted', 'ddh-portal'],
        ['processing_started', 'system:functionapp'],
        ['processing_completed', 'system:functionapp'],
        ['version_approved', 'rita.reviewer'],
        ['clearance_changed', 'dee.steward'],
        ['clearance_changed', 'eve.steward'],
        ['version_reprocessed', 'ops.oncall'],
        ['processing_started', 'system:functionapp'],
        ['processing_completed', 'system:functionapp'],
      ]);
      const times = entries.map((e) => Date.parse(e.at));
      for (let i = 1; i < times.length; i++) expect(times[i]).toBeGreaterThanOrEqual(times[i - 1]!);
      expect(entries[3]!.details).toMatchObject({ blob_path: 'silver-cogs/uploads/flood_2024_cog.tif' });
      expect(entries[7]).toMatchObject({
        from: { revision: 0, job_id: submit.body.job_id },
        to: { revision: 1, job_id: rp.body.job_id },
        details: { reason: 'new compression profile' },
      });
    } catch (err) {
      failed = true;
      throw err;
    }
  }, 300_000);
});
