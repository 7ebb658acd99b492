// raster.generate_tiling_scheme: cuts the target grid (the source, or its reprojection) into tiles of
// tile_size pixels that overlap their neighbours by tile_overlap pixels, with pixel windows, bounds in
// the grid's CRS and in WGS 84, grouped into batches for raster.process_tile_batch.
//
// Tiles start every (tile_size − overlap) pixels; the last row/column is narrower, never empty, and
// reaches the raster's edge: cols = ceil((width − overlap) / stride), at least 1.
import { rm } from 'node:fs/promises';
import { z } from 'zod';
import { NonRetryableError, type HandlerDefinition } from '../handlerTypes';
import { rasterHandler } from './rasterHandler';
import { intLike } from '../numberLike';
import { bboxesToWgs84, unionBbox, type Bbox } from './crsTools';
import { requireInsideMount, workDir } from './mountPaths';
import { optionalString, requiredString, ValidationSchema } from './rasterParams';
import { buildGrid, planTarget } from './targetGrid';

export interface Tile {
  tile_id: string;
  row: number;
  col: number;
  /** Pixel window in the grid: offset and size. */
  pixel_window: { x: number; y: number; width: number; height: number };
  /** [x0, y0, x1, y1] in grid pixels (x1, y1 exclusive). */
  pixel_bounds: [number, number, number, number];
  /** [minx, miny, maxx, maxy] in the grid's CRS. */
  geo_bounds: Bbox;
  /** [west, south, east, north] in WGS 84 (set by the handler). */
  bbox?: Bbox;
}

export interface TileGrid {
  rows: number;
  cols: number;
  tiles: Tile[];
}

/** The tiles of a width × height grid (pure). */
export function computeTiles(
  width: number,
  height: number,
  geotransform: readonly number[],
  tileSize: number,
  overlap: number,
): TileGrid {
  if (!(tileSize > 0) || !(overlap >= 0) || overlap >= tileSize) {
    throw new NonRetryableError(
      `tile_overlap (${overlap}) must be ≥ 0 and smaller than tile_size (${tileSize})`,
    );
  }
  const stride = tileSize - overlap;
  const count = (n: number) => Math.max(1, Math.ceil((n - overlap) / stride));
  const cols = count(width);
  const rows = count(height);
  const [x0, dx, rx, y0, ry, dy] = geotransform as [number, number, number, number, number, number];
  const geo = (px: number, py: number): [number, number] => [x0 + px * dx + py * rx, y0 + px * ry + py * dy];
  const tiles: Tile[] = [];
  for (let row = 0; row < rows; row++) {
    for (let col = 0; col < cols; col++) {
      const x = col * stride;
      const y = row * stride;
      const w = Math.min(tileSize, width - x);
      const h = Math.min(tileSize, height - y);
      const corners = [geo(x, y), geo(x + w, y), geo(x, y + h), geo(x + w, y + h)];
      const xs = corners.map((c) => c[0]);
      const ys = corners.map((c) => c[1]);
      tiles.push({
        tile_id: `tile_r${row}_c${col}`,
        row,
        col,
        pixel_window: { x, y, width: w, height: h },
        pixel_bounds: [x, y, x + w, y + h],
        geo_bounds: [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)],
      });
    }
  }
  return { rows, cols, tiles };
}

/** Splits tiles into batches of at most batchSize (row-major order kept). */
export function batchTiles<T>(
  tiles: readonly T[],
  batchSize: number,
): Array<{ batch_index: number; tiles: T[] }> {
  const out: Array<{ batch_index: number; tiles: T[] }> = [];
  for (let i = 0; i < tiles.length; i += batchSize)
    out.push({ batch_index: out.length, tiles: tiles.slice(i, i + batchSize) });
  return out;
}

const size = (dflt: number, min: number, max: number) =>
  z.preprocess(
    (v) => (v === undefined || v === null || v === '' ? dflt : v),
    intLike.pipe(z.number().min(min).max(max)),
  );

export const TilingParams = z.looseObject({
  /** The staged raster: needed to compute the reprojected grid when the target CRS differs. */
  local_path: requiredString('local_path'),
  validation: ValidationSchema,
  target_crs: optionalString,
  tile_size: size(4096, 64, 65536),
  tile_overlap: size(512, 0, 65535),
  /** Tiles per raster.process_tile_batch task (the fan-out unit). */
  batch_size: size(16, 1, 100000),
});
export type TilingParams = z.infer<typeof TilingParams>;

export const generateTilingScheme: HandlerDefinition<TilingParams> = rasterHandler({
  name: 'raster.generate_tiling_scheme',
  description: 'Computes a tile grid with overlap (pixel windows, bounds) over the target grid, in batches.',
  params: TilingParams,
  async run(p, ctx, config) {
    const src = requireInsideMount(config.mountPath, p.local_path, 'local_path');
    const v = p.validation;
    const plan = await planTarget(v, p.target_crs, ctx.signal);
    const work = workDir(config.mountPath, ctx.jobId, ctx.nodeId);
    try {
      const grid = await buildGrid(src, v, plan, work, ctx.signal);
      const { rows, cols, tiles } = computeTiles(
        grid.width,
        grid.height,
        grid.geotransform,
        p.tile_size,
        p.tile_overlap,
      );
      const wgs = await bboxesToWgs84(
        tiles.map((t) => t.geo_bounds),
        plan.targetCrs,
        plan.targetEpsg,
        ctx.signal,
      );
      tiles.forEach((t, i) => (t.bbox = wgs[i]));
      const batches = batchTiles(tiles, p.batch_size);
      return {
        tiles,
        tile_count: tiles.length,
        grid_dimensions: { rows, cols },
        tile_size: p.tile_size,
        tile_overlap: p.tile_overlap,
        source_shape: v.shape,
        source_bounds: v.native_bounds,
        bounds: unionBbox(wgs),
        grid: {
          crs: plan.targetCrs,
          epsg: plan.targetEpsg,
          width: grid.width,
          height: grid.height,
          geotransform: grid.geotransform,
          reprojected: plan.reproject,
        },
        batches,
        batch_count: batches.length,
        batch_size: p.batch_size,
      };
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  },
});
