// raster.stac_ensure_collection: creates the STAC collection, or updates it (its extent grows to
// include the new bounds; given fields win), validated against the STAC 1.0.0 schema before writing.
import { z } from 'zod';
import { NonRetryableError, type HandlerDefinition } from '../handlerTypes';
import { rasterHandler } from './rasterHandler';
import type { Bbox } from './crsTools';
import { openRasterCatalog } from './rasterCatalog';
import { bboxParam, optionalBool, optionalInt, optionalString, requiredString } from './rasterParams';
import { buildCollection, mergeCollection, stacApiUrls } from './stacDocuments';
import { validateStac } from './stacValidator';

export const STAC_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$/;

export const collectionIdParam = requiredString('collection_id').pipe(
  z.string().regex(STAC_ID, 'collection_id must be 1-200 of A-Z a-z 0-9 _ . - (it appears in URL paths)'),
);

const keywords = z.preprocess(
  (v) =>
    typeof v === 'string'
      ? v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : v === null
        ? undefined
        : v,
  z.array(z.string()).optional(),
);

export const EnsureCollectionParams = z.looseObject({
  collection_id: collectionIdParam,
  title: optionalString,
  description: optionalString,
  /** [west, south, east, north] in WGS 84: raster.validate's `bounds`. */
  bounds: z.preprocess((v) => (v === '' || v === null ? undefined : v), bboxParam.optional()),
  license: optionalString,
  keywords,
  dataset_id: optionalString,
  access_level: optionalString,
  is_tiled: optionalBool,
  grid_rows: optionalInt(1, 1_000_000),
  grid_cols: optionalInt(1, 1_000_000),
  /** The original's name: raster.generate_tiling_scheme's `grid_dimensions` ({rows, cols}); it implies is_tiled. */
  grid_dimensions: z.preprocess(
    (v) => (v === '' || v === null ? undefined : v),
    z.looseObject({ rows: z.int().min(1).max(1_000_000), cols: z.int().min(1).max(1_000_000) }).optional(),
  ),
  tile_size: optionalInt(1, 1_000_000),
});
export type EnsureCollectionParams = z.infer<typeof EnsureCollectionParams>;

export const stacEnsureCollection: HandlerDefinition<EnsureCollectionParams> = rasterHandler({
  name: 'raster.stac_ensure_collection',
  description: 'Creates or updates (extent merged) a STAC 1.0.0 collection in the catalog.',
  params: EnsureCollectionParams,
  async run(p, ctx, config) {
    const rows = p.grid_rows ?? p.grid_dimensions?.rows;
    const cols = p.grid_cols ?? p.grid_dimensions?.cols;
    const tiled = p.is_tiled ?? p.grid_dimensions !== undefined;
    const catalog = await openRasterCatalog(ctx.pool, config);
    const next = buildCollection(config, {
      id: p.collection_id,
      ...(p.title ? { title: p.title } : {}),
      ...(p.description ? { description: p.description } : {}),
      ...(p.license ? { license: p.license } : {}),
      ...(p.keywords ? { keywords: p.keywords } : {}),
      ...(p.bounds ? { bbox: p.bounds as Bbox } : {}),
      start: new Date().toISOString(),
      ...(p.dataset_id ? { datasetId: p.dataset_id } : {}),
      ...(p.access_level ? { accessLevel: p.access_level } : {}),
      ...(tiled && rows && cols
        ? {
            tiled: {
              rows,
              cols,
              ...(p.tile_size ? { tileSize: p.tile_size } : {}),
            },
          }
        : {}),
    });
    const r = await catalog.upsertCollection(
      p.collection_id,
      (existing) => {
        // No bounds given: an existing collection keeps its extent rather than growing to the world.
        if (existing && !p.bounds) {
          const { extent: _e, ...rest } = next;
          return mergeCollection(existing, { ...rest, extent: existing.extent });
        }
        return mergeCollection(existing, next);
      },
      (doc) => {
        const v = validateStac(doc, 'collection');
        if (!v.valid) {
          throw new NonRetryableError(
            `STAC collection ${p.collection_id} is not valid STAC 1.0.0 (not written): ${v.errors.slice(0, 10).join('; ')}`,
          );
        }
      },
    );
    ctx.log.info(
      `STAC collection ${p.collection_id} ${r.created ? 'created' : 'updated'} (${catalog.backend})`,
    );
    return {
      collection_id: p.collection_id,
      created: r.created,
      updated: !r.created,
      collection_url: stacApiUrls(config, p.collection_id).collection,
      backend: catalog.backend,
      catalog_schema: catalog.schema,
      extent: (r.collection.extent as { spatial: unknown }).spatial,
      stac_api_configured: !config.stacApiIsPlaceholder,
      stac_collection: r.collection,
    };
  },
});
