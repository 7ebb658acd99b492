// raster.validate: reads a raster's metadata with gdalinfo (on the mount, or remotely through
// /vsiaz/ or /vsicurl/ without downloading it) and decides whether and how it can become a COG:
// CRS rules, bit-depth policy, raster type with evidence, compression profile, tiers, estimated size.
import { statSync } from 'node:fs';
import { z } from 'zod';
import { NonRetryableError, type HandlerDefinition } from '../handlerTypes';
import { rasterHandler } from './rasterHandler';
import { isNotFound, type RasterBlobs } from './blobService';
import { bboxesToWgs84, crsKey, resolveCrs, type Bbox, type ResolvedCrs } from './crsTools';
import { gdalInfo, type RasterInfo } from './gdalInfo';
import { requireInsideMount } from './mountPaths';
import type { RasterConfig } from './rasterConfig';
import { readSampleBlocks } from './readSampleBlocks';
import { optionalBool, optionalString, tierParam } from './rasterParams';
import {
  applicableTiers,
  compressionProfile,
  detectRasterType,
  estimateCompressedMb,
  hintIncompatibility,
  RASTER_TYPE_HINTS,
  REJECTED_DTYPES,
  uncompressedMb,
  type CompressionProfile,
  type OutputTier,
  type RasterType,
} from './rasterProfiles';

export const ValidateParams = z
  .looseObject({
    local_path: optionalString,
    blob_path: optionalString,
    input_crs: optionalString,
    raster_type: z.preprocess(
      (v) =>
        v === undefined || v === null || (typeof v === 'string' && !v.trim())
          ? 'auto'
          : String(v).trim().toLowerCase(),
      z.enum(RASTER_TYPE_HINTS, { error: `raster_type must be one of ${RASTER_TYPE_HINTS.join(', ')}` }),
    ),
    output_tier: tierParam,
    /** false: report an invalid raster in the output ({valid: false, errors}) instead of failing. */
    strict: optionalBool,
  })
  .refine((p) => p.local_path || p.blob_path, {
    message:
      'MISSING_PARAM: give local_path (a file on the ETL mount) or blob_path (<container>/<blob>, /vsiaz/…, https://…)',
  });
export type ValidateParams = z.infer<typeof ValidateParams>;

export interface Finding {
  code: string;
  message: string;
}

export interface Assessment {
  errors: Finding[];
  warnings: Finding[];
  crsSource: 'file' | 'override' | null;
  /** The CRS as GDAL tools take it (EPSG:n, or the WKT / the user's definition). */
  crsArg: string | null;
  epsg: number | null;
  sourceCrs: string | null;
  rasterType: {
    type: RasterType;
    confidence: string;
    evidence: string[];
    detected: RasterType;
    hint: string;
  };
  profile: CompressionProfile;
  tier: OutputTier;
  tiers: OutputTier[];
  uncompressedMb: number;
  estimatedMb: number;
}

