// A platform submission in ONE statement, so one transaction (the original system ran these steps
// without one): get or create the asset, refuse while a version awaits review, take the next
// ordinal, create the job (with its nodes and event) and the version pointing at it, and audit both.
// The asset row is locked by the statement, and unique indexes (one pending version per asset, the
// ordinal, the request id) refuse what a concurrent submission made first. Idempotent on the request
// id: the same request again returns the same version.
import type { AssetDataType } from './assetStatuses';
import type { RefValue } from './assetIdentity';
import { parseRow, validateValues, type TableDef } from './defineTable';
import { getVersionByRequestId } from './assetVersionRepository';
import { DbError } from './errors';
import { jobInsertCtes, type CreateJobInput } from './jobInsertCtes';
import { parseSummary, type JobSummaryRow } from './jobQueries';
import { query, type Queryable } from './queryable';
import { sql, type SqlFragment } from './sql';
import {
  assetsTable,
  assetVersionsTable,
  jobsTable,
  platformsTable,
  type AssetRow,
  type AssetVersionRow,
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
  /**
   * Check in the same statement what readSubmissionContext reads (the client's request id, if it gave
   * one): the version is created only if the platform is registered and active, the references are
   * its own (every required one, no other), no version has the request id and no unfinished job
   * carries it. Otherwise nothing is written and the result is `unchecked` with what was read.
   */
  check?: { requestId: string | null };
}

export type SubmitVersionResult =
  | { kind: 'created'; asset: AssetRow; version: AssetVersionRow; job: JobSummaryRow; assetCreated: boolean }
  /** The same request id with the same parameters: the version it created. */
  | { kind: 'replay'; version: AssetVersionRow }
  /** The request id was used for a different submission. */
  | { kind: 'request_conflict'; version: AssetVersionRow }
  /** A version of the asset awaits review: no new version until it is approved or rejected. */
  | { kind: 'pending'; asset: AssetRow; pending: { version_ordinal: number; processing_state: string } }
  | { kind: 'deleted'; asset: AssetRow }
  | { kind: 'data_type_mismatch'; asset: AssetRow }
  /** With `check`: the checks did not pass, nothing was written; the context they read. */
  | { kind: 'unchecked'; context: SubmissionContext };

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
  // One statement, so one round trip and no transaction held open across round trips. A concurrent
  // submission for the same asset that commits first makes this statement either not see the asset
  // (null) or hit a unique index (the pending version, the ordinal or the request id): run it again,
  // and the next one sees what the other committed.
  for (let attempt = 1; ; attempt++) {
    try {
      const r = await submitStatement(db, schema, input);
      if (r) return r;
    } catch (err) {
      if ((err as { code?: string }).code !== UNIQUE_VIOLATION || attempt >= MAX_ATTEMPTS) throw err;
    }
    if (attempt >= MAX_ATTEMPTS)
      throw new DbError(
        'CONFLICT',
        `Submission for asset ${input.assetId} kept racing with concurrent ones (${MAX_ATTEMPTS} attempts); retry it.`,
      );
  }
}

const MAX_ATTEMPTS = 4;

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

