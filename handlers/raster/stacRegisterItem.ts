// raster.stac_register_item: the STAC item of one COG. Its projection and raster fields come from the
// COG itself (the facts raster.create_cog stored as blob metadata; the HEAD request also proves the
// blob exists), the item is validated against the STAC schemas, upserted, and a search over its
// collection and bbox is registered for TiTiler-pgSTAC mosaics.
import path from 'node:path';
import { z } from 'zod';
import { NonRetryableError, type HandlerDefinition } from '../handlerTypes';
import { rasterHandler } from './rasterHandler';
import { isNotFound, type RasterBlobs } from './blobService';
import { CogFactsSchema, type CogFacts } from './cogFacts';
import { growCollectionExtent, openRasterCatalog } from './rasterCatalog';
import { optionalString, requiredString, ValidationSchema, type Validation } from './rasterParams';
import { collectionIdParam, STAC_ID } from './stacEnsureCollection';
import { assetHref, buildItem, cogTilerUrls, mosaicUrls, stacApiUrls, stacId } from './stacDocuments';
import { validateStac } from './stacValidator';

const datetimeParam = optionalString.refine((s) => s === undefined || !Number.isNaN(Date.parse(s)), {
  message: 'datetime must be an ISO 8601 date-time',
});

export const RegisterItemParams = z.looseObject({
  cog_blob: requiredString('cog_blob'),
  cog_container: requiredString('cog_container'),
  /** raster.validate's output: raster type, acquisition date; fallback facts for COGs without metadata. */
  validation: z.preprocess((v) => (v === '' || v === null ? undefined : v), ValidationSchema.optional()),
  collection_id: collectionIdParam,
  item_id: optionalString.refine((s) => s === undefined || STAC_ID.test(s), {
    message: 'item_id must be 1-200 of A-Z a-z 0-9 _ . -',
  }),
  title: optionalString,
  datetime: datetimeParam,
  dataset_id: optionalString,
  resource_id: optionalString,
  version_id: optionalString,
  access_level: optionalString,
});
export type RegisterItemParams = z.infer<typeof RegisterItemParams>;

/** The platform fields the original system put on items. */
export function ddhProperties(p: {
  dataset_id?: string | undefined;
  resource_id?: string | undefined;
  version_id?: string | undefined;
  access_level?: string | undefined;
}): Record<string, string> {
  return {
    ...(p.dataset_id ? { 'ddh:dataset_id': p.dataset_id } : {}),
    ...(p.resource_id ? { 'ddh:resource_id': p.resource_id } : {}),
    ...(p.version_id ? { 'ddh:version_id': p.version_id } : {}),
    ...(p.access_level ? { 'ddh:access_level': p.access_level } : {}),
  };
}

/** Facts of a COG without raster_info metadata (written by another tool): what the validation says. */
function factsFromValidation(v: Validation): CogFacts {
  const gt = v.geotransform ?? [v.native_bounds[0], 1, 0, v.native_bounds[3], 0, -1];
  return {
    epsg: v.source_epsg ?? null,
    shape: v.shape,
    transform: [gt[1]!, gt[2]!, gt[0]!, gt[4]!, gt[5]!, gt[3]!],
    proj_bbox: v.native_bounds,
    bbox: v.bounds,
    overview_levels: 0,
    bands: (v.bands ?? []).map((b) => ({
      data_type: b.data_type,
      ...(b.nodata != null ? { nodata: b.nodata } : {}),
    })),
  };
}

export async function readCogBlob(blobs: RasterBlobs, container: string, blob: string, signal: AbortSignal) {
  const client = blobs.service(container).getContainerClient(container).getBlobClient(blob);
  try {
    const props = await client.getProperties({ abortSignal: signal });
    return { url: client.url, props };
  } catch (err) {
    if (isNotFound(err)) {
      throw new NonRetryableError(
        `COG ${container}/${blob} does not exist: register items only for COGs written by raster.create_cog / raster.process_tile_batch`,
      );
    }
    throw err;
  }
}

export const stacRegisterItem: HandlerDefinition<RegisterItemParams> = rasterHandler({
  name: 'raster.stac_register_item',
  description: 'Upserts the STAC item of a COG (projection + raster extensions) and registers a search.',
  params: RegisterItemParams,
  async run(p, ctx, config) {
    const { url, props } = await readCogBlob(ctx.blobs, p.cog_container, p.cog_blob, ctx.signal);
    const md = props.metadata ?? {};
    let facts: CogFacts | undefined;
    if (md.raster_info) {
      try {
        facts = CogFactsSchema.parse(JSON.parse(md.raster_info));
      } catch (err) {
        ctx.log.warn(`raster_info metadata of ${p.cog_blob} is unreadable: ${(err as Error).message}`);
      }
    }
    if (!facts && p.validation) facts = factsFromValidation(p.validation);
    if (!facts) {
      throw new NonRetryableError(
        `COG ${p.cog_container}/${p.cog_blob} has no raster_info metadata (not written by raster.create_cog) and no validation was given: pass validation`,
      );
    }
    const itemId = p.item_id ?? stacId(path.posix.basename(p.cog_blob).replace(/\.tiff?$/i, ''));
    const href = assetHref(config, p.cog_container, p.cog_blob, url);
    const tiler = cogTilerUrls(config, href, facts);
    const item = buildItem(config, {
      id: itemId,
      collectionId: p.collection_id,
      facts,
      href,
      datetime: p.datetime ?? p.validation?.datetime ?? new Date().toISOString(),
      ...(p.title ? { title: p.title } : {}),
      properties: {
        ...(md.raster_type
          ? { 'dag:raster_type': md.raster_type }
          : p.validation
            ? { 'dag:raster_type': p.validation.raster_type.type }
            : {}),
        ...(md.compression ? { 'dag:compression': md.compression } : {}),
        ...(md.output_tier ? { 'dag:output_tier': md.output_tier } : {}),
        'dag:job_id': ctx.jobId,
        ...ddhProperties(p),
      },
      ...(md.file_checksum ? { checksum: md.file_checksum } : {}),
      ...(props.contentLength !== undefined ? { sizeBytes: props.contentLength } : {}),
      ...(config.titilerIsPlaceholder ? {} : { tiler }),
    });
    const v = validateStac(item, 'item');
    if (!v.valid) {
      throw new NonRetryableError(
        `STAC item ${itemId} is not valid (not written): ${v.errors.slice(0, 10).join('; ')}`,
      );
    }
    const catalog = await openRasterCatalog(ctx.pool, config);
    if (!(await catalog.getCollection(p.collection_id))) {
      throw new NonRetryableError(
        `STAC collection ${p.collection_id} does not exist in ${catalog.schema} (${catalog.backend}): run raster.stac_ensure_collection first`,
      );
    }
    const { inserted } = await catalog.upsertItems(p.collection_id, [item]);
    await growCollectionExtent(catalog, p.collection_id, [item]);
    const searchId = await catalog.registerSearch(
      { collections: [p.collection_id], bbox: facts.bbox },
      { name: `${p.collection_id}/${itemId}`, source: 'rmhdagmaster' },
    );
    return {
      item_id: itemId,
      collection_id: p.collection_id,
      inserted: inserted === null ? null : inserted.includes(itemId),
      asset_href: href,
      ...tiler,
      ...mosaicUrls(config, searchId),
      search_id: searchId,
      stac_urls: stacApiUrls(config, p.collection_id, itemId),
      titiler_configured: !config.titilerIsPlaceholder,
      stac_api_configured: !config.stacApiIsPlaceholder,
      backend: catalog.backend,
      catalog_schema: catalog.schema,
      stac_item: item,
    };
  },
});
