// Asset versions: reads (newest first, latest approved, by request id) and review (approve / reject a
// version awaiting review). The review UPDATE carries its own guard (pending_review, asset not
// deleted, processing completed for an approval), so of two racing reviews exactly one applies.
import { z } from 'zod';
import { auditInsert } from './auditRepository';
import { decodeCursor, pageLimit, pageOf, type Page } from './cursor';
import { parseRow, validateValues } from './defineTable';
import { query, type Queryable } from './queryable';
import { sql } from './sql';
import { assetVersionsTable, type AssetVersionRow } from './tables';

const T = (schema: string) => sql.table(schema, 'asset_versions');

export async function getVersion(
  db: Queryable,
  schema: string,
  assetId: string,
  ordinal: number,
): Promise<AssetVersionRow | null> {
  const r = await query(
    db,
    sql`SELECT * FROM ${T(schema)} WHERE asset_id = ${assetId} AND version_ordinal = ${ordinal}`,
  );
  return r.rows[0] ? parseRow(assetVersionsTable, r.rows[0]) : null;
}

export async function getVersionByRequestId(
  db: Queryable,
  schema: string,
  requestId: string,
): Promise<AssetVersionRow | null> {
  const r = await query(db, sql`SELECT * FROM ${T(schema)} WHERE request_id = ${requestId}`);
  return r.rows[0] ? parseRow(assetVersionsTable, r.rows[0]) : null;
}

/** The approved version with the highest ordinal, or null when none is approved. */
export async function latestApprovedVersion(
  db: Queryable,
  schema: string,
  assetId: string,
): Promise<AssetVersionRow | null> {
  const r = await query(
    db,
    sql`SELECT * FROM ${T(schema)} WHERE asset_id = ${assetId} AND approval_state = 'approved'
        ORDER BY version_ordinal DESC LIMIT 1`,
  );
  return r.rows[0] ? parseRow(assetVersionsTable, r.rows[0]) : null;
}

const VersionCursor = z.object({ o: z.number().int().nonnegative() });

/** An asset's versions, newest (highest ordinal) first, keyset-paginated. */
export async function listVersions(
  db: Queryable,
  schema: string,
  assetId: string,
  input: { limit?: number; cursor?: string } = {},
): Promise<Page<AssetVersionRow>> {
  const limit = pageLimit(input.limit, 50, 500);
  const after =
    input.cursor !== undefined
      ? sql`AND version_ordinal < ${decodeCursor(input.cursor, VersionCursor, 'version list').o}`
      : sql.empty;
  const r = await query(
    db,
    sql`SELECT * FROM ${T(schema)} WHERE asset_id = ${assetId} ${after}
        ORDER BY version_ordinal DESC LIMIT ${limit + 1}`,
  );
  return pageOf(
    r.rows,
    limit,
    (x) => parseRow(assetVersionsTable, x),
    (x) => ({ o: x.version_ordinal }),
  );
}

export type ReviewResult =
  | { kind: 'applied'; version: AssetVersionRow }
  | { kind: 'not_found' }
  | { kind: 'asset_deleted'; current: AssetVersionRow }
  /** Not awaiting review any more (approved or rejected already). */
  | { kind: 'not_pending'; current: AssetVersionRow }
  /** An approval needs processing to have completed. */
  | { kind: 'not_processed'; current: AssetVersionRow };

/**
 * Approves or rejects a version awaiting review. A rejection needs a reason; an approval needs the
 * version's processing to have completed (its artifacts exist). Audited in the same statement.
 */
export async function reviewVersion(
  db: Queryable,
  schema: string,
  input: {
    assetId: string;
    ordinal: number;
    decision: 'approved' | 'rejected';
    reviewer: string;
    reason?: string | null;
  },
): Promise<ReviewResult> {
  const reason = input.reason ?? null;
  validateValues(assetVersionsTable, {
    reviewer: input.reviewer,
    ...(input.decision === 'rejected' ? { rejection_reason: reason } : {}),
  });
  const assets = sql.table(schema, 'geospatial_assets');
  const r = await query(
    db,
    sql`WITH upd AS (
          UPDATE ${T(schema)} v SET approval_state = ${input.decision}, reviewer = ${input.reviewer},
            reviewed_at = now(),
            rejection_reason = ${input.decision === 'rejected' ? reason : null}::text,
            version = v.version + 1, updated_at = now()
          FROM ${assets} a
          WHERE v.asset_id = ${input.assetId} AND v.version_ordinal = ${input.ordinal}
            AND a.asset_id = v.asset_id AND a.deleted_at IS NULL
            AND v.approval_state = 'pending_review'
            AND (${input.decision} = 'rejected' OR v.processing_state = 'completed')
          RETURNING v.*
        ), aud AS (
          ${auditInsert(
            schema,
            [
              {
                action: input.decision === 'approved' ? 'version_approved' : 'version_rejected',
                actor: input.reviewer,
                assetId: input.assetId,
                versionOrdinal: input.ordinal,
                from: { approval_state: 'pending_review' },
                to: { approval_state: input.decision },
                ...(reason ? { details: { reason } } : {}),
              },
            ],
            sql`EXISTS (SELECT 1 FROM upd)`,
          )}
          RETURNING 1
        )
        SELECT * FROM upd`,
  );
  if (r.rows[0]) return { kind: 'applied', version: parseRow(assetVersionsTable, r.rows[0]) };
  const cur = await getVersion(db, schema, input.assetId, input.ordinal);
  if (!cur) return { kind: 'not_found' };
  const a = await query<{ deleted: boolean }>(
    db,
    sql`SELECT deleted_at IS NOT NULL AS deleted FROM ${assets} WHERE asset_id = ${input.assetId}`,
  );
  if (a.rows[0]?.deleted) return { kind: 'asset_deleted', current: cur };
  if (cur.approval_state !== 'pending_review') return { kind: 'not_pending', current: cur };
  return { kind: 'not_processed', current: cur };
}
