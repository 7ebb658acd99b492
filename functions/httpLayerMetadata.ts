// Layer metadata routes (docs/domain.md "Layer metadata"): /api/layer-metadata and
// /api/layer-metadata/{asset_id}. Create answers 409 when it exists (the original gave a 500); update
// merges the non-null fields under the optimistic `version` (409 on a mismatch).
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { z } from 'zod';
import { AppError } from './appError';
import {
  ASSET_DATA_TYPES,
  createLayerMetadata,
  deleteLayerMetadata,
  getLayerMetadata,
  listLayerMetadata,
  updateLayerMetadata,
  type LayerFields,
} from '../db';
import { json, limitParam, parseBody, parseQuery } from './http';
import { assetIdParam } from './httpAssets';
import { actorOf } from './platformAuth';
import { layerView } from './platformViews';
import { services } from './services';

const zoom = z.int().min(0).max(24);
const fields = {
  data_type: z.enum(ASSET_DATA_TYPES),
  display_name: z.string().min(1).max(256),
  description: z.string().max(100_000),
  attribution: z.string().max(500),
  keywords: z.array(z.string().min(1).max(100)).max(100),
  style: z.record(z.string(), z.unknown()),
  legend: z.union([z.record(z.string(), z.unknown()), z.array(z.unknown())]),
  field_metadata: z.union([z.record(z.string(), z.unknown()), z.array(z.unknown())]),
  min_zoom: zoom,
  max_zoom: zoom,
  default_visible: z.boolean(),
  sort_order: z.int().min(-1_000_000).max(1_000_000),
  thumbnail_url: z.url().max(500),
  published_at: z.iso.datetime({ offset: true }).transform((s) => new Date(s)),
};
const optional = <T extends z.ZodType>(t: T) => t.nullable().optional();

const CreateBody = z.strictObject({
  asset_id: z.string().regex(/^[0-9a-f]{32}$/, 'not an asset id (32 lowercase hexadecimal characters)'),
  display_name: fields.display_name,
  data_type: fields.data_type.optional(),
  description: optional(fields.description),
  attribution: optional(fields.attribution),
  keywords: fields.keywords.optional(),
  style: optional(fields.style),
  legend: optional(fields.legend),
  field_metadata: optional(fields.field_metadata),
  min_zoom: optional(fields.min_zoom),
  max_zoom: optional(fields.max_zoom),
  default_visible: fields.default_visible.optional(),
  sort_order: fields.sort_order.optional(),
  thumbnail_url: optional(fields.thumbnail_url),
  published_at: optional(fields.published_at),
  actor: z.string().min(1).max(256).optional(),
});

/** null or absent: unchanged (the original's merge of non-null fields). */
const UpdateBody = z.strictObject({
  version: z.int().min(1),
  display_name: optional(fields.display_name),
  data_type: optional(fields.data_type),
  description: optional(fields.description),
  attribution: optional(fields.attribution),
  keywords: optional(fields.keywords),
  style: optional(fields.style),
  legend: optional(fields.legend),
  field_metadata: optional(fields.field_metadata),
  min_zoom: optional(fields.min_zoom),
  max_zoom: optional(fields.max_zoom),
  default_visible: optional(fields.default_visible),
  sort_order: optional(fields.sort_order),
  thumbnail_url: optional(fields.thumbnail_url),
  published_at: optional(fields.published_at),
  actor: z.string().min(1).max(256).optional(),
});

const actorFor = (req: HttpRequest, bodyActor: string | undefined, action: string) =>
  actorOf(req, services().config, { bodyField: 'actor', bodyActor, required: false, action });

const notFound = (assetId: string) =>
  new AppError('NOT_FOUND', `Asset ${assetId} has no layer metadata.`, { field: 'asset_id' });

