// raster.create_cog: writes the staged raster as a Cloud-Optimized GeoTIFF (reprojected when its CRS
// is not the target's) with the validation's compression profile, and uploads it to the silver
// container with its sha256 and its facts (projection, bounds, bands: what the STAC item needs) as
// blob metadata. A checkpoint after the conversion lets a retry (e.g. after an upload failure) upload
// the finished COG again instead of converting for hours once more.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { HandlerContext, HandlerDefinition } from '../handlerTypes';
import { rasterHandler } from './rasterHandler';
import type { RasterBlobs } from './blobService';
import { cogTranslateArgs } from './cogCommands';
import { cogFactsMetadata, CogFactsSchema, gridFacts, type CogFacts } from './cogFacts';
import {
  checkBlobName,
  joinBlobPath,
  outputDir,
  stagedSource,
  safeSegment,
  sourceRelativePath,
  workDir,
} from './mountPaths';
import {
  optionalBool,
  optionalString,
  requiredString,
  ValidationSchema,
  type Validation,
} from './rasterParams';
import { compressionProfile, OUTPUT_TIERS, type CompressionProfile, type OutputTier } from './rasterProfiles';
import { runGdal } from './runGdal';
import { COG_MEDIA_TYPE } from './stacDocuments';
import { buildGrid, planTarget } from './targetGrid';
import { multihash, uploadWithChecksum } from './uploadWithChecksum';

const folderParam = optionalString.refine((f) => f === undefined || checkBlobName(f).length === 0, {
  message: 'output_folder must be a relative blob path without "." or ".." segments (e.g. "project/2026")',
});

export const CreateCogParams = z.looseObject({
  local_path: requiredString('local_path'),
  validation: ValidationSchema,
  target_crs: optionalString,
  output_tier: z.preprocess(
    (v) => (typeof v === 'string' && v.trim() ? v.trim().toLowerCase() : undefined),
    z.enum(OUTPUT_TIERS, { error: `output_tier must be one of ${OUTPUT_TIERS.join(', ')}` }).optional(),
  ),
  output_folder: folderParam,
  /** Keep the local COG on the mount after the upload (default: deleted). */
  keep_local: optionalBool,
});
export type CreateCogParams = z.infer<typeof CreateCogParams>;

/** The profile for the requested tier: the validated one, or recomputed when the tier differs. */
export function profileForTier(
  v: Validation,
  tier: OutputTier | undefined,
): { profile: CompressionProfile; warnings: Array<{ code: string; message: string }> } {
  const validated = v.compression_profile as CompressionProfile;
  const want = tier ?? validated.tier;
  if (want === validated.tier) return { profile: validated, warnings: [] };
  if (!v.applicable_tiers.includes(want)) {
    return {
      profile: compressionProfile(v.raster_type.type, v.dtype, 'analysis'),
      warnings: [
        {
          code: 'TIER_INCOMPATIBLE',
          message: `output_tier ${want} does not apply to ${v.raster_type.type} ${v.dtype} data (applicable: ${v.applicable_tiers.join(', ')}): analysis is used`,
        },
      ],
    };
  }
  return { profile: compressionProfile(v.raster_type.type, v.dtype, want), warnings: [] };
}

const containersReady = new Set<string>();

/** The silver container, created on first use in this process. */
export async function silverContainer(blobs: RasterBlobs, container: string, signal?: AbortSignal) {
  const c = blobs.service(container).getContainerClient(container);
  const key = `${c.url}`;
  if (!containersReady.has(key)) {
    await c.createIfNotExists(signal ? { abortSignal: signal } : {});
    containersReady.add(key);
  }
  return c;
}

interface Converted {
  cog_local_path: string;
  size_bytes: number;
  commands_hash: string;
  conversion_seconds: number;
  facts: CogFacts;
}

const stemOf = (p: string) => path.basename(p).replace(/\.[^.]+$/, '');

