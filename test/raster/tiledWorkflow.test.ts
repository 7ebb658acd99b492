// workflows/raster_tiled.yaml end to end on the full local stack (dev host running the Function App,
// Azurite, Postgres) with a raster forced to tile: once with an in-process container worker, once
// with worker processes where the first is SIGKILLed in the middle of raster.process_tile_batch.
// The second resumes from the checkpoint; a PATH wrapper around gdal_translate counts the
// conversions per tile: none is converted twice.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startContainerWorker } from '../../container-worker';
import { closeTestHandlerPool } from '../support/handlerContext';
import { validateStac } from '../../handlers/raster/stacValidator';
import { nodeOf, ROOT, startStack, type Stack } from '../e2e/stack';
import { events, isAlive, testLogger, waitFor } from '../worker/support';
import {
  describeGdal,
  gdalTranslateWrapper,
  itHasGdal,
  readCalls,
  tempDir,
  tileOf,
  validateCog,
} from './support';

const SAMPLE = path.join(ROOT, 'samples', 'sample_rgb_utm33n.tif');
const dir = tempDir('raster-tiled-');
const mount = path.join(dir, 'etl');
let stack: Stack;
// The STAC tables' schema: created by the migrations beside the stack's schema.
let stacSchema: string;
let failed = false;
const children: ChildProcess[] = [];
const saved: Record<string, string | undefined> = {};

type Out = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

beforeAll(async () => {
  mkdirSync(mount, { recursive: true });
  stack = await startStack();
  stacSchema = stack.schema.stacSchema;
  const blobs = BlobServiceClient.fromConnectionString(stack.azurite.connectionString).getContainerClient(
    'bronze',
  );
  await blobs.createIfNotExists();
  await blobs.getBlockBlobClient('uploads/sample.tif').uploadFile(SAMPLE);
  // The in-process worker's raster handlers read these.
  const env = {
    DAG_WORKER_ETL_MOUNT_PATH: mount,
    DAG_STORAGE_CONNECTION: stack.azurite.connectionString,
    DATABASE_URL: stack.schema.url,
    DAG_STAC_SCHEMA: stacSchema,
  };
  for (const [k, v] of Object.entries(env)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
}, 120_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  await closeTestHandlerPool();
  if (!failed) {
    rmSync(dir, { recursive: true, force: true });
  } else console.error(`raster tiled test failed: STAC schema ${stacSchema}, mount ${mount} kept`);
  await stack?.stop(failed);
});

const track = <T>(p: Promise<T>) =>
  p.catch((err: unknown) => {
    failed = true;
    throw err;
  });

const INPUTS = { blob_name: 'uploads/sample.tif', container_name: 'bronze', tiling_threshold_mb: 0 };

async function stacItems(collection: string): Promise<Out[]> {
  const r = await stack.schema.pool.query(
    `SELECT content FROM "${stacSchema}".stac_items WHERE collection_id = $1 ORDER BY id`,
    [collection],
  );
  return r.rows.map((x) => x.content as Out);
}