/** The validation rules over gdalinfo's facts (pure; the CRS override is resolved beforehand). */
export function assessRaster(
  info: RasterInfo,
  o: { override: ResolvedCrs | null; hint: (typeof RASTER_TYPE_HINTS)[number]; tier: OutputTier },
): Assessment {
  const errors: Finding[] = [];
  const warnings: Finding[] = [];
  if (info.bands.length === 0) errors.push({ code: 'NO_BANDS', message: 'the file has no raster bands' });

  // Bit depth: 64-bit and complex data are refused.
  const bad = [...new Set(info.bands.map((b) => b.dtype).filter((d) => REJECTED_DTYPES.includes(d)))];
  if (bad.length) {
    errors.push({
      code: 'BIT_DEPTH_POLICY_VIOLATION',
      message: `data type ${bad.join(', ')} is not accepted (64-bit and complex types are refused): convert first, e.g. gdal_translate -ot Float32`,
    });
  }

  // CRS: the file's, or the override when the file has none; a conflicting override is an error.
  let crsSource: Assessment['crsSource'] = null;
  let crsArg: string | null = null;
  let epsg: number | null = null;
  let sourceCrs: string | null = null;
  if (info.crs) {
    crsSource = 'file';
    epsg = info.crs.epsg;
    crsArg = epsg ? `EPSG:${epsg}` : info.crs.wkt;
    sourceCrs = epsg ? `EPSG:${epsg}` : info.crs.wkt;
    if (o.override && o.override.key !== crsKey(info.crs.epsg, info.crs.projjson)) {
      errors.push({
        code: 'CRS_MISMATCH',
        message: `the file's CRS is ${epsg ? `EPSG:${epsg}` : 'a custom CRS'} but input_crs is ${o.override.input}: remove input_crs, or fix the file (gdal_edit.py -a_srs) if its CRS is wrong`,
      });
    }
  } else if (o.override) {
    crsSource = 'override';
    epsg = o.override.epsg;
    crsArg = epsg ? `EPSG:${epsg}` : o.override.input;
    sourceCrs = crsArg;
    warnings.push({
      code: 'CRS_OVERRIDE',
      message: `the file has no CRS: ${o.override.input} from input_crs is assigned`,
    });
  } else {
    errors.push({
      code: 'CRS_MISSING',
      message:
        'the file has no coordinate reference system and no input_crs was given: pass input_crs (e.g. "EPSG:4326")',
    });
  }
  if (!info.geotransform) {
    errors.push({
      code: 'GEOTRANSFORM_MISSING',
      message:
        'the file has no geotransform (pixel-to-map coordinates): georeference it first (gdal_translate -a_ullr, or GCPs and gdalwarp)',
    });
  }

  // Type: detected, or the hint when it fits the bands.
  const detected = detectRasterType(info.bands);
  let type = detected.type;
  const evidence = [...detected.evidence];
  let confidence: string = detected.confidence;
  if (o.hint !== 'auto' && o.hint !== detected.type) {
    const why = hintIncompatibility(o.hint, info.bands);
    if (why) {
      errors.push({
        code: 'RASTER_TYPE_MISMATCH',
        message: `raster_type "${o.hint}" does not match the file (${detected.evidence.slice(0, 2).join(', ')}; detected ${detected.type}): ${why}`,
      });
    } else {
      type = o.hint;
      confidence = 'given';
      evidence.push(`raster_type hint "${o.hint}" used instead of the detected ${detected.type}`);
      warnings.push({
        code: 'RASTER_TYPE_OVERRIDE',
        message: `raster_type "${o.hint}" given; detection said ${detected.type}`,
      });
    }
  } else if (o.hint !== 'auto') {
    evidence.push(`raster_type hint "${o.hint}" agrees`);
  }

  const dtype = info.bands[0]?.dtype ?? 'unknown';
  const tiers = applicableTiers(type, dtype);
  let tier = o.tier;
  if (!tiers.includes(tier)) {
    warnings.push({
      code: 'TIER_INCOMPATIBLE',
      message: `output_tier ${tier} does not apply to ${type} ${dtype} data (applicable: ${tiers.join(', ')}): analysis is used`,
    });
    tier = 'analysis';
  }
  const profile = compressionProfile(type, dtype, tier);
  if (profile.lossy && info.bands.some((b) => b.nodata !== null)) {
    warnings.push({
      code: 'LOSSY_NODATA',
      message: `${profile.compression} is lossy: pixels near nodata may not keep the nodata value exactly; use output_tier archive for exact values`,
    });
  }
  const raw = uncompressedMb(info.width, info.height, info.bands.length, dtype);
  return {
    errors,
    warnings,
    crsSource,
    crsArg,
    epsg,
    sourceCrs,
    rasterType: { type, confidence, evidence, detected: detected.type, hint: o.hint },
    profile,
    tier,
    tiers,
    uncompressedMb: Math.round(raw * 1000) / 1000,
    estimatedMb: estimateCompressedMb(raw, type, profile),
  };
}

interface SourceRef {
  /** What gdalinfo opens. */
  gdalPath: string;
  localPath?: string;
  env: Record<string, string>;
  sizeBytes: number | null;
}

