// What kind of raster a file is, and how to write it as a COG: type detection with evidence, the
// compression profile per type (adjusted to the data type and the output tier), the tiers a raster
// can be written in, and the estimated size of the COG. Pure functions: the tables are the product's
// policy and are documented in docs/raster.md.
import type { BandInfo } from './gdalInfo';
import { DTYPE_BYTES } from './gdalInfo';

export const RASTER_TYPES = ['rgb', 'rgba', 'dem', 'categorical', 'multispectral', 'unknown'] as const;
export type RasterType = (typeof RASTER_TYPES)[number];
export const RASTER_TYPE_HINTS = ['auto', ...RASTER_TYPES.filter((t) => t !== 'unknown')] as const;

export const OUTPUT_TIERS = ['visualization', 'analysis', 'archive'] as const;
export type OutputTier = (typeof OUTPUT_TIERS)[number];

/** Data types the product refuses: 64-bit (no viewer or COG tool chain handles them well) and complex. */
export const REJECTED_DTYPES = ['float64', 'int64', 'uint64', 'cint16', 'cint32', 'cfloat32', 'cfloat64'];

export interface RasterTypeResult {
  type: RasterType;
  confidence: 'high' | 'medium' | 'low';
  evidence: string[];
}

const INTEGER = ['uint8', 'int8', 'uint16', 'int16', 'uint32', 'int32', 'uint64', 'int64'];
const isFloat = (d: string) => d === 'float32' || d === 'float64';

/** Detects the raster type from the bands (count, data type, colour interpretation, colour table). */
export function detectRasterType(bands: readonly BandInfo[]): RasterTypeResult {
  const n = bands.length;
  const dtype = bands[0]?.dtype ?? 'unknown';
  const interps = bands.map((b) => b.colorInterp);
  const evidence = [`${n} band${n === 1 ? '' : 's'}`, `data type ${dtype}`];
  if (interps.some((c) => c !== 'Undefined' && c !== 'Gray'))
    evidence.push(`colour interpretation ${interps.join(',')}`);
  const rgbInterp = interps[0] === 'Red' && interps[1] === 'Green' && interps[2] === 'Blue';
  if (n === 1) {
    if (bands[0]!.hasColorTable || interps[0] === 'Palette') {
      evidence.push('colour table (palette): class values');
      return { type: 'categorical', confidence: 'high', evidence };
    }
    if (isFloat(dtype)) {
      evidence.push('single floating-point band: continuous surface (elevation-like)');
      return { type: 'dem', confidence: 'high', evidence };
    }
    if (dtype === 'int16' || dtype === 'int32') {
      evidence.push('single signed-integer band: elevation-like');
      return { type: 'dem', confidence: 'medium', evidence };
    }
    evidence.push('single unsigned-integer band: class values');
    return { type: 'categorical', confidence: 'medium', evidence };
  }
  if (n === 3) {
    if (dtype === 'uint8' || dtype === 'uint16') {
      evidence.push(rgbInterp ? 'bands tagged Red, Green, Blue' : '3 integer bands: RGB by convention');
      return { type: 'rgb', confidence: rgbInterp ? 'high' : 'medium', evidence };
    }
    evidence.push('3 bands that are not 8/16-bit unsigned: not display imagery');
    return { type: 'unknown', confidence: 'low', evidence };
  }
  if (n === 4) {
    const alpha = interps[3] === 'Alpha';
    if ((dtype === 'uint8' || dtype === 'uint16') && alpha) {
      evidence.push('band 4 tagged Alpha');
      return { type: 'rgba', confidence: 'high', evidence };
    }
    if (dtype === 'uint8') {
      evidence.push('4 8-bit bands: RGBA by convention');
      return { type: 'rgba', confidence: 'medium', evidence };
    }
    evidence.push('4 bands without an alpha band and deeper than 8 bits: spectral bands (e.g. RGB + NIR)');
    return { type: 'multispectral', confidence: 'medium', evidence };
  }
  if (n >= 5) {
    evidence.push('5 or more bands: spectral bands');
    return { type: 'multispectral', confidence: 'high', evidence };
  }
  evidence.push('2 bands: no type matches (e.g. grey + alpha)');
  return { type: 'unknown', confidence: 'low', evidence };
}

/** Why a raster_type hint does not fit these bands, or null when it fits. */
export function hintIncompatibility(hint: RasterType, bands: readonly BandInfo[]): string | null {
  const n = bands.length;
  const dtype = bands[0]?.dtype ?? 'unknown';
  switch (hint) {
    case 'rgb':
      return n === 3 && (dtype === 'uint8' || dtype === 'uint16')
        ? null
        : 'rgb needs 3 bands of uint8 or uint16';
    case 'rgba':
      return n === 4 && (dtype === 'uint8' || dtype === 'uint16')
        ? null
        : 'rgba needs 4 bands of uint8 or uint16';
    case 'dem':
      return n === 1 ? null : 'dem needs a single band';
    case 'categorical':
      return n === 1 && INTEGER.includes(dtype) ? null : 'categorical needs a single integer band';
    case 'multispectral':
      return n >= 2 ? null : 'multispectral needs 2 or more bands';
    default:
      return null;
  }
}

