// raster.generate_tiling_scheme and raster.process_tile_batch with real GDAL and Azurite, called
// directly: the grid is the target grid (reprojected when needed), every tile becomes a valid COG with
// exactly the pixels of its window, a checkpoint follows each tile, and a later attempt converts only
// what is left — including the case of a tile converted but not checkpointed when the attempt died.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Checkpoint } from '../../handlers/handlerTypes';
import { ProcessTileBatchParams, processTileBatch } from '../../handlers/raster/processTileBatch';
import { generateTilingScheme, TilingParams } from '../../handlers/raster/tilingScheme';
import { ValidateParams, validateRaster } from '../../handlers/raster/validateRaster';
import {
  describeGdal,
  fakeCtx,
  gdalTranslateWrapper,
  itHasGdal,
  makeRaster,
  readCalls,
  run,
  SPECS,
  tempDir,
  tileOf,
  useAzurite,
  useEnv,
  validateCog,
} from './support';

const mount = tempDir('tiles-mnt-');
const callLog = path.join(mount, 'gdal_translate.log');
const azurite = useAzurite();
useEnv(() => ({
  DAG_WORKER_ETL_MOUNT_PATH: mount,
  DAG_STORAGE_CONNECTION: azurite().connectionString,
  PATH: `${gdalTranslateWrapper(path.join(mount, 'bin'), callLog)}:${process.env.PATH}`,
}));
let rgb: string;
let classes: string;
beforeAll(() => {
  try {
    rgb = makeRaster(path.join(mount, 'input', 'jobT', 'up', 'scene.tif'), {
      ...SPECS.rgb,
      width: 600,
      height: 400,
    });
    classes = makeRaster(path.join(mount, 'input', 'jobT', 'up', 'classes.tif'), {
      ...SPECS.categorical,
      width: 500,
      height: 300,
    });
  } catch {
    // without GDAL: the "installed" test reports it
  }
});
afterAll(() => rmSync(mount, { recursive: true, force: true }));

type Out = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const validate = (local_path: string) =>
  validateRaster.run(ValidateParams.parse({ local_path }), fakeCtx()) as Promise<Out>;
const scheme = (params: Record<string, unknown>) =>
  generateTilingScheme.run(
    TilingParams.parse(params),
    fakeCtx({ jobId: 'jobT', nodeId: 'tiling' }),
  ) as Promise<Out>;
const batch = (params: Record<string, unknown>, ctx = fakeCtx({ jobId: 'jobT', nodeId: 'tiles' })) =>
  processTileBatch.run(ProcessTileBatchParams.parse(params), ctx) as Promise<Out>;

const blobs = () =>
  BlobServiceClient.fromConnectionString(azurite().connectionString).getContainerClient('silver-cogs');
async function download(blob: string): Promise<string> {
  const file = path.join(tempDir('tile-dl-', mount), path.basename(blob));
  await blobs().getBlobClient(blob).downloadToFile(file);
  return file;
}
/** GDAL's checksum of band 1 of a file (or of a window of it). */
const checksum = (file: string, srcwin?: number[]) => {
  if (!srcwin)
    return (JSON.parse(run('gdalinfo', ['-json', '-checksum', file])) as Out).bands[0].checksum as number;
  const out = path.join(tempDir('win-', mount), 'w.tif');
  run('gdal_translate', ['-q', '-srcwin', ...srcwin.map(String), file, out]);
  return checksum(out);
};
const translatesFor = (tile: string) =>
  readCalls(callLog).filter((c) => c.kind === 'start' && tileOf(c.args) === tile).length;