/** local_path (inside the mount) or blob_path: <container>/<blob>, /vsiaz/…, /vsicurl/…, http(s)://… */
async function resolveSource(
  p: ValidateParams,
  config: RasterConfig,
  blobs: RasterBlobs,
): Promise<SourceRef> {
  if (p.local_path) {
    const abs = requireInsideMount(config.mountPath, p.local_path, 'local_path');
    let size: number;
    try {
      size = statSync(abs).size;
    } catch {
      throw new NonRetryableError(
        `FILE_NOT_FOUND: ${abs} does not exist (was raster.blob_to_mount run on this mount?)`,
      );
    }
    return { gdalPath: abs, localPath: abs, env: {}, sizeBytes: size };
  }
  const ref = p.blob_path!;
  if (/^https?:\/\//i.test(ref)) return { gdalPath: `/vsicurl/${ref}`, env: {}, sizeBytes: null };
  if (ref.startsWith('/vsi'))
    return {
      gdalPath: ref,
      env: blobs.gdalEnv(/^\/vsiaz\/([^/]+)\//.exec(ref)?.[1]),
      sizeBytes: null,
    };
  const m = /^([a-z0-9][a-z0-9-]{1,61}[a-z0-9])\/(.+)$/.exec(ref);
  if (!m) {
    throw new NonRetryableError(
      `BLOB_RESOLVE_FAILED: blob_path ${JSON.stringify(ref)} is not <container>/<blob>, /vsiaz/…, /vsicurl/… or an http(s) URL`,
    );
  }
  const [, container, blob] = m as unknown as [string, string, string];
  let size: number | null = null;
  try {
    size =
      (await blobs.service(container).getContainerClient(container).getBlobClient(blob).getProperties())
        .contentLength ?? null;
  } catch (err) {
    if (isNotFound(err))
      throw new NonRetryableError(`BLOB_RESOLVE_FAILED: blob ${container}/${blob} does not exist`);
    throw err;
  }
  return { gdalPath: `/vsiaz/${container}/${blob}`, env: blobs.gdalEnv(container), sizeBytes: size };
}

export const validateRaster: HandlerDefinition<ValidateParams> = rasterHandler({
  name: 'raster.validate',
  description: 'Validates a raster: CRS, bit depth, type, compression profile, tiers, estimated COG size.',
  params: ValidateParams,
  async run(p, ctx, config) {
    const src = await resolveSource(p, config, ctx.blobs);
    // Approximate statistics (overviews or sampled blocks): STAC raster:bands and TiTiler's rescale.
    const info = await gdalInfo(src.gdalPath, { signal: ctx.signal, env: src.env, approxStats: true });
    // Metadata alone passes a truncated file: decode a sample of its blocks too.
    const read = await readSampleBlocks(src.gdalPath, info, { signal: ctx.signal, env: src.env });
    const override = p.input_crs ? await resolveCrs(p.input_crs, ctx.signal) : null;
    const a = assessRaster(info, { override, hint: p.raster_type, tier: p.output_tier });
    if (!read.ok)
      a.errors.unshift({
        code: 'DATA_UNREADABLE',
        message: `the pixel data cannot be read (a truncated or corrupt file): ${read.error}`,
      });
    let bounds: Bbox | null = null;
    if (a.crsArg && info.geotransform && !a.errors.some((e) => e.code === 'CRS_MISMATCH')) {
      bounds = (await bboxesToWgs84([info.nativeBounds], a.crsArg, a.epsg, ctx.signal))[0]!;
    }
    const valid = a.errors.length === 0;
    const first = info.bands[0];
    const output = {
      valid,
      source_path: src.gdalPath,
      ...(src.localPath ? { local_path: src.localPath } : {}),
      source_crs: a.sourceCrs,
      source_epsg: a.epsg,
      // The original's spellings (file_metadata, user_override); consumers accept file/override too.
      crs_source:
        a.crsSource === 'file' ? 'file_metadata' : a.crsSource === 'override' ? 'user_override' : null,
      bounds,
      native_bounds: info.nativeBounds,
      geotransform: info.geotransform,
      shape: [info.height, info.width],
      width: info.width,
      height: info.height,
      band_count: info.bands.length,
      dtype: first?.dtype ?? null,
      nodata: first?.nodata ?? null,
      bands: info.bands.map((b) => ({
        index: b.index,
        data_type: b.dtype,
        nodata: b.nodata,
        color_interpretation: b.colorInterp,
        ...(b.statistics ? { statistics: b.statistics } : {}),
      })),
      size_mb: src.sizeBytes === null ? null : Math.round((src.sizeBytes / 2 ** 20) * 1000) / 1000,
      uncompressed_mb: a.uncompressedMb,
      source_compression: info.compression,
      // confidence in the original's spelling: HIGH, MEDIUM, LOW (GIVEN when the hint overrode it).
      raster_type: { ...a.rasterType, confidence: a.rasterType.confidence.toUpperCase() },
      compression_profile: a.profile,
      output_tier: a.tier,
      requested_tier: p.output_tier,
      applicable_tiers: a.tiers,
      estimated_compressed_mb: a.estimatedMb,
      datetime: info.datetime,
      warnings: a.warnings,
      errors: a.errors,
    };
    if (!valid && p.strict !== false) {
      throw new NonRetryableError(
        `Raster validation failed for ${src.gdalPath}: ${a.errors.map((e) => `${e.code}: ${e.message}`).join('; ')}`,
      );
    }
    for (const w of a.warnings) ctx.log.warn(`${w.code}: ${w.message}`);
    return output;
  },
});