async function submitStatement(
  db: Queryable,
  schema: string,
  input: SubmitVersionInput,
): Promise<SubmitVersionResult | null> {
  const assets = sql.table(schema, 'geospatial_assets');
  const versions = sql.table(schema, 'asset_versions');
  const { ctes: jobCtes } = jobInsertCtes(
    schema,
    {
      ...input.job,
      workflowId: input.workflowId,
      inputParams: input.inputParams,
      correlationId: input.requestId,
      submittedBy: input.submittedBy,
      assetId: input.assetId,
    },
    sql`EXISTS (SELECT 1 FROM ok)`,
  );
  const created = {
    platform_id: input.platformId,
    platform_refs: input.refs,
    data_type: input.dataType,
  };
  const details = {
    workflow_id: input.workflowId,
    ...(input.versionLabel ? { version_label: input.versionLabel } : {}),
  };
  const check = input.check;
  // With a check, nothing below happens unless `go` has its row (the checks of readSubmissionContext,
  // on the context the statement reads).
  const checkCtes = check
    ? sql`ctx AS (
          SELECT ${contextColumns(schema, input.platformId, check.requestId)}
        ), go AS (
          SELECT 1 FROM ${sql.table(schema, 'platforms')} p, ctx
          WHERE p.platform_id = ${input.platformId} AND p.is_active AND ctx.v IS NULL AND ctx.j IS NULL
            AND p.required_refs <@ ${sql.json(Object.keys(input.refs))}
            AND ${sql.json(Object.keys(input.refs))} <@ (p.required_refs || p.optional_refs)
        ), `
    : sql``;
  const checked = check ? sql`AND EXISTS (SELECT 1 FROM go)` : sql``;
  const r = await query<{
    a: unknown;
    st: Record<string, unknown> | null;
    by_request: number | null;
    v: unknown;
    j: unknown;
    created: boolean;
    ctx?: ContextRow;
    go?: boolean;
  }>(
    db,
    sql`WITH ${checkCtes}ins AS (
          INSERT INTO ${assets} (asset_id, platform_id, platform_refs, data_type, created_by)
          SELECT ${input.assetId}::text, ${input.platformId}::text, ${sql.json(input.refs, 'platform_refs')},
                 ${input.dataType}::${sql.ident(schema, 'asset_data_type')}, ${input.submittedBy}::text
          -- A request id that created a version already creates nothing more (not even an asset).
          WHERE NOT EXISTS (SELECT 1 FROM ${versions} WHERE request_id = ${input.requestId}) ${checked}
          ON CONFLICT (asset_id) DO NOTHING
          RETURNING *
        ), cur AS (
          -- The lock that serializes submissions for an existing asset.
          SELECT * FROM ${assets} WHERE asset_id = ${input.assetId} ${checked} FOR UPDATE
        ), a AS (
          SELECT * FROM ins UNION ALL SELECT * FROM cur
        ), st AS (
          SELECT a.asset_id, a.deleted_at IS NOT NULL AS deleted, a.data_type::text AS data_type,
            (SELECT v.version_ordinal FROM ${versions} v WHERE v.request_id = ${input.requestId}) AS by_request,
            (SELECT json_build_object('version_ordinal', v.version_ordinal, 'processing_state', v.processing_state)
               FROM ${versions} v WHERE v.asset_id = a.asset_id AND v.approval_state = 'pending_review') AS pending,
            (SELECT coalesce(max(v.version_ordinal) + 1, 0) FROM ${versions} v WHERE v.asset_id = a.asset_id) AS next
          FROM a
        ), ok AS (
          SELECT * FROM st
          WHERE by_request IS NULL AND pending IS NULL AND NOT deleted AND data_type = ${input.dataType}
        ), ${jobCtes}, v AS (
          INSERT INTO ${versions} (asset_id, version_ordinal, version_label, current_job_id, request_id,
                                   workflow_id, input_params, submitted_by)
          SELECT ok.asset_id, ok.next, ${input.versionLabel ?? null}::text, j.job_id, ${input.requestId}::text,
                 ${input.workflowId}::text, ${sql.json(input.inputParams, 'input_params')}, ${input.submittedBy}::text
          FROM ok, j
          RETURNING *
        ), aud AS (
          INSERT INTO ${sql.table(schema, 'asset_audit_log')}
            (asset_id, version_ordinal, action, actor, to_state, details, job_id, request_id)
          SELECT asset_id, version_ordinal, action, ${input.submittedBy}::text, to_state, details, job_id, ${input.requestId}::text
          FROM (
            SELECT 1 AS ord, v.asset_id, NULL::int AS version_ordinal, 'asset_created' AS action,
                   ${sql.json(created)} AS to_state, '{}'::jsonb AS details, NULL::text AS job_id
            FROM v WHERE EXISTS (SELECT 1 FROM ins)
            UNION ALL
            SELECT 2, v.asset_id, v.version_ordinal, 'version_submitted',
                   '{"approval_state": "pending_review", "processing_state": "queued"}'::jsonb,
                   ${sql.json(details)}, v.current_job_id
            FROM v
          ) x ORDER BY ord
          RETURNING 1
        )
        SELECT (SELECT row_to_json(a) FROM a) AS a, (SELECT row_to_json(st) FROM st) AS st,
               (SELECT v.version_ordinal FROM ${versions} v WHERE v.request_id = ${input.requestId}) AS by_request,
               (SELECT row_to_json(v) FROM v) AS v,
               (SELECT to_jsonb(j) - 'workflow_snapshot' FROM j) AS j,
               EXISTS (SELECT 1 FROM ins) AS created
               ${check ? sql`, (SELECT row_to_json(ctx) FROM ctx) AS ctx, EXISTS (SELECT 1 FROM go) AS go` : sql``}`,
    { prepare: true },
  );
  const row = r.rows[0]!;
  if (check && !row.go) return { kind: 'unchecked', context: parseContext(row.ctx!) };
  if (row.by_request !== null && !row.v) {
    const v = await getVersionByRequestId(db, schema, input.requestId);
    if (v) return replayOrConflict(v, input);
  }
  // A submission that created the asset committed while this statement waited: it cannot see it.
  if (!row.a || !row.st) return null;
  const asset = parseRow(assetsTable, withDates(assetsTable, row.a));
  const st = row.st;
  if (row.v && row.j) {
    return {
      kind: 'created',
      asset,
      version: parseRow(assetVersionsTable, withDates(assetVersionsTable, row.v)),
      job: parseSummary(withDates(jobsTable, row.j)),
      assetCreated: row.created,
    };
  }
  if (st.deleted) return { kind: 'deleted', asset };
  if (st.data_type !== input.dataType) return { kind: 'data_type_mismatch', asset };
  if (st.pending)
    return {
      kind: 'pending',
      asset,
      pending: st.pending as { version_ordinal: number; processing_state: string },
    };
  return null;
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
  const r = await query<ContextRow>(
    db,
    sql`SELECT ${contextColumns(schema, input.platformId, input.requestId ?? null)}`,
    { prepare: true },
  );
  return parseContext(r.rows[0]!);
}

interface ContextRow {
  p: unknown;
  v: unknown;
  j: { job_id: string; status: string } | null;
}

/** The columns p, v and j of a ContextRow (readSubmissionContext, and a checked submission's `ctx`). */
function contextColumns(schema: string, platformId: string, requestId: string | null): SqlFragment {
  return sql`(SELECT row_to_json(p) FROM ${sql.table(schema, 'platforms')} p WHERE p.platform_id = ${platformId}) AS p,
             (SELECT row_to_json(v) FROM ${sql.table(schema, 'asset_versions')} v
               WHERE ${requestId}::text IS NOT NULL AND v.request_id = ${requestId}) AS v,
             (SELECT json_build_object('job_id', j.job_id, 'status', j.status) FROM ${sql.table(schema, 'dag_jobs')} j
               WHERE ${requestId}::text IS NOT NULL AND j.correlation_id = ${requestId}
                 AND j.status IN ('pending', 'running')
               ORDER BY j.created_at DESC LIMIT 1) AS j`;
}

function parseContext(row: ContextRow): SubmissionContext {
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
