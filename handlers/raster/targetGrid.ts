// The grid a COG (or a set of tile COGs) is cut from: the source itself when it is already in the
// target CRS, else a warped VRT in the target CRS. raster.generate_tiling_scheme and
// raster.process_tile_batch build it with the same gdalwarp arguments, so tile windows computed by the
// first line up exactly with the pixels the second writes (no seams between reprojected tiles).
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { NonRetryableError } from '../handlerTypes';
import { warpedVrtArgs, type GridSource } from './cogCommands';
import { crossesAntimeridian, resolveCrs, unwrapBbox, type Bbox } from './crsTools';
import { gdalInfo } from './gdalInfo';
import type { Validation } from './rasterParams';
import { runGdal } from './runGdal';

export interface TargetPlan {
  reproject: boolean;
  /** The CRS written (EPSG:n or the definition given); the source's when not reprojecting. */
  targetCrs: string;
  targetEpsg: number | null;
  sourceCrs: string;
  /** The CRS assigned to a source that has none (input_crs). */
  sourceOverride?: string;
}

const KEEP_SOURCE = /^(native|source|none)$/i;

/** Whether the target CRS differs from the source's. target_crs absent → EPSG:4326 (the original default). */
export async function planTarget(
  v: Validation,
  targetCrs: string | undefined,
  signal?: AbortSignal,
): Promise<TargetPlan> {
  const sourceOverride =
    v.crs_source === 'user_override' || v.crs_source === 'override' ? v.source_crs : undefined;
  const base = { sourceCrs: v.source_crs, ...(sourceOverride ? { sourceOverride } : {}) };
  const want = targetCrs ?? 'EPSG:4326';
  if (KEEP_SOURCE.test(want)) {
    return { reproject: false, targetCrs: v.source_crs, targetEpsg: v.source_epsg ?? null, ...base };
  }
  const m = /^EPSG:(\d+)$/i.exec(want);
  const target = m ? { epsg: Number(m[1]), key: `EPSG:${m[1]}` } : await resolveCrs(want, signal);
  const sourceKey = v.source_epsg ? `EPSG:${v.source_epsg}` : (await resolveCrs(v.source_crs, signal)).key;
  return {
    reproject: target.key !== sourceKey,
    targetCrs: target.epsg ? `EPSG:${target.epsg}` : want,
    targetEpsg: target.epsg,
    ...base,
  };
}

export interface Grid {
  source: GridSource;
  width: number;
  height: number;
  geotransform: number[];
}

/** Builds the grid: the warped VRT under workDir when reprojecting, else the source as it is. */
export async function buildGrid(
  localPath: string,
  v: Validation,
  plan: TargetPlan,
  workDir: string,
  signal?: AbortSignal,
): Promise<Grid> {
  if (!plan.reproject) {
    if (!v.geotransform)
      throw new NonRetryableError('validation.geotransform is missing: run raster.validate again');
    return {
      source: { path: localPath, ...(plan.sourceOverride ? { assignSrs: plan.sourceOverride } : {}) },
      width: v.shape[1],
      height: v.shape[0],
      geotransform: v.geotransform,
    };
  }
  mkdirSync(workDir, { recursive: true });
  const vrt = path.join(workDir, 'grid.vrt');
  const bands = v.bands ?? [];
  // GDAL's own extent for a footprint across the antimeridian spans the whole globe (a grid a few
  // rows high); in longitude/latitude the grid is written with continuous longitudes past 180 instead.
  const bounds = v.bounds as Bbox | undefined;
  const acrossAntimeridian = plan.targetEpsg === 4326 && bounds !== undefined && crossesAntimeridian(bounds);
  const { args, grid } = warpedVrtArgs(localPath, vrt, {
    ...(acrossAntimeridian ? { extent: unwrapBbox(bounds) } : {}),
    ...(plan.sourceOverride ? { sourceSrs: plan.sourceOverride } : {}),
    targetSrs: plan.targetCrs,
    resampling: v.compression_profile.reproject_resampling,
    bandCount: v.band_count,
    hasNodata: v.nodata !== null && v.nodata !== undefined,
    hasAlpha:
      bands.length > 0 &&
      (bands[bands.length - 1] as { color_interpretation?: string }).color_interpretation === 'Alpha',
  });
  await runGdal('gdalwarp', args, signal ? { signal } : {});
  const info = await gdalInfo(vrt, signal ? { signal } : {});
  if (!info.geotransform) throw new Error(`gdalwarp wrote ${vrt} without a geotransform`);
  return { source: grid, width: info.width, height: info.height, geotransform: info.geotransform };
}
