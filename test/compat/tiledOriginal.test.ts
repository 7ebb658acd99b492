// A tiled raster workflow written in the original system's documented format (issue 16): a linear
// chain, `retry` with backoff and delays, `queue: container-tasks`, the tiling scheme passed to
// raster.process_tile_batch as `tiling_scheme:` and its `grid_dimensions` to
// raster.stac_ensure_collection, the validate output read with the original's spellings
// (crs_source file_metadata, confidence HIGH). Full local stack with an in-process container worker,
// GDAL and STAC; the client submits through the original API (POST /api/v1/jobs, input_params).
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startContainerWorker } from '../../container-worker';
import { closeTestHandlerPool } from '../support/handlerContext';
import { ROOT, startStack, type Stack } from '../e2e/stack';
import { testLogger } from '../worker/support';
import { describeGdal, itHasGdal, tempDir } from '../raster/support';

const SAMPLE = path.join(ROOT, 'samples', 'sample_rgb_utm33n.tif');
const dir = tempDir('compat-tiled-');
const mount = path.join(dir, 'etl');
let stack: Stack;
let failed = false;
const saved: Record<string, string | undefined> = {};
type Out = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const retry = (max_attempts: number) => ({ max_attempts, backoff: 'fixed', initial_delay_seconds: 5 });
const WORKFLOW = {
  workflow_id: 'raster_tiles_original',
  name: 'Raster tiles (original format)',
  version: 1,
  description: 'Linear tiled ingest as the original documents it',
  is_active: true,
  created_at: '2026-02-01T00:00:00Z',
  inputs: {
    blob_name: { type: 'string', required: true },
    container_name: { type: 'string', required: true },
    collection_id: { type: 'string', required: true },
  },
  nodes: {
    START: { type: 'start', next: 'copy_to_mount' },
    copy_to_mount: {
      type: 'task',
      handler: 'raster.blob_to_mount',
      queue: 'container-tasks',
      timeout_seconds: 1800,
      retry: retry(3),
      params: { blob_name: '{{ inputs.blob_name }}', container_name: '{{ inputs.container_name }}' },
      next: 'validate_raster',
    },
    validate_raster: {
      type: 'task',
      handler: 'raster.validate',
      queue: 'container-tasks',
      timeout_seconds: 300,
      retry: retry(2),
      params: { local_path: '{{ nodes.copy_to_mount.output.local_path }}', raster_type: 'auto' },
      next: 'tiling',
    },
    tiling: {
      type: 'task',
      handler: 'raster.generate_tiling_scheme',
      queue: 'container-tasks',
      timeout_seconds: 600,
      params: {
        local_path: '{{ nodes.copy_to_mount.output.local_path }}',
        validation: '{{ nodes.validate_raster.output }}',
        tile_size: 256,
        tile_overlap: 16,
      },
      next: 'process_tiles',
    },
    process_tiles: {
      type: 'task',
      handler: 'raster.process_tile_batch',
      queue: 'container-tasks',
      timeout_seconds: 86400,
      retry: retry(3),
      params: {
        local_path: '{{ nodes.copy_to_mount.output.local_path }}',
        validation: '{{ nodes.validate_raster.output }}',
        tiling_scheme: '{{ nodes.tiling.output }}',
      },
      next: 'ensure_collection',
    },
    ensure_collection: {
      type: 'task',
      handler: 'raster.stac_ensure_collection',
      queue: 'container-tasks',
      timeout_seconds: 300,
      params: {
        collection_id: '{{ inputs.collection_id }}',
        bounds: '{{ nodes.tiling.output.bounds }}',
        grid_dimensions: '{{ nodes.tiling.output.grid_dimensions }}',
      },
      next: 'register_items',
    },
    register_items: {
      type: 'task',
      handler: 'raster.stac_register_items',
      queue: 'container-tasks',
      timeout_seconds: 1800,
      params: {
        collection_id: '{{ inputs.collection_id }}',
        tiles: '{{ nodes.process_tiles.output }}',
        validation: '{{ nodes.validate_raster.output }}',
      },
      next: 'END',
    },
    END: { type: 'end' },
  },
};

beforeAll(async () => {
  mkdirSync(mount, { recursive: true });
  stack = await startStack({ shippedWorkflows: false });
  stack.writeWorkflow(WORKFLOW);
  const blobs = BlobServiceClient.fromConnectionString(stack.azurite.connectionString).getContainerClient(
    'bronze',
  );
  await blobs.createIfNotExists();
  await blobs.getBlockBlobClient('uploads/sample.tif').uploadFile(SAMPLE);
  const env = {
    DAG_WORKER_ETL_MOUNT_PATH: mount,
    DAG_STORAGE_CONNECTION: stack.azurite.connectionString,
    DATABASE_URL: stack.schema.url,
    DAG_STAC_SCHEMA: stack.schema.stacSchema,
  };
  for (const [k, v] of Object.entries(env)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
}, 120_000);

afterAll(async () => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  await closeTestHandlerPool();
  if (!failed) rmSync(dir, { recursive: true, force: true });
  await stack?.stop(failed);
});

describeGdal('a tiled raster workflow in the original format', () => {
  itHasGdal();

  it('runs with tiling_scheme: and grid_dimensions, through the original API', async () => {
    const worker = await startContainerWorker({
      queues: ['container-tasks'],
      storageConnectionString: stack.azurite.connectionString,
      databaseUrl: stack.schema.url,
      schema: stack.schema.schema,
      maxConcurrent: 2,
      pollIntervalMs: 100,
      logger: testLogger(),
    });
    try {
      const r = await stack.api<Out>('POST', '/api/v1/jobs', {
        workflow_id: 'raster_tiles_original',
        input_params: {
          blob_name: 'uploads/sample.tif',
          container_name: 'bronze',
          collection_id: 'orig-tiles',
        },
      });
      expect(r.status).toBe(201);
      let d: Out;
      for (;;) {
        d = (await stack.api<Out>('GET', `/api/v1/jobs/${r.body.job_id}`)).body;
        if (['completed', 'failed', 'cancelled'].includes(d.job.status)) break;
        await new Promise((res) => setTimeout(res, 200));
      }
      const node = (id: string) => d.nodes.find((n: Out) => n.node_id === id)!;
      expect(d.job.error_message).toBeNull();
      expect(d.job.status).toBe('completed');
      const v = node('validate_raster').output;
      expect(v.crs_source).toBe('file_metadata');
      expect(v.raster_type.confidence).toBe('HIGH');
      const scheme = node('tiling').output;
      expect(scheme.tile_count).toBeGreaterThan(1);
      expect(node('process_tiles').output.tile_cogs).toHaveLength(scheme.tile_count);
      expect(node('ensure_collection').output).toMatchObject({
        stac_collection: {
          summaries: {
            'tile:grid_rows': [scheme.grid_dimensions.rows],
            'tile:grid_cols': [scheme.grid_dimensions.cols],
          },
        },
      });
      expect(node('register_items').output).toMatchObject({
        items_created: scheme.tile_count,
        items_failed: 0,
      });
    } catch (err) {
      failed = true;
      throw err;
    } finally {
      await worker.stop();
    }
  }, 180_000);
});
