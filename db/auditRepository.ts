// The audit log of the platform layer: who changed what on an asset, a version, its clearance, its
// metadata or a platform, when, from what to what. Append-only: entries are inserted (usually in the
// statement or transaction of the change they describe) and read; nothing here updates or deletes.
import { z } from 'zod';
import type { AuditAction } from './assetStatuses';
import { decodeCursor, pageLimit, pageOf, type Page } from './cursor';
import { parseRow, truncate } from './defineTable';
import { query, type Queryable } from './queryable';
import { sql, type SqlFragment } from './sql';
import { ASSET_LIMITS, auditLogTable, type AuditRow } from './tables';

export interface AuditEntry {
  action: AuditAction;
  actor: string | null;
  assetId?: string | null;
  versionOrdinal?: number | null;
  platformId?: string | null;
  from?: unknown;
  to?: unknown;
  details?: Record<string, unknown>;
  jobId?: string | null;
  requestId?: string | null;
}

function row(e: AuditEntry, ord: number) {
  return {
    ord,
    asset_id: e.assetId ?? null,
    version_ordinal: e.versionOrdinal ?? null,
    platform_id: e.platformId ?? null,
    action: e.action,
    actor: e.actor === null ? null : truncate(e.actor, ASSET_LIMITS.actor),
    from_state: e.from ?? null,
    to_state: e.to ?? null,
    details: e.details ?? {},
    job_id: e.jobId ?? null,
    request_id: e.requestId ?? null,
  };
}

/**
 * An INSERT of the entries as a SQL fragment, to run inside another statement's WITH (or alone);
 * `when` (SQL) makes it conditional, e.g. on the change having happened (`EXISTS (SELECT 1 FROM upd)`).
 */
export function auditInsert(schema: string, entries: readonly AuditEntry[], when?: SqlFragment): SqlFragment {
  return sql`INSERT INTO ${sql.table(schema, 'asset_audit_log')}
      (asset_id, version_ordinal, platform_id, action, actor, from_state, to_state, details, job_id, request_id)
    SELECT asset_id, version_ordinal, platform_id, action, actor, from_state, to_state, details, job_id, request_id
    FROM jsonb_to_recordset(${sql.json(
      entries.map((e, i) => row(e, i)),
      'audit',
    )}) AS x(ord int, asset_id text, version_ordinal int, platform_id text, action text, actor text,
             from_state jsonb, to_state jsonb, details jsonb, job_id text, request_id text)
    ${when ? sql`WHERE ${when}` : sql.empty}
    ORDER BY ord`;
}

export async function appendAudit(
  db: Queryable,
  schema: string,
  entries: readonly AuditEntry[],
): Promise<void> {
  if (entries.length) await query(db, auditInsert(schema, entries));
}

const AuditCursor = z.object({ a: z.number().int().nonnegative() });

/** The audit entries of an asset (or a platform), oldest first, keyset-paginated. */
export async function listAudit(
  db: Queryable,
  schema: string,
  input: { assetId?: string; platformId?: string; limit?: number; cursor?: string },
): Promise<Page<AuditRow>> {
  const limit = pageLimit(input.limit, 100, 1000);
  const where = [sql`TRUE`];
  if (input.assetId !== undefined) where.push(sql`asset_id = ${input.assetId}`);
  if (input.platformId !== undefined) where.push(sql`platform_id = ${input.platformId}`);
  if (input.cursor !== undefined)
    where.push(sql`audit_id > ${decodeCursor(input.cursor, AuditCursor, 'audit').a}`);
  const r = await query(
    db,
    sql`SELECT * FROM ${sql.table(schema, 'asset_audit_log')} WHERE ${sql.join(where, ' AND ')}
        ORDER BY audit_id LIMIT ${limit + 1}`,
  );
  return pageOf(
    r.rows,
    limit,
    (x) => parseRow(auditLogTable, x),
    (x) => ({ a: Number(x.audit_id) }),
  );
}