describeGdal('tiling scheme and tile batches', () => {
  itHasGdal();

  it('the scheme over a reprojected grid: overlapping tiles covering it, WGS 84 bounds, batches', async () => {
    const v = await validate(rgb);
    const s = await scheme({
      local_path: rgb,
      validation: v,
      target_crs: 'EPSG:4326',
      tile_size: '256',
      tile_overlap: 32,
      batch_size: 4,
    });
    expect(s.grid).toMatchObject({ crs: 'EPSG:4326', epsg: 4326, reprojected: true });
    const { width, height } = s.grid;
    expect(s.grid_dimensions.cols).toBe(Math.ceil((width - 32) / 224));
    expect(s.grid_dimensions.rows).toBe(Math.ceil((height - 32) / 224));
    expect(s.tile_count).toBe(s.grid_dimensions.rows * s.grid_dimensions.cols);
    const last = s.tiles[s.tiles.length - 1];
    expect(last.pixel_bounds[2]).toBe(width);
    expect(last.pixel_bounds[3]).toBe(height);
    expect(s.tiles[1].pixel_window.x).toBe(224);
    expect(s.batches.map((b: Out) => b.tiles.length).reduce((a: number, b: number) => a + b, 0)).toBe(
      s.tile_count,
    );
    expect(s.batches[0].tiles).toHaveLength(Math.min(4, s.tile_count));
    for (const t of s.tiles) {
      expect(t.bbox[0]).toBeGreaterThanOrEqual(s.bounds[0]);
      expect(t.bbox[2]).toBeLessThanOrEqual(s.bounds[2]);
    }
    // The work directory (warped VRT) is cleaned up.
    expect(run('find', [mount, '-name', '*.vrt']).trim()).toBe('');
  });

  it('process_tile_batch: every tile a valid COG holding exactly its window; a checkpoint after each tile', async () => {
    const v = await validate(classes);
    const s = await scheme({
      local_path: classes,
      validation: v,
      target_crs: 'native',
      tile_size: 200,
      tile_overlap: 20,
    });
    expect(s.grid).toMatchObject({ reprojected: false, width: 500, height: 300 });
    const ctx = fakeCtx({ jobId: 'jobT', nodeId: 'tiles_all' });
    const out = await batch({ local_path: classes, validation: v, tiling: s, output_folder: 'tiled' }, ctx);
    expect(out).toMatchObject({
      tile_count: s.tile_count,
      tiles_converted: s.tile_count,
      tiles_resumed: 0,
      cog_container: 'silver-cogs',
    });
    expect(out.tile_cogs.map((t: Out) => t.tile_id)).toEqual(s.tiles.map((t: Out) => t.tile_id));
    expect(ctx.checkpoints).toHaveLength(s.tile_count);
    ctx.checkpoints.forEach((c, i) => {
      expect(c.phase).toBe('tiles');
      expect((c.state as { done: string[] }).done).toHaveLength(i + 1);
    });
    for (const [i, t] of out.tile_cogs.entries()) {
      expect(t.cog_blob).toBe(`tiled/up/classes_tiles/${t.tile_id}.tif`);
      const file = await download(t.cog_blob);
      const check = validateCog(file);
      expect(check.valid, check.output).toBe(true);
      const w = s.tiles[i].pixel_window;
      expect(checksum(file)).toBe(checksum(classes, [w.x, w.y, w.width, w.height]));
      expect(t.shape).toEqual([w.height, w.width]);
    }
    expect(out.collection_bounds).toEqual([10, 49.97, 10.05, 50]);
    for (const t of s.tiles) expect(translatesFor(t.tile_id)).toBe(1);
  });

  it('resumes from a checkpoint: finished tiles are skipped, only the rest is converted', async () => {
    const v = await validate(rgb);
    const s = await scheme({
      local_path: rgb,
      validation: v,
      target_crs: 'EPSG:4326',
      tile_size: 256,
      tile_overlap: 32,
    });
    expect(s.tile_count).toBeGreaterThanOrEqual(4);
    const first = fakeCtx({ jobId: 'jobR', nodeId: 'tiles' });
    // The first attempt "dies" after its second checkpoint.
    first.saveCheckpoint = async (phase: string, state: unknown) => {
      first.checkpoints.push({ phase, state: JSON.parse(JSON.stringify(state)) as unknown });
      if (first.checkpoints.length === 2) throw new Error('worker died');
    };
    await expect(batch({ local_path: rgb, validation: v, tiling: s }, first)).rejects.toThrow('worker died');
    const cp: Checkpoint = first.checkpoints[1]!;
    const done = (cp.state as { done: string[] }).done;
    expect(done).toEqual([s.tiles[0].tile_id, s.tiles[1].tile_id]);
    const second = fakeCtx({ jobId: 'jobR', nodeId: 'tiles', checkpoint: cp });
    const out = await batch({ local_path: rgb, validation: v, tiling: s }, second);
    expect(out).toMatchObject({
      tiles_resumed: 2,
      tiles_converted: s.tile_count - 2,
      tile_count: s.tile_count,
    });
    expect(out.tile_cogs.map((t: Out) => t.tile_id)).toEqual(s.tiles.map((t: Out) => t.tile_id));
    for (const t of s.tiles) expect(translatesFor(t.tile_id)).toBeGreaterThanOrEqual(1);
    // Tiles of this scheme: converted once each across both attempts.
    const calls = readCalls(callLog).filter((c) => c.kind === 'start' && c.args.includes('/jobR/'));
    expect(calls.map((c) => tileOf(c.args)).sort()).toEqual(s.tiles.map((t: Out) => t.tile_id).sort());
    const file = await download(out.tile_cogs[s.tile_count - 1].cog_blob);
    expect(validateCog(file).valid).toBe(true);
  });

  it('a tile converted and uploaded but not checkpointed is uploaded from the mount, not converted again', async () => {
    const v = await validate(classes);
    const s = await scheme({
      local_path: classes,
      validation: v,
      target_crs: 'native',
      tile_size: 300,
      tile_overlap: 0,
    });
    const first = fakeCtx({ jobId: 'jobL', nodeId: 'tiles' });
    first.saveCheckpoint = async (phase: string, state: unknown) => {
      // Dies while saving the second checkpoint: tile 2 is on the mount, not in any checkpoint.
      if (first.checkpoints.length === 1) throw new Error('worker died');
      first.checkpoints.push({ phase, state: JSON.parse(JSON.stringify(state)) as unknown });
    };
    await expect(batch({ local_path: classes, validation: v, tiling: s }, first)).rejects.toThrow(
      'worker died',
    );
    const second = fakeCtx({ jobId: 'jobL', nodeId: 'tiles', checkpoint: first.checkpoints[0]! });
    const out = await batch({ local_path: classes, validation: v, tiling: s }, second);
    expect(out).toMatchObject({
      tiles_resumed: 1,
      tiles_uploaded_from_mount: 1,
      tiles_converted: s.tile_count - 2,
    });
    const calls = readCalls(callLog).filter((c) => c.kind === 'start' && c.args.includes('/jobL/'));
    expect(calls).toHaveLength(s.tile_count);
  });

  it('a grid that does not match the raster is refused', async () => {
    const v = await validate(classes);
    const s = await scheme({
      local_path: classes,
      validation: v,
      target_crs: 'native',
      tile_size: 300,
      tile_overlap: 0,
    });
    const wrong = { ...s, grid: { ...s.grid, width: 999 } };
    await expect(batch({ local_path: classes, validation: v, tiling: wrong })).rejects.toThrow(
      /is not the grid of/,
    );
    expect(
      TilingParams.safeParse({ local_path: classes, validation: v, tile_size: 256, tile_overlap: 256 })
        .success,
    ).toBe(true);
    await expect(
      scheme({ local_path: classes, validation: v, tile_size: 256, tile_overlap: 256 }),
    ).rejects.toThrow(/tile_overlap \(256\) must be ≥ 0 and smaller than tile_size/);
  });
});
