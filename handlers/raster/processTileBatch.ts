// raster.process_tile_batch: turns every tile of a batch into a COG (a window of the same target grid
// the tiling scheme was computed on) and uploads it, saving a checkpoint after each tile. A later
// attempt — a retry, or another worker taking over from a dead one — skips the tiles in the
// checkpoint, and uploads without converting again a tile whose COG was finished on the mount but not
// yet checkpointed. So no tile is converted twice, whatever the moment the worker died.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { NonRetryableError, type HandlerDefinition } from '../handlerTypes';
import { rasterHandler } from './rasterHandler';
import { intLike } from '../numberLike';
import { cogTranslateArgs } from './cogCommands';
import { unionBbox, type Bbox } from './crsTools';
import { profileForTier, silverContainer } from './createCog';
import { COG_MEDIA_TYPE } from './stacDocuments';
import { bandFacts, cogFactsMetadata, cogOverviewCount, stacTransform, type CogFacts } from './cogFacts';
import {
  checkBlobName,
  joinBlobPath,
  outputDir,
  stagedSource,
  safeSegment,
  sourceRelativePath,
  workDir,
} from './mountPaths';
import { optionalString, requiredString, ValidationSchema } from './rasterParams';
import { OUTPUT_TIERS } from './rasterProfiles';
import { runGdal } from './runGdal';
import { buildGrid, planTarget } from './targetGrid';
import type { Tile } from './tilingScheme';
import { multihash, uploadWithChecksum } from './uploadWithChecksum';

const bbox = z.tuple([z.number(), z.number(), z.number(), z.number()]);
const TileSchema = z.looseObject({
  tile_id: z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, 'tile_id must be [A-Za-z0-9_.-]'),
  row: z.number().int().min(0),
  col: z.number().int().min(0),
  pixel_window: z.object({
    x: z.number().int().min(0),
    y: z.number().int().min(0),
    width: z.number().int().positive(),
    height: z.number().int().positive(),
  }),
  geo_bounds: bbox,
  bbox: bbox.optional(),
});
const GridSchema = z.looseObject({
  crs: z.string(),
  epsg: z.number().int().nullable(),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  geotransform: z.array(z.number()).length(6),
  reprojected: z.boolean(),
});

/** The original's parameter names: `tiling_scheme` is `tiling` (both accepted; `tiling` wins). */
function originalNames(v: unknown): unknown {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
  const o = v as Record<string, unknown>;
  if (o.tiling === undefined && o.tiling_scheme !== undefined) {
    const { tiling_scheme, ...rest } = o;
    return { ...rest, tiling: tiling_scheme };
  }
  return v;
}

export const ProcessTileBatchParams = z.preprocess(
  originalNames,
  z
    .looseObject({
      local_path: requiredString('local_path'),
      validation: ValidationSchema,
      /** The whole output of raster.generate_tiling_scheme (grid and tiles) … */
      tiling: z.looseObject({ grid: GridSchema, tiles: z.array(TileSchema) }).optional(),
      /** … or its grid plus the tiles of this batch (a fan-out child gets `{{ item.tiles }}`). */
      grid: GridSchema.optional(),
      tiles: z.array(TileSchema).optional(),
      batch_index: z.preprocess((v) => (v === '' || v === null ? undefined : v), intLike.optional()),
      output_tier: z.preprocess(
        (v) => (typeof v === 'string' && v.trim() ? v.trim().toLowerCase() : undefined),
        z.enum(OUTPUT_TIERS).optional(),
      ),
      output_folder: optionalString.refine((f) => f === undefined || checkBlobName(f).length === 0, {
        message: 'output_folder must be a relative blob path without "." or ".." segments',
      }),
    })
    .refine((p) => p.grid ?? p.tiling, {
      message: 'give tiling (or tiling_scheme: the raster.generate_tiling_scheme output) or grid + tiles',
    })
    .refine((p) => p.tiles ?? p.tiling, { message: 'give tiles (or tiling)' }),
);
export type ProcessTileBatchParams = z.infer<typeof ProcessTileBatchParams>;