export type Resampling = 'nearest' | 'bilinear' | 'cubic' | 'average' | 'mode';

export interface CompressionProfile {
  /** Profile name: jpeg, webp, lerc_deflate or deflate. */
  compression: 'jpeg' | 'webp' | 'lerc_deflate' | 'deflate';
  /** The GDAL COMPRESS creation option. */
  gdal_compress: 'JPEG' | 'WEBP' | 'LERC_DEFLATE' | 'DEFLATE';
  quality?: number;
  predictor?: 2 | 3;
  level?: number;
  max_z_error?: number;
  overview_resampling: Resampling;
  reproject_resampling: Resampling;
  lossy: boolean;
  /** The tier the profile was made for. */
  tier: OutputTier;
  /** Why the profile differs from the type's default, when it does. */
  note?: string;
}

const TYPE_PROFILES: Record<RasterType, Omit<CompressionProfile, 'tier' | 'gdal_compress' | 'lossy'>> = {
  rgb: { compression: 'jpeg', quality: 85, overview_resampling: 'cubic', reproject_resampling: 'cubic' },
  rgba: { compression: 'webp', quality: 85, overview_resampling: 'cubic', reproject_resampling: 'cubic' },
  dem: {
    compression: 'lerc_deflate',
    max_z_error: 0,
    overview_resampling: 'average',
    reproject_resampling: 'bilinear',
  },
  categorical: {
    compression: 'deflate',
    level: 6,
    overview_resampling: 'mode',
    reproject_resampling: 'nearest',
  },
  multispectral: {
    compression: 'deflate',
    level: 6,
    overview_resampling: 'average',
    reproject_resampling: 'bilinear',
  },
  unknown: { compression: 'deflate', level: 6, overview_resampling: 'cubic', reproject_resampling: 'cubic' },
};

const GDAL_COMPRESS = {
  jpeg: 'JPEG',
  webp: 'WEBP',
  lerc_deflate: 'LERC_DEFLATE',
  deflate: 'DEFLATE',
} as const;

/** The tiers a raster can be written in; visualization (lossy web imagery) only for 8-bit RGB/RGBA. */
export function applicableTiers(type: RasterType, dtype: string): OutputTier[] {
  return (type === 'rgb' || type === 'rgba') && dtype === 'uint8'
    ? ['visualization', 'analysis', 'archive']
    : ['analysis', 'archive'];
}

/**
 * The compression profile for a raster type, data type and tier:
 * - the type's profile (jpeg for RGB, webp for RGBA, lerc_deflate for DEMs, deflate otherwise);
 * - JPEG and WEBP need 8-bit data: deeper imagery gets lossless deflate;
 * - archive is lossless: lossy codecs become deflate, deflate goes to level 9;
 * - deflate gets a predictor for continuous data (2 for integers, 3 for floating point).
 */
export function compressionProfile(type: RasterType, dtype: string, tier: OutputTier): CompressionProfile {
  const base = { ...TYPE_PROFILES[type] };
  let note: string | undefined;
  if ((base.compression === 'jpeg' || base.compression === 'webp') && dtype !== 'uint8') {
    note = `${base.compression} needs 8-bit data (${dtype}): lossless deflate instead`;
    base.compression = 'deflate';
    delete base.quality;
    base.level = 6;
  }
  if (tier === 'archive') {
    if (base.compression === 'jpeg' || base.compression === 'webp') {
      note = `archive tier is lossless: deflate instead of ${base.compression}`;
      base.compression = 'deflate';
      delete base.quality;
    }
    if (base.compression === 'deflate') base.level = 9;
  }
  if (base.compression === 'deflate' && type !== 'categorical') base.predictor = isFloat(dtype) ? 3 : 2;
  const lossy = base.compression === 'jpeg' || base.compression === 'webp';
  return {
    ...base,
    gdal_compress: GDAL_COMPRESS[base.compression],
    lossy,
    tier,
    ...(note ? { note } : {}),
  };
}

/** Compressed size / uncompressed size, by profile (the original system's table, extended). */
export function compressionRatio(type: RasterType, profile: CompressionProfile): number {
  switch (profile.compression) {
    case 'jpeg':
      return 0.1;
    case 'webp':
      return 0.12;
    case 'lerc_deflate':
      return 0.4;
    default:
      if (type === 'categorical') return 0.05;
      if (type === 'multispectral') return 0.3;
      if (type === 'rgb' || type === 'rgba') return 0.55;
      return 0.25;
  }
}

/** Uncompressed size in MiB of the full-resolution data. */
export function uncompressedMb(width: number, height: number, bands: number, dtype: string): number {
  return (width * height * bands * (DTYPE_BYTES[dtype] ?? 4)) / 2 ** 20;
}

/** The estimated COG size in MiB: uncompressed × ratio, plus a third for the overviews. */
export function estimateCompressedMb(
  uncompressed: number,
  type: RasterType,
  profile: CompressionProfile,
): number {
  return Math.round(uncompressed * compressionRatio(type, profile) * (4 / 3) * 1000) / 1000;
}
