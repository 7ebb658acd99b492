// Layer metadata of an asset (how a client shows it: name, style, legend, zoom range...): create,
// read, list, update with merge semantics under an optimistic version, delete. Audited.
import { z } from 'zod';
import { appendAudit } from './auditRepository';
import type { AssetDataType } from './assetStatuses';
import { decodeCursor, pageLimit, pageOf, type Page } from './cursor';
import { parseRow, validateValues } from './defineTable';
import { DbValidationError } from './errors';
import { query, withTransaction, type Queryable } from './queryable';
import { sql } from './sql';
import { ASSET_LIMITS, layerMetadataTable, type LayerMetadataRow } from './tables';

/** The fields a client sets (everything but the key, timestamps and version). */
export const LAYER_FIELDS = [
  'data_type',
  'display_name',
  'description',
  'attribution',
  'keywords',
  'style',
  'legend',
  'field_metadata',
  'min_zoom',
  'max_zoom',
  'default_visible',
  'sort_order',
  'thumbnail_url',
  'published_at',
] as const;
export type LayerField = (typeof LAYER_FIELDS)[number];
export type LayerFields = Partial<{ [K in LayerField]: LayerMetadataRow[K] }>;

const T = (schema: string) => sql.table(schema, 'layer_metadata');
const JSON_FIELDS = new Set<LayerField>(['keywords', 'style', 'legend', 'field_metadata']);

function checkZoom(m: { min_zoom?: number | null; max_zoom?: number | null }): void {
  for (const f of ['min_zoom', 'max_zoom'] as const) {
    const v = m[f];
    if (v != null && (!Number.isInteger(v) || v < 0 || v > 24))
      throw new DbValidationError({
        table: 'layer_metadata',
        field: f,
        message: `${f}: ${v} is not an integer between 0 and 24.`,
      });
  }
  if (m.min_zoom != null && m.max_zoom != null && m.min_zoom > m.max_zoom)
    throw new DbValidationError({
      table: 'layer_metadata',
      field: 'min_zoom',
      message: `min_zoom (${m.min_zoom}) is greater than max_zoom (${m.max_zoom}).`,
    });
}

function value(f: LayerField, v: unknown) {
  if (JSON_FIELDS.has(f)) return v === null ? null : sql.json(v, f);
  return v;
}

export type CreateLayerResult =
  | { kind: 'created'; metadata: LayerMetadataRow }
  | { kind: 'exists'; current: LayerMetadataRow }
  | { kind: 'asset_not_found' }
  | { kind: 'data_type_mismatch'; assetDataType: AssetDataType };

export async function createLayerMetadata(
  db: Queryable,
  schema: string,
  input: { assetId: string; fields: LayerFields & { display_name: string }; actor: string | null },
): Promise<CreateLayerResult> {
  validateValues(layerMetadataTable, { asset_id: input.assetId, ...input.fields });
  checkZoom(input.fields);
  return withTransaction(db, async (tx) => {
    const a = await query<{ data_type: AssetDataType }>(
      tx,
      sql`SELECT data_type::text AS data_type FROM ${sql.table(schema, 'geospatial_assets')}
          WHERE asset_id = ${input.assetId} FOR SHARE`,
    );
    if (!a.rows[0]) return { kind: 'asset_not_found' as const };
    const assetType = a.rows[0].data_type;
    if (input.fields.data_type !== undefined && input.fields.data_type !== assetType)
      return { kind: 'data_type_mismatch' as const, assetDataType: assetType };
    const fields: LayerFields = { ...input.fields, data_type: assetType };
    const names = (Object.keys(fields) as LayerField[]).filter((f) => fields[f] !== undefined);
    const r = await query(
      tx,
      sql`INSERT INTO ${T(schema)} (asset_id, ${sql.join(names.map((f) => sql.ident(f)))})
          VALUES (${input.assetId}, ${sql.join(names.map((f) => insertValue(schema, f, fields[f])))})
          ON CONFLICT (asset_id) DO NOTHING
          RETURNING *`,
    );
    if (!r.rows[0])
      return { kind: 'exists' as const, current: (await getLayerMetadata(tx, schema, input.assetId))! };
    const metadata = parseRow(layerMetadataTable, r.rows[0]);
    await appendAudit(tx, schema, [
      {
        action: 'metadata_created',
        actor: input.actor,
        assetId: input.assetId,
        to: fieldsOf(metadata, names),
      },
    ]);
    return { kind: 'created' as const, metadata };
  });
}

function insertValue(schema: string, f: LayerField, v: unknown) {
  if (f === 'data_type') return sql`${v}::${sql.ident(schema, 'asset_data_type')}`;
  return value(f, v) ?? null;
}

