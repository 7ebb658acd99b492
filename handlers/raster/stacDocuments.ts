// STAC 1.0.0 documents of the raster pipeline (pure builders): collections (extent growing with
// every registration), items for COGs with the projection and raster extensions, asset hrefs, and
// the TiTiler / STAC API URLs handed back to the caller. docs/raster.md lists every field.
import { crossesAntimeridian, unionBbox, type Bbox } from './crsTools';
import type { CogFacts } from './cogFacts';
import type { RasterConfig } from './rasterConfig';

export const STAC_VERSION = '1.0.0';
export const PROJECTION_EXTENSION = 'https://stac-extensions.github.io/projection/v1.1.0/schema.json';
export const RASTER_EXTENSION = 'https://stac-extensions.github.io/raster/v1.1.0/schema.json';
export const COG_MEDIA_TYPE = 'image/tiff; application=geotiff; profile=cloud-optimized';

type Json = Record<string, unknown>;
const WORLD: Bbox = [-180, -90, 180, 90];

/** A STAC id from any text: letters, digits, `_ . -` (ids appear in URL paths). */
export function stacId(s: string): string {
  const id = s.replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/^[_.]+|_+$/g, '');
  return id.slice(0, 200) || 'item';
}

export function bboxGeometry(
  b: Bbox,
): { type: 'Polygon'; coordinates: number[][][] } | { type: 'MultiPolygon'; coordinates: number[][][][] } {
  const [w, s, e, n] = b;
  const ring = (west: number, east: number) => [
    [west, s],
    [east, s],
    [east, n],
    [west, n],
    [west, s],
  ];
  // Across the antimeridian: two polygons split at ±180 (RFC 7946 §3.1.9), as STAC expects.
  if (crossesAntimeridian(b)) return { type: 'MultiPolygon', coordinates: [[ring(w, 180)], [ring(-180, e)]] };
  return { type: 'Polygon', coordinates: [ring(w, e)] };
}

const enc = encodeURIComponent;

export function stacApiUrls(config: RasterConfig, collectionId: string, itemId?: string) {
  const base = config.stacApiUrl;
  const collection = `${base}/collections/${enc(collectionId)}`;
  return {
    root: base,
    collection,
    items: `${collection}/items`,
    ...(itemId ? { item: `${collection}/items/${enc(itemId)}` } : {}),
    search: `${base}/search?collections=${enc(collectionId)}`,
  };
}

/** The href of a COG asset: the blob URL, or DAG_STAC_ASSET_BASE_URL/<container>/<blob>. */
export function assetHref(config: RasterConfig, container: string, blob: string, blobUrl: string): string {
  if (!config.assetBaseUrl) return blobUrl;
  return `${config.assetBaseUrl}/${enc(container)}/${blob.split('/').map(enc).join('/')}`;
}

/** TiTiler URLs for one COG (titiler.application's /cog endpoints). */
export function cogTilerUrls(config: RasterConfig, href: string, facts?: Pick<CogFacts, 'bands'>) {
  const t = config.titilerUrl;
  const q = new URLSearchParams({ url: href });
  // Single-band non-8-bit data needs a stretch to display: the statistics give one.
  const b = facts?.bands;
  const s = b?.length === 1 && b[0]!.data_type !== 'uint8' ? b[0]!.statistics : undefined;
  if (s && s.maximum > s.minimum) q.set('rescale', `${s.minimum},${s.maximum}`);
  const qs = q.toString();
  return {
    viewer_url: `${t}/cog/viewer?${qs}`,
    tilejson_url: `${t}/cog/WebMercatorQuad/tilejson.json?${qs}`,
    tiles_url: `${t}/cog/tiles/WebMercatorQuad/{z}/{x}/{y}?${qs}`,
    info_url: `${t}/cog/info?${qs}`,
  };
}