export const createCog: HandlerDefinition<CreateCogParams> = rasterHandler({
  name: 'raster.create_cog',
  description:
    'Writes a Cloud-Optimized GeoTIFF (reprojected when needed) and uploads it to the silver container.',
  params: CreateCogParams,
  async run(p, ctx, config) {
    const started = Date.now();
    const src = stagedSource(config.mountPath, p.local_path);
    const v = p.validation;
    const { profile, warnings } = profileForTier(v, p.output_tier);
    const plan = await planTarget(v, p.target_crs, ctx.signal);
    const rel = sourceRelativePath(config.mountPath, src);
    const relDir = path.posix.dirname(rel);
    const cogBlob = joinBlobPath(
      p.output_folder,
      relDir === '.' ? undefined : relDir,
      `${stemOf(rel)}_cog.tif`,
    );
    const outDir = path.join(outputDir(config.mountPath, ctx.jobId), safeSegment(ctx.nodeId));
    const out = path.join(outDir, path.posix.basename(cogBlob));
    const work = workDir(config.mountPath, ctx.jobId, ctx.nodeId);
    // What the conversion depends on: a checkpoint from different inputs is not reused.
    const commandsHash = createHash('sha1')
      .update(JSON.stringify([src, statSync(src).size, profile, plan]))
      .digest('hex');

    for (const w of warnings) ctx.log.warn(`${w.code}: ${w.message}`);
    const blob = (await silverContainer(ctx.blobs, config.silverContainer, ctx.signal)).getBlockBlobClient(
      cogBlob,
    );
    const metadata = (f: CogFacts) => (sha: string) => ({
      file_checksum: multihash(sha),
      raster_info: cogFactsMetadata(f),
      raster_type: v.raster_type.type,
      compression: profile.compression,
      output_tier: profile.tier,
      job_id: ctx.jobId,
      node_id: ctx.nodeId,
    });
    const converted = await convertOnce(ctx, { src, out, outDir, work, v, profile, plan, commandsHash });
    const f = converted.facts;
    await ctx.progress(2, 3, 'uploading');
    const uploadStarted = Date.now();
    const up = await uploadWithChecksum(blob, out, {
      concurrency: config.transferConcurrency,
      signal: ctx.signal,
      contentType: COG_MEDIA_TYPE,
      metadata: metadata(f),
    });
    const uploadSeconds = (Date.now() - uploadStarted) / 1000;
    if (!p.keep_local) await rm(out, { force: true });
    await rm(work, { recursive: true, force: true });
    return {
      cog_blob: cogBlob,
      cog_container: config.silverContainer,
      cog_url: blob.url,
      cog_local_path: p.keep_local ? out : null,
      size_bytes: up.size,
      size_mb: Math.round((up.size / 2 ** 20) * 1000) / 1000,
      file_checksum: multihash(up.sha256),
      compression: profile.compression,
      compression_profile: profile,
      output_tier: profile.tier,
      overview_levels: f.overview_levels,
      source_crs: v.source_crs,
      target_crs: plan.targetCrs,
      reprojected: plan.reproject,
      raster_type: v.raster_type.type,
      epsg: f.epsg,
      shape: f.shape,
      transform: f.transform,
      bbox: f.bbox,
      proj_bbox: f.proj_bbox,
      bands: f.bands,
      processing_seconds: Math.round((Date.now() - started) / 10) / 100,
      conversion_seconds: converted.conversion_seconds,
      upload_seconds: Math.round(uploadSeconds * 100) / 100,
      upload_throughput_mbps:
        uploadSeconds > 0 ? Math.round((up.size / 2 ** 20 / uploadSeconds) * 100) / 100 : null,
      resumed_from_checkpoint: converted.resumed,
      warnings,
    };
  },
});

/** Converts, or reuses the COG a previous attempt converted (checkpoint 'converted', same inputs, file present). */
async function convertOnce(
  ctx: HandlerContext,
  a: {
    src: string;
    out: string;
    outDir: string;
    work: string;
    v: Validation;
    profile: CompressionProfile;
    plan: Awaited<ReturnType<typeof planTarget>>;
    commandsHash: string;
  },
): Promise<Converted & { resumed: boolean }> {
  const cp = ctx.checkpoint?.phase === 'converted' ? (ctx.checkpoint.state as Partial<Converted>) : undefined;
  if (
    cp?.cog_local_path === a.out &&
    cp.commands_hash === a.commandsHash &&
    CogFactsSchema.safeParse(cp.facts).success &&
    existsSync(a.out) &&
    statSync(a.out).size === cp.size_bytes
  ) {
    ctx.log.info('COG converted by an earlier attempt: uploading it again', { path: a.out });
    return { ...(cp as Converted), resumed: true };
  }
  await ctx.progress(1, 3, 'converting');
  const t0 = Date.now();
  mkdirSync(a.outDir, { recursive: true });
  const grid = await buildGrid(a.src, a.v, a.plan, a.work, ctx.signal);
  // The facts (WGS 84 bounds may need a gdaltransform) are worked out while GDAL converts.
  const factsP = gridFacts({ ...grid, maskBand: grid.source.maskBand }, a.plan, a.v, ctx.signal);
  factsP.catch(() => undefined);
  // Written under a temporary name: a COG under the final name is always complete.
  const part = path.join(a.outDir, `.${path.basename(a.out)}.${randomBytes(4).toString('hex')}.part.tif`);
  try {
    await runGdal('gdal_translate', cogTranslateArgs(grid.source, part, a.profile), {
      signal: ctx.signal,
      log: ctx.log,
    });
    await rename(part, a.out);
  } finally {
    await rm(part, { force: true });
  }
  const facts = await factsP;
  const state: Converted = {
    cog_local_path: a.out,
    size_bytes: statSync(a.out).size,
    commands_hash: a.commandsHash,
    conversion_seconds: Math.round((Date.now() - t0) / 10) / 100,
    facts,
  };
  await ctx.saveCheckpoint('converted', state);
  return { ...state, resumed: false };
}