export async function getLayerMetadata(
  db: Queryable,
  schema: string,
  assetId: string,
): Promise<LayerMetadataRow | null> {
  const r = await query(db, sql`SELECT * FROM ${T(schema)} WHERE asset_id = ${assetId}`);
  return r.rows[0] ? parseRow(layerMetadataTable, r.rows[0]) : null;
}

const LayerCursor = z.object({ s: z.number().int(), id: z.string().max(ASSET_LIMITS.assetId) });

/** Layer metadata by sort_order then asset id, keyset-paginated, optionally of one data type. */
export async function listLayerMetadata(
  db: Queryable,
  schema: string,
  input: { dataType?: AssetDataType; limit?: number; cursor?: string } = {},
): Promise<Page<LayerMetadataRow>> {
  const limit = pageLimit(input.limit, 100, 500);
  const where = [sql`TRUE`];
  if (input.dataType !== undefined) where.push(sql`data_type = ${input.dataType}`);
  if (input.cursor !== undefined) {
    const c = decodeCursor(input.cursor, LayerCursor, 'layer metadata list');
    where.push(sql`(sort_order, asset_id) > (${c.s}, ${c.id})`);
  }
  const r = await query(
    db,
    sql`SELECT * FROM ${T(schema)} WHERE ${sql.join(where, ' AND ')}
        ORDER BY sort_order, asset_id LIMIT ${limit + 1}`,
  );
  return pageOf(
    r.rows,
    limit,
    (x) => parseRow(layerMetadataTable, x),
    (x) => ({ s: x.sort_order, id: x.asset_id }),
  );
}

export type UpdateLayerResult =
  | { kind: 'applied'; metadata: LayerMetadataRow }
  | { kind: 'not_found' }
  | { kind: 'version_conflict'; current: LayerMetadataRow };

/**
 * Applies the non-null fields of `fields` (null and absent mean "unchanged", as in the original
 * system) when the stored version is `expectedVersion`; min_zoom ≤ max_zoom is checked on the result.
 */
export async function updateLayerMetadata(
  db: Queryable,
  schema: string,
  input: { assetId: string; expectedVersion: number; fields: LayerFields; actor: string | null },
): Promise<UpdateLayerResult> {
  const changes = Object.fromEntries(
    Object.entries(input.fields).filter(([, v]) => v !== null && v !== undefined),
  ) as LayerFields;
  validateValues(layerMetadataTable, changes);
  return withTransaction(db, async (tx) => {
    const cur = await query(tx, sql`SELECT * FROM ${T(schema)} WHERE asset_id = ${input.assetId} FOR UPDATE`);
    if (!cur.rows[0]) return { kind: 'not_found' as const };
    const current = parseRow(layerMetadataTable, cur.rows[0]);
    if (current.version !== input.expectedVersion) return { kind: 'version_conflict' as const, current };
    if (changes.data_type !== undefined && changes.data_type !== current.data_type)
      throw new DbValidationError({
        table: 'layer_metadata',
        field: 'data_type',
        message: `data_type: the asset is ${current.data_type}; it cannot be changed to ${changes.data_type}.`,
      });
    checkZoom({ ...current, ...changes });
    const names = (Object.keys(changes) as LayerField[]).filter((f) => f !== 'data_type');
    const sets = names.map((f) => sql`${sql.ident(f)} = ${value(f, changes[f])}`);
    const r = await query(
      tx,
      sql`UPDATE ${T(schema)} SET ${sql.join([...sets, sql`version = version + 1`, sql`updated_at = now()`])}
          WHERE asset_id = ${input.assetId} RETURNING *`,
    );
    const metadata = parseRow(layerMetadataTable, r.rows[0]);
    await appendAudit(tx, schema, [
      {
        action: 'metadata_updated',
        actor: input.actor,
        assetId: input.assetId,
        from: fieldsOf(current, names),
        to: fieldsOf(metadata, names),
        details: { version: metadata.version },
      },
    ]);
    return { kind: 'applied' as const, metadata };
  });
}

export async function deleteLayerMetadata(
  db: Queryable,
  schema: string,
  input: { assetId: string; actor: string | null },
): Promise<{ deleted: boolean }> {
  return withTransaction(db, async (tx) => {
    const r = await query(tx, sql`DELETE FROM ${T(schema)} WHERE asset_id = ${input.assetId} RETURNING *`);
    if (!r.rows[0]) return { deleted: false };
    const gone = parseRow(layerMetadataTable, r.rows[0]);
    await appendAudit(tx, schema, [
      {
        action: 'metadata_deleted',
        actor: input.actor,
        assetId: input.assetId,
        from: fieldsOf(gone, [...LAYER_FIELDS]),
      },
    ]);
    return { deleted: true };
  });
}

function fieldsOf(m: LayerMetadataRow, names: readonly LayerField[]): Record<string, unknown> {
  return Object.fromEntries(
    names.map((f) => [f, m[f] instanceof Date ? (m[f] as Date).toISOString() : m[f]]),
  );
}