/** TiTiler-pgSTAC URLs of a registered search (a mosaic of the collection's items). */
export function mosaicUrls(config: RasterConfig, searchId: string) {
  const base = `${config.titilerUrl}/searches/${enc(searchId)}`;
  return {
    mosaic_viewer: `${base}/WebMercatorQuad/map?assets=data`,
    mosaic_tilejson_url: `${base}/WebMercatorQuad/tilejson.json?assets=data`,
    mosaic_tiles_url: `${base}/tiles/WebMercatorQuad/{z}/{x}/{y}?assets=data`,
  };
}

export interface CollectionInput {
  id: string;
  title?: string;
  description?: string;
  license?: string;
  keywords?: string[];
  bbox?: Bbox;
  /** Start of the temporal extent (ISO 8601). */
  start: string;
  datasetId?: string;
  accessLevel?: string;
  tiled?: { rows: number; cols: number; tileSize?: number };
}

export function buildCollection(config: RasterConfig, c: CollectionInput): Json {
  const urls = stacApiUrls(config, c.id);
  return {
    type: 'Collection',
    stac_version: STAC_VERSION,
    stac_extensions: [],
    id: c.id,
    title: c.title ?? c.id,
    description: c.description ?? `Cloud-Optimized GeoTIFFs of collection ${c.id}`,
    license: c.license ?? 'proprietary',
    ...(c.keywords?.length ? { keywords: c.keywords } : {}),
    extent: {
      spatial: { bbox: [c.bbox ?? WORLD] },
      temporal: { interval: [[c.start, null]] },
    },
    // Links to a STAC API only when one is configured: no placeholder host in stored documents.
    links: config.stacApiIsPlaceholder
      ? []
      : [
          { rel: 'self', href: urls.collection, type: 'application/json' },
          { rel: 'root', href: urls.root, type: 'application/json' },
          { rel: 'parent', href: urls.root, type: 'application/json' },
          { rel: 'items', href: urls.items, type: 'application/geo+json' },
        ],
    ...(c.datasetId ? { 'ddh:dataset_id': c.datasetId } : {}),
    ...(c.accessLevel ? { 'ddh:access_level': c.accessLevel } : {}),
    ...(c.tiled
      ? {
          summaries: {
            'tile:grid_rows': [c.tiled.rows],
            'tile:grid_cols': [c.tiled.cols],
            ...(c.tiled.tileSize ? { 'tile:size': [c.tiled.tileSize] } : {}),
          },
        }
      : {}),
  };
}

/**
 * Merges a new collection document into the stored one: the spatial extent becomes the union of both
 * (items registered earlier stay inside it), the temporal start the earlier of both; fields given
 * now (title, description, license, ddh:*) win; fields not given now are kept.
 */
export function mergeCollection(existing: Json | null, next: Json): Json {
  if (!existing) return next;
  const box = (d: Json): Bbox | undefined =>
    ((d.extent as Json | undefined)?.spatial as { bbox?: Bbox[] } | undefined)?.bbox?.[0];
  const start = (d: Json): string | null | undefined =>
    (
      (d.extent as Json | undefined)?.temporal as
        { interval?: Array<[string | null, string | null]> } | undefined
    )?.interval?.[0]?.[0];
  const a = box(existing);
  const b = box(next);
  const union: Bbox | undefined = a && b ? unionBbox([a, b])! : (b ?? a);
  const sa = start(existing);
  const sb = start(next);
  const first = sa && sb ? (sa < sb ? sa : sb) : (sb ?? sa ?? null);
  const end = (
    (existing.extent as Json | undefined)?.temporal as { interval?: Array<[unknown, unknown]> } | undefined
  )?.interval?.[0]?.[1];
  const merged: Json = { ...existing, ...next };
  merged.extent = {
    spatial: { bbox: [union ?? WORLD] },
    temporal: { interval: [[first, end ?? null]] },
  };
  merged.summaries = { ...((existing.summaries as Json) ?? {}), ...((next.summaries as Json) ?? {}) };
  if (Object.keys(merged.summaries as Json).length === 0) delete merged.summaries;
  return merged;
}

/**
 * The collection with its extent grown to hold these items: their bboxes joined to the spatial
 * extent, the temporal interval widened to their datetimes (an open end stays open). A collection
 * must contain its own items, whatever time they were ingested.
 */
