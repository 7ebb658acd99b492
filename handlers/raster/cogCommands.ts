// The GDAL command lines that make a COG, shared by raster.create_cog, raster.process_tile_batch and
// the benchmark (which times the same commands bare):
//   no reprojection:  gdal_translate -of COG <profile options> [-a_srs <override>] [-srcwin …] src out
//   reprojection:     gdalwarp -of VRT -t_srs <target> -r <resampling> [-dstalpha] src grid.vrt
//                     gdal_translate -of COG <profile options> [-b 1 … -b n -mask n+1] [-srcwin …] grid.vrt out
// The warped VRT costs nothing to write (pixels are warped while the COG is written) and gives tiles
// one shared target grid. A source without nodata gets an alpha band from the warp, written as the
// COG's internal mask, so the band count stays the source's and the area outside the footprint is
// transparent, not zeros that could be real values.
import type { CompressionProfile } from './rasterProfiles';

export interface GridSource {
  /** What gdal_translate reads: the source file, or the warped VRT. */
  path: string;
  /** Bands to write (1..n), and the band to use as the mask, when the warp added an alpha band. */
  bands?: number[];
  maskBand?: number;
  /** Assign this CRS (a source without one, when not warping). */
  assignSrs?: string;
}

/** -co options of the COG driver for a profile. */
export function cogCreationOptions(profile: CompressionProfile): string[] {
  const co = [
    `COMPRESS=${profile.gdal_compress}`,
    `OVERVIEW_RESAMPLING=${profile.overview_resampling.toUpperCase()}`,
    'BLOCKSIZE=512',
    'NUM_THREADS=ALL_CPUS',
    'BIGTIFF=IF_SAFER',
    // Overviews are rebuilt with the profile's resampling, not copied from the source.
    'OVERVIEWS=IGNORE_EXISTING',
  ];
  if (profile.quality !== undefined) co.push(`QUALITY=${profile.quality}`);
  if (profile.predictor !== undefined) co.push(`PREDICTOR=${profile.predictor}`);
  if (profile.level !== undefined && profile.compression === 'deflate') co.push(`LEVEL=${profile.level}`);
  if (profile.max_z_error !== undefined) co.push(`MAX_Z_ERROR=${profile.max_z_error}`);
  return co.flatMap((o) => ['-co', o]);
}

/** gdal_translate arguments writing `out` as a COG from a grid source (optionally one window of it). */
export function cogTranslateArgs(
  src: GridSource,
  out: string,
  profile: CompressionProfile,
  srcwin?: { x: number; y: number; width: number; height: number },
): string[] {
  return [
    '-q',
    '-of',
    'COG',
    ...cogCreationOptions(profile),
    ...(src.bands ? src.bands.flatMap((b) => ['-b', String(b)]) : []),
    ...(src.maskBand ? ['-mask', String(src.maskBand)] : []),
    ...(src.assignSrs ? ['-a_srs', src.assignSrs] : []),
    ...(srcwin
      ? ['-srcwin', String(srcwin.x), String(srcwin.y), String(srcwin.width), String(srcwin.height)]
      : []),
    '--config',
    'GDAL_TIFF_INTERNAL_MASK',
    'YES',
    src.path,
    out,
  ];
}

export interface WarpPlan {
  /** Source CRS when the file has none (input_crs). */
  sourceSrs?: string;
  targetSrs: string;
  resampling: string;
  bandCount: number;
  /** Whether the source marks invalid pixels already (nodata, or an alpha band as last band). */
  hasNodata: boolean;
  hasAlpha: boolean;
  /** Target extent (-te, in the target CRS): set for a source across the antimeridian. */
  extent?: [number, number, number, number];
}

/** gdalwarp arguments writing the warped VRT, and how gdal_translate must read it. */
export function warpedVrtArgs(src: string, vrt: string, w: WarpPlan): { args: string[]; grid: GridSource } {
  const addAlpha = !w.hasNodata && !w.hasAlpha;
  const args = [
    '-q',
    '-overwrite',
    '-of',
    'VRT',
    ...(w.sourceSrs ? ['-s_srs', w.sourceSrs] : []),
    '-t_srs',
    w.targetSrs,
    ...(w.extent ? ['-te', ...w.extent.map(String)] : []),
    '-r',
    w.resampling,
    '-wo',
    'NUM_THREADS=ALL_CPUS',
    ...(addAlpha ? ['-dstalpha'] : []),
    src,
    vrt,
  ];
  const grid: GridSource = addAlpha
    ? {
        path: vrt,
        bands: Array.from({ length: w.bandCount }, (_, i) => i + 1),
        maskBand: w.bandCount + 1,
      }
    : { path: vrt };
  return { args, grid };
}