describeGdal('raster_tiled.yaml on the local stack', () => {
  itHasGdal();

  it(
    'a raster forced to tile: batches of tile COGs, one STAC item per tile',
    () =>
      track(
        (async () => {
          const worker = await startContainerWorker({
            queues: ['container-tasks'],
            storageConnectionString: stack.azurite.connectionString,
            databaseUrl: stack.schema.url,
            schema: stack.schema.schema,
            maxConcurrent: 4,
            pollIntervalMs: 100,
            logger: testLogger(),
          });
          try {
            const id = await stack.submit('raster_tiled', {
              ...INPUTS,
              collection_id: 'tiled',
              tile_size: 256,
              tile_overlap: 16,
              tile_batch_size: 2,
            });
            const d = await stack.waitForJob(id, 120_000);
            expect(d.job.error_message).toBeNull();
            expect(d.job.status).toBe('completed');
            expect(nodeOf(d, 'route_by_size').output).toMatchObject({
              taken_branch: 'tiling_scheme',
              value: true,
            });
            expect(nodeOf(d, 'create_cog').status).toBe('skipped');
            const scheme = nodeOf(d, 'tiling_scheme').output as Out;
            expect(scheme.grid).toMatchObject({ crs: 'EPSG:4326', reprojected: true });
            expect(scheme.batch_count).toBe(Math.ceil(scheme.tile_count / 2));
            const batches = d.nodes.filter((n) => n.parent_node_id === 'process_tiles');
            expect(batches).toHaveLength(scheme.batch_count);
            const reg = nodeOf(d, 'register_tile_items').output as Out;
            expect(reg).toMatchObject({
              items_created: scheme.tile_count,
              total_tiles: scheme.tile_count,
              items_failed: 0,
            });
            expect(nodeOf(d, 'ensure_tiled_collection').output).toMatchObject({
              created: true,
              stac_collection: { summaries: { 'tile:grid_rows': [scheme.grid_dimensions.rows] } },
            });
            const items = await stacItems('tiled');
            expect(items).toHaveLength(scheme.tile_count);
            for (const i of items) expect(validateStac(i, 'item').errors).toEqual([]);
            // A tile COG from the catalog's href passes GDAL's validator.
            const href = new URL(items[items.length - 1]!.assets.data.href as string);
            const blob = BlobServiceClient.fromConnectionString(stack.azurite.connectionString)
              .getContainerClient('silver-cogs')
              .getBlobClient(decodeURIComponent(href.pathname.split('/silver-cogs/')[1]!));
            const file = path.join(dir, 'tile.tif');
            await blob.downloadToFile(file);
            const check = validateCog(file);
            expect(check.valid, check.output).toBe(true);
          } finally {
            await worker.stop();
          }
        })(),
      ),
    150_000,
  );

  it(
    'the worker SIGKILLed during process_tile_batch: the next one resumes from the checkpoint, no tile converted twice',
    () =>
      track(
        (async () => {
          const log = path.join(dir, 'kill-gdal.log');
          const bin = gdalTranslateWrapper(path.join(dir, 'killbin'), log, 0.3);
          const spawnWorker = (id: string) => {
            const child = spawn(process.execPath, ['--import', 'tsx', 'container-worker/main.ts'], {
              cwd: ROOT,
              env: {
                ...process.env,
                PATH: `${bin}:${process.env.PATH}`,
                DATABASE_URL: stack.schema.url,
                DAG_DB_SCHEMA: stack.schema.schema,
                AzureWebJobsStorage: stack.azurite.connectionString,
                DAG_STORAGE_CONNECTION: '',
                DAG_WORKER_ETL_MOUNT_PATH: mount,
                DAG_STAC_SCHEMA: stacSchema,
                DAG_WORKER_QUEUES: 'container-tasks',
                DAG_WORKER_ID: id,
                DAG_WORKER_HEALTH_PORT: 'off',
                DAG_WORKER_VISIBILITY_TIMEOUT_SEC: '3',
                DAG_WORKER_POLL_INTERVAL_MS: '200',
                LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
              },
              stdio: ['ignore', 'inherit', 'inherit'],
            });
            children.push(child);
            return child;
          };
          const first = spawnWorker('first');
          const id = await stack.submit('raster_tiled', {
            ...INPUTS,
            collection_id: 'killed',
            tile_size: 128,
            tile_overlap: 8,
            tile_batch_size: 1000,
          });
          const saves = async () =>
            (await events(stack.schema.pool, stack.schema.schema, id)).filter(
              (e) => e.type === 'checkpoint_saved' && e.node_id === 'process_tiles__0',
            ).length;
          await waitFor('5 tiles checkpointed', async () => (await saves()) >= 5, 90_000);
          first.kill('SIGKILL');
          await new Promise<void>((r) =>
            first.exitCode !== null || first.signalCode !== null ? r() : first.once('exit', () => r()),
          );
          // The replica is gone with everything in it: GDAL processes the dead worker started die too.
          const calls = readCalls(log);
          const finished = new Set(calls.filter((c) => c.kind === 'end').map((c) => c.pid));
          for (const c of calls.filter((x) => x.kind === 'start' && !finished.has(x.pid))) {
            try {
              process.kill(-c.pid, 'SIGKILL');
            } catch {
              // already gone
            }
          }
          const savedBeforeKill = await saves();
          spawnWorker('second');
          const d = await stack.waitForJob(id, 150_000);
          expect(d.job.error_message).toBeNull();
          expect(d.job.status).toBe('completed');

          const out = nodeOf(d, 'process_tiles__0').output as Out;
          const scheme = nodeOf(d, 'tiling_scheme').output as Out;
          expect(scheme.batch_count).toBe(1);
          expect(out.tile_count).toBe(scheme.tile_count);
          expect(out.tiles_resumed).toBeGreaterThanOrEqual(savedBeforeKill);
          expect(out.tiles_resumed).toBeLessThan(scheme.tile_count);

          // Per tile: exactly one gdal_translate that ran to the end; a second start only for the tile
          // that was being converted when the worker died (killed before it finished).
          const all = readCalls(log);
          const byTile = new Map<string, { starts: number; completed: number }>();
          for (const c of all) {
            const tile = tileOf(c.args);
            if (!tile) continue;
            const e = byTile.get(tile) ?? { starts: 0, completed: 0 };
            if (c.kind === 'start') e.starts++;
            else if (c.code === 0) e.completed++;
            byTile.set(tile, e);
          }
          expect([...byTile.keys()].sort()).toEqual(scheme.tiles.map((t: Out) => t.tile_id).sort());
          for (const [tile, e] of byTile) expect(e.completed, `tile ${tile}`).toBe(1);
          const restarted = [...byTile.values()].filter((e) => e.starts > 1);
          expect(restarted.length).toBeLessThanOrEqual(1);
          expect(all.filter((c) => c.kind === 'start').length).toBeLessThanOrEqual(scheme.tile_count + 1);
          for (const t of scheme.tiles.slice(0, savedBeforeKill))
            expect(byTile.get(t.tile_id)?.starts, t.tile_id).toBe(1);
          for (const pid of all.map((c) => c.pid)) expect(isAlive(pid)).toBe(false);
          console.log(
            `worker killed mid-batch: ${scheme.tile_count} tiles, ${savedBeforeKill} checkpointed before the kill, ` +
              `${out.tiles_resumed} skipped on resume, ${out.tiles_uploaded_from_mount} uploaded from the mount, ` +
              `${restarted.length} conversion restarted (killed in flight), ${all.filter((c) => c.kind === 'start').length} gdal_translate calls`,
          );

          const ev = await events(stack.schema.pool, stack.schema.schema, id);
          const done = ev.filter((e) => e.type === 'node_completed' && e.node_id === 'process_tiles__0');
          expect(done).toHaveLength(1);
          expect(done[0]!.event_data.worker_id).toBe('second');
          expect(
            ev.filter((e) => e.type === 'checkpoint_saved' && e.node_id === 'process_tiles__0'),
          ).toHaveLength(scheme.tile_count);
          expect(await stacItems('killed')).toHaveLength(scheme.tile_count);
        })(),
      ),
    240_000,
  );
});
