// A platform submission in ONE transaction (the original system ran these steps without one): get or
// create the asset, refuse while a version awaits review, take the next ordinal, create the job and
// the version pointing at it, and audit both. The asset row is locked for the rest of the
// transaction, so concurrent submissions for one asset queue up and each sees the previous one's
// version. Idempotent on the request id: the same request again returns the same version.
import type { AssetDataType } from './assetStatuses';
import type { RefValue } from './assetIdentity';
import { auditInsert, type AuditEntry } from './auditRepository';
import { parseRow, validateValues, type TableDef } from './defineTable';
import { getVersionByRequestId } from './assetVersionRepository';
import { createJob, type CreateJobInput } from './jobRepository';
import { query, withTransaction, type Queryable } from './queryable';
import { sql } from './sql';
import {
  assetsTable,
  assetVersionsTable,
  platformsTable,
  type AssetRow,
  type AssetVersionRow,
  type JobRow,
  type PlatformRow,
} from './tables';

/** The job to create, minus what the submission sets itself. */
export type VersionJobSpec = Omit<
  CreateJobInput,
  'assetId' | 'correlationId' | 'submittedBy' | 'workflowId' | 'inputParams' | 'idempotencyKey'
>;

export interface SubmitVersionInput {
  assetId: string;
  platformId: string;
  refs: Record<string, RefValue>;
  dataType: AssetDataType;
  versionLabel?: string | null;
  requestId: string;
  submittedBy: string | null;
  workflowId: string;
  /** The job inputs after the workflow's defaults were merged (what is stored and compared on replay). */
  inputParams: Record<string, unknown>;
  job: VersionJobSpec;
}

export type SubmitVersionResult =
  | { kind: 'created'; asset: AssetRow; version: AssetVersionRow; job: JobRow; assetCreated: boolean }
  /** The same request id with the same parameters: the version it created. */
  | { kind: 'replay'; version: AssetVersionRow }
  /** The request id was used for a different submission. */
  | { kind: 'request_conflict'; version: AssetVersionRow }
  /** A version of the asset awaits review: no new version until it is approved or rejected. */
  | { kind: 'pending'; asset: AssetRow; pending: { version_ordinal: number; processing_state: string } }
  | { kind: 'deleted'; asset: AssetRow }
  | { kind: 'data_type_mismatch'; asset: AssetRow };

const UNIQUE_VIOLATION = '23505';

export async function submitAssetVersion(
  db: Queryable,
  schema: string,
  input: SubmitVersionInput,
): Promise<SubmitVersionResult> {
  validateValues(assetVersionsTable, {
    version_label: input.versionLabel ?? null,
    request_id: input.requestId,
    submitted_by: input.submittedBy,
    workflow_id: input.workflowId,
  });
  try {
    return await withTransaction(db, (tx) => submitInTransaction(tx, schema, input));
  } catch (err) {
    // A concurrent submission with the same request id (for another asset) committed first.
    if ((err as { code?: string }).code === UNIQUE_VIOLATION) {
      const existing = await getVersionByRequestId(db, schema, input.requestId);
      if (existing) return replayOrConflict(existing, input);
    }
    throw err;
  }
}

function sameSubmission(v: AssetVersionRow, input: SubmitVersionInput): boolean {
  return (
    v.asset_id === input.assetId &&
    v.workflow_id === input.workflowId &&
    (v.version_label ?? null) === (input.versionLabel ?? null) &&
    canonical(v.input_params) === canonical(input.inputParams)
  );
}

function replayOrConflict(v: AssetVersionRow, input: SubmitVersionInput): SubmitVersionResult {
  return sameSubmission(v, input) ? { kind: 'replay', version: v } : { kind: 'request_conflict', version: v };
}

