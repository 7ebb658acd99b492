// The handlers' outputs and parameter names as the original system's (issue 16): flaky_echo's
// retry_count, echo's completed_steps, multi_phase, size_check, chunk_processor; process_tile_batch
// takes tiling_scheme and stac_ensure_collection grid_dimensions besides this product's names.
// (raster.validate's crs_source and confidence spellings: test/raster/validate.test.ts, with GDAL.)
import { describe, expect, it } from 'vitest';
import { chunkProcessor, echo, flakyEcho, multiPhase, sizeCheck } from '../../handlers/builtinHandlers';
import { defaultRegistry } from '../../handlers/handlerRegistry';
import type { HandlerContext } from '../../handlers/handlerTypes';
import { handlerContext } from '../support/handlerContext';
import { ProcessTileBatchParams } from '../../handlers/raster/processTileBatch';
import { EnsureCollectionParams } from '../../handlers/raster/stacEnsureCollection';
import { ValidationSchema } from '../../handlers/raster/rasterParams';

// Attempt 2: flaky_echo's retry_count reads it.
const ctx = (over: Partial<HandlerContext> = {}) => handlerContext({ taskId: 'j_n_2', attempt: 2, ...over });

describe('handler outputs of the original', () => {
  it('the original handler names are all registered', () => {
    const names = defaultRegistry().names();
    for (const n of [
      'echo',
      'hello_world',
      'sleep',
      'fail',
      'flaky_echo',
      'multi_phase',
      'size_check',
      'chunk_processor',
    ])
      expect(names).toContain(n);
  });

  it('flaky_echo returns retry_count (the 0-based attempt) as well as attempt', async () => {
    const out = await flakyEcho.run(flakyEcho.params.parse({ failure_rate: '0', x: 1 }), ctx().c);
    expect(out).toMatchObject({ retry_count: 2, attempt: 2, handler: 'flaky_echo', task_id: 'j_n_2' });
    expect((out as { echoed_params: Record<string, unknown> }).echoed_params.x).toBe(1);
  });

  it('echo with steps returns completed_steps, the names of every step', async () => {
    const out = await echo.run(echo.params.parse({ steps: 3 }), ctx().c);
    expect(out).toMatchObject({ steps_completed: 3, completed_steps: ['step_1', 'step_2', 'step_3'] });
  });

  it('multi_phase runs its phases with a checkpoint each and resumes after the last one', async () => {
    const first = ctx();
    expect(await multiPhase.run(multiPhase.params.parse({}), first.c)).toEqual({
      phases_completed: 3,
      results: ['phase_1_complete', 'phase_2_complete', 'phase_3_complete'],
    });
    expect(first.saved.map((s) => s.phase)).toEqual(['phase_1', 'phase_2', 'phase_3']);
    const resumed = ctx({ checkpoint: { phase: 'phase_1', state: { results: ['phase_1_complete'] } } });
    await multiPhase.run(multiPhase.params.parse({ phases: '3' }), resumed.c);
    expect(resumed.saved.map((s) => s.phase)).toEqual(['phase_2', 'phase_3']);
  });

  it('size_check routes light < 100 MB ≤ medium < 1 GB ≤ heavy', async () => {
    const run = (size_bytes: unknown) => sizeCheck.run(sizeCheck.params.parse({ size_bytes }), ctx().c);
    expect(await run(5)).toEqual({ size_bytes: 5, route: 'light', recommended_queue: 'functionapp-tasks' });
    expect(await run(100 * 2 ** 20)).toMatchObject({ route: 'medium', recommended_queue: 'container-tasks' });
    expect(await run(String(2 ** 30))).toMatchObject({
      route: 'heavy',
      recommended_queue: 'container-tasks-heavy',
    });
    expect(await sizeCheck.run(sizeCheck.params.parse({}), ctx().c)).toMatchObject({
      size_bytes: 0,
      route: 'light',
    });
  });

  it('chunk_processor counts the items of a list or an object, else 1', async () => {
    const run = (p: Record<string, unknown>) => chunkProcessor.run(chunkProcessor.params.parse(p), ctx().c);
    expect(await run({ chunk_id: 7, chunk_data: [1, 2, 3] })).toEqual({
      chunk_id: 7,
      processed: true,
      item_count: 3,
    });
    expect(await run({ chunk_id: 'c', chunk_data: { a: 1, b: 2 } })).toMatchObject({ item_count: 2 });
    expect(await run({ chunk_data: 'x' })).toEqual({ chunk_id: 'unknown', processed: true, item_count: 1 });
  });
});

describe('raster parameter names of the original', () => {
  const grid = {
    crs: 'EPSG:32633',
    epsg: 32633,
    width: 10,
    height: 10,
    geotransform: [0, 1, 0, 10, 0, -1],
    reprojected: false,
  };
  const tile = {
    tile_id: 'tile_r0_c0',
    row: 0,
    col: 0,
    pixel_window: { x: 0, y: 0, width: 10, height: 10 },
    geo_bounds: [0, 0, 10, 10],
  };
  const validation = {
    valid: true,
    source_crs: 'EPSG:32633',
    source_epsg: 32633,
    crs_source: 'file_metadata',
    bounds: [15, 36, 15.1, 36.1],
    native_bounds: [500000, 3990000, 510000, 4000000],
    geotransform: [500000, 10, 0, 4000000, 0, -10],
    shape: [1000, 1000],
    band_count: 3,
    dtype: 'uint8',
    nodata: null,
    bands: [1, 2, 3].map((index) => ({ index, data_type: 'uint8', nodata: null })),
    raster_type: { type: 'rgb', confidence: 'HIGH', evidence: [] },
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
    estimated_compressed_mb: 10,
  };

  it('raster.process_tile_batch takes tiling_scheme as tiling', () => {
    const p = ProcessTileBatchParams.parse({
      local_path: 'input/x.tif',
      validation,
      tiling_scheme: { grid, tiles: [tile], grid_dimensions: { rows: 1, cols: 1 } },
    });
    expect(p.tiling?.tiles).toHaveLength(1);
    expect(() => ProcessTileBatchParams.parse({ local_path: 'input/x.tif', validation })).toThrow(
      /tiling_scheme/,
    );
  });

  it('raster.validate output of the original (file_metadata / user_override, HIGH) is accepted downstream', () => {
    for (const crs_source of ['file_metadata', 'user_override', 'file', 'override'])
      expect(ValidationSchema.safeParse({ ...validation, crs_source }).success).toBe(true);
    expect(ValidationSchema.safeParse({ ...validation, crs_source: 'guess' }).success).toBe(false);
  });

  it('raster.stac_ensure_collection takes grid_dimensions for the tile summaries', () => {
    const p = EnsureCollectionParams.parse({ collection_id: 'c1', grid_dimensions: { rows: 2, cols: 3 } });
    expect(p.grid_dimensions).toEqual({ rows: 2, cols: 3 });
    expect(
      EnsureCollectionParams.safeParse({ collection_id: 'c1', grid_dimensions: { rows: 0, cols: 3 } })
        .success,
    ).toBe(false);
  });
});
