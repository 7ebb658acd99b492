// raster.stac_register_items: one STAC item per tile COG (from raster.process_tile_batch outputs:
// one batch, or all of them collected by a fan_in), validated as a whole before a bulk upsert, and a
// search over the collection and the tiles' bounds for a TiTiler-pgSTAC mosaic.
import { z } from 'zod';
import { NonRetryableError, type HandlerDefinition } from '../handlerTypes';
import { rasterHandler } from './rasterHandler';
import { crossesAntimeridian, unionBbox, type Bbox } from './crsTools';
import type { CogFacts } from './cogFacts';
import { growCollectionExtent, openRasterCatalog } from './rasterCatalog';
import { optionalString, ValidationSchema } from './rasterParams';
import { collectionIdParam } from './stacEnsureCollection';
import { ddhProperties } from './stacRegisterItem';
import {
  assetHref,
  bboxGeometry,
  buildItem,
  cogTilerUrls,
  mosaicUrls,
  stacApiUrls,
  stacId,
} from './stacDocuments';
import { validateStac } from './stacValidator';

const bbox = z.tuple([z.number(), z.number(), z.number(), z.number()]);
const TileCogSchema = z.looseObject({
  tile_id: z.string(),
  row: z.number().int(),
  col: z.number().int(),
  cog_blob: z.string().min(1),
  size_bytes: z.number().optional(),
  file_checksum: z.string().optional(),
  bbox: bbox.nullable(),
  proj_bbox: bbox,
  shape: z.tuple([z.number().int(), z.number().int()]),
  transform: z.array(z.number()).length(6),
  epsg: z.number().int().nullable(),
});
const BatchSchema = z.looseObject({
  tile_cogs: z.array(TileCogSchema),
  cog_container: z.string().optional(),
  raster_type: z.string().optional(),
  compression: z.string().optional(),
  output_tier: z.string().optional(),
  bands: z.array(z.looseObject({ data_type: z.string() })).optional(),
});

export const RegisterItemsParams = z
  .looseObject({
    collection_id: collectionIdParam,
    /** The tile COGs: a list, one process_tile_batch output, or a fan_in's list of them. */
    tile_cogs: z.array(TileCogSchema).optional(),
    tile_batches: z.array(BatchSchema).optional(),
    tiles: BatchSchema.optional(),
    cog_container: optionalString,
    validation: z.preprocess((v) => (v === '' || v === null ? undefined : v), ValidationSchema.optional()),
    /** Item ids are <prefix>_<tile_id> (default: the source file's name). */
    item_id_prefix: optionalString,
    title: optionalString,
    datetime: optionalString,
    dataset_id: optionalString,
    resource_id: optionalString,
    version_id: optionalString,
    access_level: optionalString,
  })
  .refine((p) => p.tile_cogs ?? p.tile_batches ?? p.tiles, {
    message: 'give tile_cogs, tiles (a raster.process_tile_batch output) or tile_batches (a fan_in of them)',
  });
export type RegisterItemsParams = z.infer<typeof RegisterItemsParams>;