async function submitInTransaction(
  tx: Queryable,
  schema: string,
  input: SubmitVersionInput,
): Promise<SubmitVersionResult> {
  const assets = sql.table(schema, 'geospatial_assets');
  const versions = sql.table(schema, 'asset_versions');
  const ins = await query(
    tx,
    sql`INSERT INTO ${assets} (asset_id, platform_id, platform_refs, data_type, created_by)
        VALUES (${input.assetId}, ${input.platformId}, ${sql.json(input.refs, 'platform_refs')},
                ${input.dataType}, ${input.submittedBy})
        ON CONFLICT (asset_id) DO NOTHING
        RETURNING asset_id`,
  );
  const assetCreated = ins.rows.length === 1;
  // The lock that serializes submissions for this asset until commit.
  const locked = await query(
    tx,
    sql`SELECT a.*,
          (SELECT json_build_object('asset_id', v.asset_id, 'version_ordinal', v.version_ordinal)
             FROM ${versions} v WHERE v.request_id = ${input.requestId}) AS _by_request,
          (SELECT json_build_object('version_ordinal', v.version_ordinal, 'processing_state', v.processing_state)
             FROM ${versions} v WHERE v.asset_id = a.asset_id AND v.approval_state = 'pending_review') AS _pending,
          (SELECT coalesce(max(v.version_ordinal) + 1, 0) FROM ${versions} v WHERE v.asset_id = a.asset_id) AS _next
        FROM ${assets} a WHERE a.asset_id = ${input.assetId}
        FOR UPDATE OF a`,
  );
  const { _by_request, _pending, _next, ...assetRow } = locked.rows[0] as Record<string, unknown>;
  const asset = parseRow(assetsTable, assetRow);
  if (_by_request) {
    const v = await getVersionByRequestId(tx, schema, input.requestId);
    if (v) return replayOrConflict(v, input);
  }
  if (asset.deleted_at !== null) return { kind: 'deleted', asset };
  if (asset.data_type !== input.dataType) return { kind: 'data_type_mismatch', asset };
  if (_pending) {
    return {
      kind: 'pending',
      asset,
      pending: _pending as { version_ordinal: number; processing_state: string },
    };
  }
  const ordinal = Number(_next);
  const created = await createJob(tx, schema, {
    ...input.job,
    workflowId: input.workflowId,
    inputParams: input.inputParams,
    correlationId: input.requestId,
    submittedBy: input.submittedBy,
    assetId: input.assetId,
  });
  const job = created.job;
  const audit: AuditEntry[] = [];
  if (assetCreated) {
    audit.push({
      action: 'asset_created',
      actor: input.submittedBy,
      assetId: input.assetId,
      to: { platform_id: input.platformId, platform_refs: input.refs, data_type: input.dataType },
      requestId: input.requestId,
    });
  }
  audit.push({
    action: 'version_submitted',
    actor: input.submittedBy,
    assetId: input.assetId,
    versionOrdinal: ordinal,
    to: { approval_state: 'pending_review', processing_state: 'queued' },
    details: {
      workflow_id: input.workflowId,
      ...(input.versionLabel ? { version_label: input.versionLabel } : {}),
    },
    jobId: job.job_id,
    requestId: input.requestId,
  });
  const v = await query(
    tx,
    sql`WITH v AS (
          INSERT INTO ${versions} (asset_id, version_ordinal, version_label, current_job_id, request_id,
                                   workflow_id, input_params, submitted_by)
          VALUES (${input.assetId}, ${ordinal}, ${input.versionLabel ?? null}, ${job.job_id}, ${input.requestId},
                  ${input.workflowId}, ${sql.json(input.inputParams, 'input_params')}, ${input.submittedBy})
          RETURNING *
        ), aud AS (${auditInsert(schema, audit)} RETURNING 1)
        SELECT * FROM v`,
  );
  return { kind: 'created', asset, version: parseRow(assetVersionsTable, v.rows[0]), job, assetCreated };
}

export interface SubmissionContext {
  platform: PlatformRow | null;
  /** The version a request id created, if any (a repeat is answered from it). */
  byRequest: AssetVersionRow | null;
  /** An unfinished job carrying the request id as its correlation id (a plain job, or this version's). */
  activeJob: { job_id: string; status: string } | null;
}

/** What a submission checks before its transaction, read in one round trip. */
export async function readSubmissionContext(
  db: Queryable,
  schema: string,
  input: { platformId: string; requestId?: string },
): Promise<SubmissionContext> {
  const r = await query<{ p: unknown; v: unknown; j: { job_id: string; status: string } | null }>(
    db,
    sql`SELECT (SELECT row_to_json(p) FROM ${sql.table(schema, 'platforms')} p WHERE p.platform_id = ${input.platformId}) AS p,
               (SELECT row_to_json(v) FROM ${sql.table(schema, 'asset_versions')} v
                 WHERE ${input.requestId ?? null}::text IS NOT NULL AND v.request_id = ${input.requestId ?? null}) AS v,
               (SELECT json_build_object('job_id', j.job_id, 'status', j.status) FROM ${sql.table(schema, 'dag_jobs')} j
                 WHERE ${input.requestId ?? null}::text IS NOT NULL AND j.correlation_id = ${input.requestId ?? null}
                   AND j.status IN ('pending', 'running')
                 ORDER BY j.created_at DESC LIMIT 1) AS j`,
  );
  const row = r.rows[0]!;
  return {
    platform: row.p ? parseRow(platformsTable, withDates(platformsTable, row.p)) : null,
    byRequest: row.v ? parseRow(assetVersionsTable, withDates(assetVersionsTable, row.v)) : null,
    activeJob: row.j,
  };
}

/** row_to_json writes timestamps as text: make them Dates again for the model. */
function withDates(table: TableDef, row: unknown): Record<string, unknown> {
  const out = { ...(row as Record<string, unknown>) };
  for (const c of table.columnInfo)
    if (c.kind === 'timestamptz' && typeof out[c.name] === 'string')
      out[c.name] = new Date(out[c.name] as string);
  return out;
}

/** JSON with sorted keys: equal values give equal strings whatever the key order. */
export function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(
          Object.entries(x as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : x,
  );
}