export async function postLayerMetadata(req: HttpRequest): Promise<HttpResponseInit> {
  const { asset_id, actor: bodyActor, ...rest } = await parseBody(req, CreateBody);
  const s = services();
  const actor = actorFor(req, bodyActor, 'create layer metadata');
  const r = await createLayerMetadata(s.pool, s.schema, {
    assetId: asset_id,
    fields: rest as LayerFields & { display_name: string },
    actor,
  });
  switch (r.kind) {
    case 'created':
      return json(201, layerView(r.metadata), { location: `/api/layer-metadata/${asset_id}` });
    case 'exists':
      throw new AppError(
        'CONFLICT',
        `Asset ${asset_id} has layer metadata already (version ${r.current.version}); change it with PUT /api/layer-metadata/${asset_id}.`,
        { field: 'asset_id', current_version: r.current.version },
      );
    case 'asset_not_found':
      throw new AppError('NOT_FOUND', `Asset ${asset_id} does not exist.`, { field: 'asset_id' });
    case 'data_type_mismatch':
      throw new AppError('VALIDATION', `data_type: the asset holds ${r.assetDataType} data.`, [
        { path: 'data_type', message: `must be ${r.assetDataType} (the asset's data type)` },
      ]);
  }
}

const ListQuery = z.strictObject({
  data_type: z.enum(ASSET_DATA_TYPES).optional(),
  limit: limitParam(500),
  cursor: z.string().min(1).max(1000).optional(),
});

export async function getLayerMetadataList(req: HttpRequest): Promise<HttpResponseInit> {
  const q = parseQuery(req, ListQuery);
  const s = services();
  const page = await listLayerMetadata(s.pool, s.schema, {
    ...(q.data_type ? { dataType: q.data_type } : {}),
    ...(q.limit ? { limit: q.limit } : {}),
    ...(q.cursor ? { cursor: q.cursor } : {}),
  });
  return json(200, { layers: page.items.map(layerView), next_cursor: page.nextCursor });
}

export async function getLayerMetadataRoute(req: HttpRequest): Promise<HttpResponseInit> {
  const assetId = assetIdParam(req, 'asset_id');
  const s = services();
  const m = await getLayerMetadata(s.pool, s.schema, assetId);
  if (!m) throw notFound(assetId);
  return json(200, layerView(m));
}

export async function putLayerMetadata(req: HttpRequest): Promise<HttpResponseInit> {
  const assetId = assetIdParam(req, 'asset_id');
  const { version, actor: bodyActor, ...rest } = await parseBody(req, UpdateBody);
  const s = services();
  const actor = actorFor(req, bodyActor, 'change layer metadata');
  const r = await updateLayerMetadata(s.pool, s.schema, {
    assetId,
    expectedVersion: version,
    fields: rest as LayerFields,
    actor,
  });
  if (r.kind === 'not_found') throw notFound(assetId);
  if (r.kind === 'version_conflict')
    throw new AppError(
      'CONFLICT',
      `Layer metadata of asset ${assetId} is at version ${r.current.version}, not ${version}: someone changed it since you read it. Read it again and reapply your change.`,
      { field: 'version', current: r.current.version },
    );
  return json(200, layerView(r.metadata));
}

export async function deleteLayerMetadataRoute(req: HttpRequest): Promise<HttpResponseInit> {
  const assetId = assetIdParam(req, 'asset_id');
  const q = parseQuery(req, z.strictObject({ actor: z.string().min(1).max(256).optional() }));
  const s = services();
  const actor = actorFor(req, q.actor, 'delete layer metadata');
  const r = await deleteLayerMetadata(s.pool, s.schema, { assetId, actor });
  if (!r.deleted) throw notFound(assetId);
  return json(200, { deleted: true, asset_id: assetId });
}

/** The zod schemas of these routes' bodies and query strings, by handler (the OpenAPI document). */
export const LAYER_METADATA_ROUTE_SCHEMAS = new Map<unknown, { body?: z.ZodType; query?: z.ZodType }>([
  [postLayerMetadata, { body: CreateBody }],
  [getLayerMetadataList, { query: ListQuery }],
  [putLayerMetadata, { body: UpdateBody }],
]);