export const stacRegisterItems: HandlerDefinition<RegisterItemsParams> = rasterHandler({
  name: 'raster.stac_register_items',
  description: 'Upserts one STAC item per tile COG (bulk) and registers a search over them.',
  params: RegisterItemsParams,
  async run(p, ctx, config) {
    const batches = [...(p.tile_batches ?? []), ...(p.tiles ? [p.tiles] : [])];
    const tileCogs = [...(p.tile_cogs ?? []), ...batches.flatMap((b) => b.tile_cogs)];
    const container = p.cog_container ?? batches.find((b) => b.cog_container)?.cog_container;
    if (!container) throw new NonRetryableError('cog_container is required (the tile COGs container)');
    if (!tileCogs.length) throw new NonRetryableError('no tile COGs to register (tile_cogs is empty)');
    const first = batches[0];
    const containerClient = ctx.blobs.service(container).getContainerClient(container);
    const bands = p.validation?.bands
      ? p.validation.bands.map((b) => ({
          data_type: b.data_type,
          ...(b.nodata != null ? { nodata: b.nodata } : {}),
        }))
      : ((first?.bands ?? []) as CogFacts['bands']);
    const prefix = stacId(
      p.item_id_prefix ??
        tileCogs[0]!.cog_blob
          .split('/')
          .slice(-2, -1)[0]
          ?.replace(/_tiles$/, '') ??
        'tile',
    );
    const datetime = p.datetime ?? p.validation?.datetime ?? new Date().toISOString();
    const problems: string[] = [];
    const items = tileCogs.map((t) => {
      const facts: CogFacts = {
        epsg: t.epsg,
        shape: t.shape,
        transform: t.transform,
        proj_bbox: t.proj_bbox,
        bbox: (t.bbox ?? t.proj_bbox) as Bbox,
        overview_levels: 0,
        bands,
      };
      const href = assetHref(config, container, t.cog_blob, containerClient.getBlobClient(t.cog_blob).url);
      const id = `${prefix}_${stacId(t.tile_id)}`;
      const item = buildItem(config, {
        id,
        collectionId: p.collection_id,
        facts,
        href,
        datetime,
        title: `${p.title ?? prefix} ${t.tile_id}`,
        properties: {
          'tile:row': t.row,
          'tile:col': t.col,
          ...((first?.raster_type ?? p.validation)
            ? { 'dag:raster_type': first?.raster_type ?? p.validation?.raster_type.type }
            : {}),
          ...(first?.compression ? { 'dag:compression': first.compression } : {}),
          ...(first?.output_tier ? { 'dag:output_tier': first.output_tier } : {}),
          'dag:job_id': ctx.jobId,
          ...ddhProperties(p),
        },
        ...(t.file_checksum ? { checksum: t.file_checksum } : {}),
        ...(t.size_bytes !== undefined ? { sizeBytes: t.size_bytes } : {}),
        ...(config.titilerIsPlaceholder ? {} : { tiler: cogTilerUrls(config, href) }),
      });
      const v = validateStac(item, 'item');
      if (!v.valid) problems.push(`${id}: ${v.errors.slice(0, 3).join('; ')}`);
      return item;
    });
    if (problems.length) {
      throw new NonRetryableError(
        `${problems.length} of ${items.length} tile items are not valid STAC (none written): ${problems.slice(0, 5).join(' | ')}`,
      );
    }
    const catalog = await openRasterCatalog(ctx.pool, config);
    if (!(await catalog.getCollection(p.collection_id))) {
      throw new NonRetryableError(
        `STAC collection ${p.collection_id} does not exist in ${catalog.schema} (${catalog.backend}): run raster.stac_ensure_collection first`,
      );
    }
    let created: number | null = 0;
    for (let i = 0; i < items.length; i += 500) {
      ctx.signal.throwIfAborted();
      const r = await catalog.upsertItems(p.collection_id, items.slice(i, i + 500));
      created = r.inserted === null || created === null ? null : created + r.inserted.length;
    }
    await growCollectionExtent(catalog, p.collection_id, items);
    // WGS 84 boxes only: proj_bbox is in the tiles' CRS and means nothing to a search.
    const bounds = unionBbox(tileCogs.flatMap((t) => (t.bbox ? [t.bbox as Bbox] : [])));
    // Across the antimeridian a bbox (west > east) is read by pgSTAC as the rest of the globe:
    // the search then names its area as the split geometry instead.
    const area = bounds
      ? crossesAntimeridian(bounds)
        ? { intersects: bboxGeometry(bounds) }
        : { bbox: bounds }
      : {};
    const searchId = await catalog.registerSearch(
      { collections: [p.collection_id], ...area },
      { name: `${p.collection_id}/${prefix} (${items.length} tiles)`, source: 'rmhdagmaster' },
    );
    const ids = items.map((i) => i.id as string);
    return {
      collection_id: p.collection_id,
      items_created: created,
      items_updated: created === null ? null : items.length - created,
      items_failed: 0,
      total_tiles: items.length,
      item_ids: ids,
      search_id: searchId,
      pgstac_search_id: searchId,
      ...mosaicUrls(config, searchId),
      collection_bounds: bounds,
      stac_urls: stacApiUrls(config, p.collection_id),
      titiler_configured: !config.titilerIsPlaceholder,
      backend: catalog.backend,
      catalog_schema: catalog.schema,
    };
  },
});
