// Geospatial assets: reads, clearance (uncleared → ouo → public), soft delete and restore. Every
// change is guarded by the asset's current state in the UPDATE itself (a lost race is a value, never
// a silent overwrite) and audited in the same statement.
import { z } from 'zod';
import { auditInsert, type AuditEntry } from './auditRepository';
import { CLEARANCE_NEXT, type ClearanceState } from './assetStatuses';
import { decodeCursor, pageLimit, pageOf, type Page } from './cursor';
import { parseRow } from './defineTable';
import { query, type Queryable } from './queryable';
import { sql, type SqlFragment } from './sql';
import { ASSET_LIMITS, assetsTable, type AssetRow } from './tables';

const T = (schema: string) => sql.table(schema, 'geospatial_assets');

export async function getAsset(db: Queryable, schema: string, assetId: string): Promise<AssetRow | null> {
  const r = await query(db, sql`SELECT * FROM ${T(schema)} WHERE asset_id = ${assetId}`);
  return r.rows[0] ? parseRow(assetsTable, r.rows[0]) : null;
}

export interface ListAssetsInput {
  platformId?: string;
  includeDeleted?: boolean;
  clearanceState?: ClearanceState;
  /** Assets whose platform_refs contain these (jsonb @>, served by the GIN index). */
  refs?: Record<string, unknown>;
  /** 1..500, default 50. */
  limit?: number;
  cursor?: string;
}

const AssetCursor = z.object({ t: z.string().max(64), id: z.string().max(ASSET_LIMITS.assetId) });

/** Assets newest first (created_at DESC, asset_id DESC), keyset-paginated; deleted ones only when asked. */
export async function listAssets(
  db: Queryable,
  schema: string,
  input: ListAssetsInput = {},
): Promise<Page<AssetRow>> {
  const limit = pageLimit(input.limit, 50, 500);
  const where = [sql`TRUE`];
  if (input.platformId !== undefined) where.push(sql`platform_id = ${input.platformId}`);
  if (!input.includeDeleted) where.push(sql`deleted_at IS NULL`);
  if (input.clearanceState !== undefined) where.push(sql`clearance_state = ${input.clearanceState}`);
  if (input.refs !== undefined) where.push(sql`platform_refs @> ${sql.json(input.refs, 'refs')}`);
  if (input.cursor !== undefined) {
    const c = decodeCursor(input.cursor, AssetCursor, 'asset list');
    where.push(sql`(created_at, asset_id) < (${c.t}::timestamptz, ${c.id})`);
  }
  const r = await query(
    db,
    sql`SELECT *, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS _cursor_t
        FROM ${T(schema)} WHERE ${sql.join(where, ' AND ')}
        ORDER BY created_at DESC, asset_id DESC LIMIT ${limit + 1}`,
  );
  return pageOf(
    r.rows,
    limit,
    ({ _cursor_t: _c, ...x }) => parseRow(assetsTable, x),
    (x) => ({ t: x._cursor_t, id: x.asset_id }),
  );
}

export type AssetChangeResult =
  | { kind: 'applied'; asset: AssetRow }
  | { kind: 'not_found' }
  | { kind: 'deleted'; current: AssetRow }
  /** The asset is not in a state the change applies to (current shows the state). */
  | { kind: 'conflict'; current: AssetRow };

/**
 * Moves clearance one step: uncleared → ouo (cleared_at/by) or ouo → public (made_public_at/by). Any
 * other move (skipping ouo, going back, public again) is a conflict.
 */
export async function changeClearance(
  db: Queryable,
  schema: string,
  input: { assetId: string; to: 'ouo' | 'public'; actor: string | null; reason?: string | null },
): Promise<AssetChangeResult> {
  const from = (Object.keys(CLEARANCE_NEXT) as ClearanceState[]).find((s) => CLEARANCE_NEXT[s] === input.to)!;
  const stamp =
    input.to === 'ouo'
      ? sql`cleared_at = now(), cleared_by = ${input.actor}`
      : sql`made_public_at = now(), made_public_by = ${input.actor}`;
  return guardedChange(db, schema, {
    assetId: input.assetId,
    set: sql`clearance_state = ${input.to}, ${stamp}`,
    guard: sql`clearance_state = ${from} AND deleted_at IS NULL`,
    audit: {
      action: 'clearance_changed',
      actor: input.actor,
      from: { clearance_state: from },
      to: { clearance_state: input.to },
      ...(input.reason ? { details: { reason: input.reason } } : {}),
    },
  });
}

/**
 * Soft delete (deleted: true): the asset is hidden from lists and refuses changes until restored
 * (deleted: false). Deleting a deleted asset, or restoring a live one, is a conflict.
 */
export async function setAssetDeleted(
  db: Queryable,
  schema: string,
  input: { assetId: string; deleted: boolean; actor: string | null; reason?: string | null },
): Promise<AssetChangeResult> {
  const d = input.deleted;
  return guardedChange(db, schema, {
    assetId: input.assetId,
    set: d ? sql`deleted_at = now(), deleted_by = ${input.actor}` : sql`deleted_at = NULL, deleted_by = NULL`,
    guard: d ? sql`deleted_at IS NULL` : sql`deleted_at IS NOT NULL`,
    audit: {
      action: d ? 'asset_deleted' : 'asset_restored',
      actor: input.actor,
      from: { deleted: !d },
      to: { deleted: d },
      ...(input.reason ? { details: { reason: input.reason } } : {}),
    },
  });
}

async function guardedChange(
  db: Queryable,
  schema: string,
  input: {
    assetId: string;
    set: SqlFragment;
    guard: SqlFragment;
    audit: Omit<AuditEntry, 'assetId'>;
  },
): Promise<AssetChangeResult> {
  const r = await query(
    db,
    sql`WITH upd AS (
          UPDATE ${T(schema)} SET ${input.set}, version = version + 1, updated_at = now()
          WHERE asset_id = ${input.assetId} AND ${input.guard}
          RETURNING *
        ), aud AS (
          ${auditInsert(schema, [{ ...input.audit, assetId: input.assetId }], sql`EXISTS (SELECT 1 FROM upd)`)}
          RETURNING 1
        )
        SELECT * FROM upd`,
  );
  if (r.rows[0]) return { kind: 'applied', asset: parseRow(assetsTable, r.rows[0]) };
  const cur = await getAsset(db, schema, input.assetId);
  if (!cur) return { kind: 'not_found' };
  if (
    cur.deleted_at !== null &&
    input.audit.action !== 'asset_restored' &&
    input.audit.action !== 'asset_deleted'
  )
    return { kind: 'deleted', current: cur };
  return { kind: 'conflict', current: cur };
}
