// The facts of a COG that its STAC item needs (projection and raster extensions): CRS, shape,
// transform, bounds in its CRS and in WGS 84, overview count, bands with nodata and statistics. They
// are known from the grid the COG is cut from (no read-back of the written file: that would cost a
// GDAL run per COG), carried to raster.stac_register_item as blob metadata.
import { z } from 'zod';
import { bboxesToWgs84, type Bbox } from './crsTools';
import { gridBounds } from './gdalInfo';
import type { Validation } from './rasterParams';
import type { Grid, TargetPlan } from './targetGrid';

const nodata = z.union([z.number(), z.enum(['nan', 'inf', '-inf'])]);
const bbox = z.tuple([z.number(), z.number(), z.number(), z.number()]);
const statistics = z.object({
  minimum: z.number(),
  maximum: z.number(),
  mean: z.number(),
  stddev: z.number(),
});

export const CogFactsSchema = z.object({
  epsg: z.number().int().nullable(),
  /** [rows, cols] */
  shape: z.tuple([z.number().int(), z.number().int()]),
  /** proj:transform: the affine [a, b, c, d, e, f] (GDAL's geotransform reordered). */
  transform: z.array(z.number()).length(6),
  /** In the COG's CRS. */
  proj_bbox: bbox,
  /** WGS 84 longitude/latitude. */
  bbox,
  overview_levels: z.number().int(),
  bands: z.array(
    z.object({ data_type: z.string(), nodata: nodata.optional(), statistics: statistics.optional() }),
  ),
  has_mask: z.boolean().optional(),
});
export type CogFacts = z.infer<typeof CogFactsSchema>;

/** GDAL [x0, dx, rx, y0, ry, dy] → STAC/affine [dx, rx, x0, ry, dy, y0]. */
export function stacTransform(gt: readonly number[]): number[] {
  return [gt[1]!, gt[2]!, gt[0]!, gt[4]!, gt[5]!, gt[3]!];
}

/** Overviews the COG driver builds: halving until the image fits in one block. */
export function cogOverviewCount(width: number, height: number, blockSize = 512): number {
  let n = 0;
  for (let w = width, h = height; w > blockSize || h > blockSize; n++) {
    w = Math.ceil(w / 2);
    h = Math.ceil(h / 2);
  }
  return n;
}

/** STAC raster:bands of the source (data type, nodata, approximate statistics from raster.validate). */
export function bandFacts(v: Validation): CogFacts['bands'] {
  return (v.bands ?? []).map((b) => {
    const s = (b as { statistics?: unknown }).statistics;
    const stats = statistics.safeParse(s);
    return {
      data_type: b.data_type,
      ...(b.nodata != null ? { nodata: b.nodata } : {}),
      ...(stats.success ? { statistics: stats.data } : {}),
    };
  });
}

/**
 * The facts of a COG written from `grid` (the whole grid, or one window of it): WGS 84 bounds come
 * from the validation when the grid is the source's, else from one gdaltransform call.
 */
export async function gridFacts(
  grid: Pick<Grid, 'width' | 'height' | 'geotransform'> & { maskBand?: number | undefined },
  plan: TargetPlan,
  v: Validation,
  signal?: AbortSignal,
): Promise<CogFacts> {
  const projBbox = gridBounds(grid.geotransform, grid.width, grid.height);
  const bbox: Bbox = !plan.reproject
    ? (v.bounds as Bbox)
    : (await bboxesToWgs84([projBbox], plan.targetCrs, plan.targetEpsg, signal))[0]!;
  return {
    epsg: plan.targetEpsg,
    shape: [grid.height, grid.width],
    transform: stacTransform(grid.geotransform),
    proj_bbox: projBbox,
    bbox,
    overview_levels: cogOverviewCount(grid.width, grid.height),
    bands: bandFacts(v),
    has_mask: grid.maskBand !== undefined,
  };
}

/** Blob metadata values are HTTP headers (≤ 8 KiB in all): facts without statistics when they are too long. */
export function cogFactsMetadata(facts: CogFacts): string {
  const full = JSON.stringify(facts);
  if (full.length <= 6000) return full;
  const lean = JSON.stringify({ ...facts, bands: facts.bands.map(({ statistics: _s, ...b }) => b) });
  return lean.length <= 6000 ? lean : JSON.stringify({ ...facts, bands: [] });
}
