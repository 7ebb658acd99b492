// The raster workflows against the real handler registry and the scheduler (simulated, handlers
// answer with canned outputs of the right shape): raster_ingest.yaml is the seed file unchanged and
// passes the params the handlers parse; raster_tiled.yaml routes on the estimated size to a single COG
// or to batches of tiles.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadWorkflow } from '../../dag/loadWorkflow';
import { simulateJob, type SimCall } from '../../dag/simulateJob';
import { validateInputs } from '../../dag/validateInputs';
import { defaultRegistry } from '../../handlers/handlerRegistry';

const ROOT = path.join(__dirname, '..', '..');
const registry = defaultRegistry();
const load = (file: string) => {
  const r = loadWorkflow(readFileSync(path.join(ROOT, 'workflows', file), 'utf8'), file, {
    handlers: registry.catalog(),
  });
  expect(r.issues).toEqual([]);
  return r;
};

const validation = (estimated: number) => ({
  valid: true,
  source_crs: 'EPSG:32633',
  source_epsg: 32633,
  crs_source: 'file',
  bounds: [15, 36, 15.1, 36.1],
  native_bounds: [500000, 3990000, 510000, 4000000],
  geotransform: [500000, 10, 0, 4000000, 0, -10],
  shape: [1000, 1000],
  band_count: 3,
  dtype: 'uint8',
  nodata: null,
  bands: [1, 2, 3].map((index) => ({ index, data_type: 'uint8', nodata: null })),
  raster_type: { type: 'rgb', confidence: 'high', evidence: [] },
  compression_profile: {
    compression: 'jpeg',
    gdal_compress: 'JPEG',
    quality: 85,
    overview_resampling: 'cubic',
    reproject_resampling: 'cubic',
    lossy: true,
    tier: 'analysis',
  },
  applicable_tiers: ['visualization', 'analysis', 'archive'],
  estimated_compressed_mb: estimated,
});

const tile = (i: number) => ({
  tile_id: `tile_r0_c${i}`,
  row: 0,
  col: i,
  pixel_window: { x: i * 100, y: 0, width: 100, height: 100 },
  geo_bounds: [0, 0, 1, 1],
  bbox: [0, 0, 1, 1],
});

/** Canned outputs; every call's params must parse with the handler's own zod schema. */
function handler(estimated: number, parsed: string[]) {
  return (c: SimCall) => {
    const def = registry.get(c.handler)!;
    const r = def.params.safeParse(c.params);
    if (!r.success) throw new Error(`${c.key}: ${c.handler} params do not parse: ${r.error.message}`);
    parsed.push(c.key);
    const outputs: Record<string, unknown> = {
      'raster.blob_to_mount': { local_path: '/mnt/etl/input/j/uploads/a.tif' },
      'raster.validate': validation(estimated),
      'raster.create_cog': {
        cog_blob: 'uploads/a_cog.tif',
        cog_container: 'silver-cogs',
        bbox: [15, 36, 15.1, 36.1],
      },
      'raster.generate_tiling_scheme': {
        grid: {
          crs: 'EPSG:4326',
          epsg: 4326,
          width: 300,
          height: 100,
          geotransform: [0, 1, 0, 0, 0, -1],
          reprojected: true,
        },
        grid_dimensions: { rows: 1, cols: 3 },
        bounds: [15, 36, 15.1, 36.1],
        batches: [
          { batch_index: 0, tiles: [tile(0), tile(1)] },
          { batch_index: 1, tiles: [tile(2)] },
        ],
      },
      'raster.process_tile_batch': { tile_cogs: [], cog_container: 'silver-cogs' },
    };
    return { ok: true as const, output: outputs[c.handler] ?? {} };
  };
}

const INPUTS = { blob_name: 'uploads/a.tif', container_name: 'bronze', collection_id: 'c1' };

describe('raster workflows', () => {
  it('raster_ingest.yaml is the seed workflow byte for byte, and its params parse', () => {
    const seed = path.join(ROOT, '..', 'shared', 'fixtures', 'seed-workflows', 'raster_ingest.yaml');
    if (existsSync(seed))
      expect(readFileSync(path.join(ROOT, 'workflows', 'raster_ingest.yaml'), 'utf8')).toBe(
        readFileSync(seed, 'utf8'),
      );
    const r = load('raster_ingest.yaml');
    const inputs = validateInputs(r.workflow!, INPUTS);
    expect(inputs.ok).toBe(true);
    const parsed: string[] = [];
    const s = simulateJob(r.plan!, {
      inputs: (inputs as { value: Record<string, unknown> }).value,
      handler: handler(1, parsed),
    });
    expect(s.state.status).toBe('completed');
    expect(parsed).toEqual([
      'copy_to_mount',
      'validate_raster',
      'create_cog',
      'ensure_collection',
      'register_stac_item',
    ]);
  });

  it.each([
    [5, {}, ['copy_to_mount', 'validate_raster', 'create_cog', 'ensure_collection', 'register_stac_item']],
    [
      5000,
      {},
      [
        'copy_to_mount',
        'validate_raster',
        'tiling_scheme',
        'process_tiles__0',
        'process_tiles__1',
        'ensure_tiled_collection',
        'register_tile_items',
      ],
    ],
    [
      5,
      { tiling_threshold_mb: 0, tile_size: 256, tile_overlap: 16 },
      [
        'copy_to_mount',
        'validate_raster',
        'tiling_scheme',
        'process_tiles__0',
        'process_tiles__1',
        'ensure_tiled_collection',
        'register_tile_items',
      ],
    ],
  ])('raster_tiled.yaml with an estimate of %i MiB and %j runs %j', (estimated, extra, ran) => {
    const r = load('raster_tiled.yaml');
    const inputs = validateInputs(r.workflow!, { ...INPUTS, ...extra });
    expect(inputs.ok).toBe(true);
    const parsed: string[] = [];
    const s = simulateJob(r.plan!, {
      inputs: (inputs as { value: Record<string, unknown> }).value,
      handler: handler(estimated, parsed),
    });
    expect(s.state.status).toBe('completed');
    expect([...parsed].sort()).toEqual([...ran].sort());
  });
});