export function extendCollectionExtent(collection: Json, items: readonly Json[]): Json {
  const extent = (collection.extent as Json | undefined) ?? {};
  const boxes = items.map((i) => i.bbox as Bbox | undefined).filter((b): b is Bbox => !!b);
  const current = ((extent.spatial as { bbox?: Bbox[] } | undefined)?.bbox ?? [])[0];
  const spatial = boxes.length
    ? unionBbox(current && !isWorld(current) ? [current, ...boxes] : boxes)!
    : (current ?? WORLD);
  const interval = ((extent.temporal as { interval?: Array<[string | null, string | null]> } | undefined)
    ?.interval ?? [[null, null]])[0]!;
  const times = items
    .map((i) => (i.properties as Json | undefined)?.datetime)
    .filter((t): t is string => typeof t === 'string')
    .map((t) => new Date(t).toISOString());
  let [start, end] = interval;
  for (const t of times) {
    if (start === null || t < new Date(start).toISOString()) start = t;
    if (end !== null && t > new Date(end).toISOString()) end = t;
  }
  return { ...collection, extent: { spatial: { bbox: [spatial] }, temporal: { interval: [[start, end]] } } };
}

const isWorld = (b: Bbox) => b.length === 4 && b[0] === -180 && b[1] === -90 && b[2] === 180 && b[3] === 90;

export interface ItemInput {
  id: string;
  collectionId: string;
  facts: CogFacts;
  href: string;
  datetime: string;
  title?: string;
  /** Extra properties (ddh:*, tile:*, dag:*). */
  properties?: Json;
  checksum?: string;
  sizeBytes?: number;
  /** Links to TiTiler (only when it is configured). */
  tiler?: { viewer_url: string; tilejson_url: string };
}

export function buildItem(config: RasterConfig, i: ItemInput): Json {
  const urls = stacApiUrls(config, i.collectionId, i.id);
  const f = i.facts;
  const now = new Date().toISOString();
  return {
    type: 'Feature',
    stac_version: STAC_VERSION,
    stac_extensions: [PROJECTION_EXTENSION, RASTER_EXTENSION],
    id: i.id,
    collection: i.collectionId,
    geometry: bboxGeometry(f.bbox),
    bbox: f.bbox,
    properties: {
      datetime: i.datetime,
      created: now,
      updated: now,
      ...(i.title ? { title: i.title } : {}),
      'proj:epsg': f.epsg,
      'proj:shape': f.shape,
      'proj:transform': f.transform,
      'proj:bbox': f.proj_bbox,
      ...i.properties,
    },
    links: [
      // Without a configured STAC API the collection link is relative to where a STAC API serves
      // the item ({root}/collections/{c}/items/{i}); STAC requires it beside `collection`.
      ...(config.stacApiIsPlaceholder
        ? [{ rel: 'collection', href: `../../${enc(i.collectionId)}`, type: 'application/json' }]
        : [
            { rel: 'self', href: urls.item, type: 'application/geo+json' },
            { rel: 'collection', href: urls.collection, type: 'application/json' },
            { rel: 'parent', href: urls.collection, type: 'application/json' },
            { rel: 'root', href: urls.root, type: 'application/json' },
          ]),
      ...(i.tiler
        ? [
            { rel: 'preview', href: i.tiler.viewer_url, type: 'text/html', title: 'Map viewer (TiTiler)' },
            {
              rel: 'tilejson',
              href: i.tiler.tilejson_url,
              type: 'application/json',
              title: 'TileJSON (TiTiler)',
            },
          ]
        : []),
    ],
    assets: {
      data: {
        href: i.href,
        type: COG_MEDIA_TYPE,
        title: i.title ?? i.id,
        roles: ['data'],
        'raster:bands': f.bands.length ? f.bands : [{ data_type: 'other' }],
        ...(i.checksum ? { 'dag:file_checksum': i.checksum } : {}),
        ...(i.sizeBytes !== undefined ? { 'dag:size_bytes': i.sizeBytes } : {}),
      },
    },
  };
}