export interface TileCog {
  tile_id: string;
  row: number;
  col: number;
  cog_blob: string;
  size_bytes: number;
  file_checksum: string;
  /** WGS 84. */
  bbox: Bbox | null;
  /** In the grid's CRS. */
  proj_bbox: Bbox;
  shape: [number, number];
  transform: number[];
  epsg: number | null;
}

const CheckpointState = z.looseObject({
  done: z.array(z.string()),
  tile_cogs: z.array(z.looseObject({ tile_id: z.string() })),
});

const closeEnough = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((x, i) => Math.abs(x - b[i]!) <= 1e-9 * Math.max(1, Math.abs(x)));

export const processTileBatch: HandlerDefinition<ProcessTileBatchParams> = rasterHandler({
  name: 'raster.process_tile_batch',
  description: 'Turns every tile of a batch into a COG and uploads it, checkpointing after each tile.',
  params: ProcessTileBatchParams,
  async run(p, ctx, config) {
    const started = Date.now();
    const src = stagedSource(config.mountPath, p.local_path);
    const v = p.validation;
    // The source's statistics describe the whole raster, not one tile: left out of the tiles' bands.
    const bands = bandFacts(v).map(({ statistics: _s, ...b }) => b);
    const gridSpec = (p.grid ?? p.tiling!.grid) as z.infer<typeof GridSchema>;
    const tiles = (p.tiles ?? p.tiling!.tiles) as unknown as Tile[];
    const { profile, warnings } = profileForTier(v, p.output_tier);
    const plan = await planTarget(v, gridSpec.reprojected ? gridSpec.crs : 'native', ctx.signal);

    // Resume: tiles finished by an earlier attempt of this node.
    const saved =
      ctx.checkpoint?.phase === 'tiles' ? CheckpointState.safeParse(ctx.checkpoint.state) : undefined;
    const done = new Set<string>(saved?.success ? saved.data.done : []);
    const tileCogs = new Map<string, TileCog>();
    if (saved?.success)
      for (const t of saved.data.tile_cogs) tileCogs.set(t.tile_id, t as unknown as TileCog);
    const todo = tiles.filter((t) => !done.has(t.tile_id));
    const resumed = tiles.length - todo.length;
    if (resumed) ctx.log.info(`resuming: ${resumed} of ${tiles.length} tiles done by an earlier attempt`);

    const rel = sourceRelativePath(config.mountPath, src);
    const relDir = path.posix.dirname(rel);
    const stem = path.posix.basename(rel).replace(/\.[^.]+$/, '');
    const blobDir = joinBlobPath(p.output_folder, relDir === '.' ? undefined : relDir, `${stem}_tiles`);
    // Scoped by what the tiles depend on: files from different inputs are never mistaken for ours.
    const key = createHash('sha1')
      .update(JSON.stringify([src, profile, gridSpec]))
      .digest('hex')
      .slice(0, 12);
    const outDir = path.join(outputDir(config.mountPath, ctx.jobId), safeSegment(ctx.nodeId), key);
    const work = workDir(config.mountPath, ctx.jobId, ctx.nodeId);
    mkdirSync(outDir, { recursive: true });

    let converted = 0;
    let reusedLocal = 0;
    if (todo.length) {
      const grid = await buildGrid(src, v, plan, work, ctx.signal);
      if (
        grid.width !== gridSpec.width ||
        grid.height !== gridSpec.height ||
        !closeEnough(grid.geotransform, gridSpec.geotransform)
      ) {
        throw new NonRetryableError(
          `the tiling scheme's grid (${gridSpec.width}×${gridSpec.height}) is not the grid of ${src} in ${gridSpec.crs} (${grid.width}×${grid.height}): compute the tiling scheme again for this raster and target CRS`,
        );
      }
      const container = await silverContainer(ctx.blobs, config.silverContainer, ctx.signal);
      const gt = grid.geotransform;
      for (const t of todo) {
        ctx.signal.throwIfAborted();
        const w = t.pixel_window;
        if (w.x + w.width > grid.width || w.y + w.height > grid.height) {
          throw new NonRetryableError(
            `tile ${t.tile_id} (${JSON.stringify(w)}) lies outside the ${grid.width}×${grid.height} grid`,
          );
        }
        const file = path.join(outDir, `${t.tile_id}.tif`);
        if (existsSync(file) && statSync(file).size > 0) {
          // Converted by an attempt that died before its checkpoint: upload it as it is.
          reusedLocal++;
        } else {
          const part = path.join(outDir, `.${t.tile_id}.${randomBytes(4).toString('hex')}.part.tif`);
          try {
            await runGdal('gdal_translate', cogTranslateArgs(grid.source, part, profile, w), {
              signal: ctx.signal,
            });
            await rename(part, file);
          } finally {
            await rm(part, { force: true });
          }
          converted++;
        }
        const tileGt = [
          gt[0]! + w.x * gt[1]! + w.y * gt[2]!,
          gt[1]!,
          gt[2]!,
          gt[3]! + w.x * gt[4]! + w.y * gt[5]!,
          gt[4]!,
          gt[5]!,
        ];
        const facts: CogFacts = {
          epsg: gridSpec.epsg,
          shape: [w.height, w.width],
          transform: stacTransform(tileGt),
          proj_bbox: t.geo_bounds,
          bbox: t.bbox ?? t.geo_bounds,
          overview_levels: cogOverviewCount(w.width, w.height),
          bands,
        };
        const cogBlob = `${blobDir}/${t.tile_id}.tif`;
        const up = await uploadWithChecksum(container.getBlockBlobClient(cogBlob), file, {
          concurrency: config.transferConcurrency,
          signal: ctx.signal,
          contentType: COG_MEDIA_TYPE,
          metadata: (sha) => ({
            file_checksum: multihash(sha),
            raster_info: cogFactsMetadata(facts),
            raster_type: v.raster_type.type,
            compression: profile.compression,
            output_tier: profile.tier,
            tile_id: t.tile_id,
            job_id: ctx.jobId,
            node_id: ctx.nodeId,
          }),
        });
        tileCogs.set(t.tile_id, {
          tile_id: t.tile_id,
          row: t.row,
          col: t.col,
          cog_blob: cogBlob,
          size_bytes: up.size,
          file_checksum: multihash(up.sha256),
          bbox: t.bbox ?? null,
          proj_bbox: t.geo_bounds,
          shape: [w.height, w.width],
          transform: facts.transform,
          epsg: gridSpec.epsg,
        });
        done.add(t.tile_id);
        await ctx.saveCheckpoint('tiles', { done: [...done], tile_cogs: [...tileCogs.values()] });
        await rm(file, { force: true });
        await ctx.progress(done.size, tiles.length, `tile ${t.tile_id} (${done.size} of ${tiles.length})`);
      }
    }
    await rm(work, { recursive: true, force: true });
    await rm(outDir, { recursive: true, force: true });
    const ordered = tiles.map((t) => tileCogs.get(t.tile_id)).filter((t): t is TileCog => !!t);
    const boxes = ordered.map((t) => t.bbox).filter((b): b is Bbox => !!b);
    return {
      tile_cogs: ordered,
      cog_container: config.silverContainer,
      collection_bounds: unionBbox(boxes),
      tile_count: ordered.length,
      tiles_converted: converted,
      tiles_uploaded_from_mount: reusedLocal,
      tiles_resumed: resumed,
      batch_index: p.batch_index ?? null,
      total_size_bytes: ordered.reduce((s, t) => s + t.size_bytes, 0),
      bands,
      compression: profile.compression,
      output_tier: profile.tier,
      target_crs: gridSpec.crs,
      raster_type: v.raster_type.type,
      processing_seconds: Math.round((Date.now() - started) / 10) / 100,
      warnings,
    };
  },
});
