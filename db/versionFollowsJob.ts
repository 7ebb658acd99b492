// A version's processing state follows its current job, in the SAME statement as the job's change:
// queued → processing when the job starts running (or reruns), → completed (with its artifacts) or
// failed (with last_error) when it ends. The job repositories splice these CTEs into the statements
// that change a job's status (finishJob, setJobStatus, rerunJob), so no path can end a job without
// its version — not a crash, not the reconciler, not a cancel.
import { ARTIFACT_FIELDS, type ArtifactField } from '../dag/workflowArtifacts';
import { checkText } from './defineTable';
import { sql, type SqlFragment } from './sql';
import { query, type Queryable } from './queryable';
import { ASSET_LIMITS, LIMITS } from './tables';

export type VersionArtifacts = Partial<Record<ArtifactField, string | null>>;

const ARTIFACT_LIMITS: Record<ArtifactField, number> = {
  blob_path: ASSET_LIMITS.blobPath,
  table_name: ASSET_LIMITS.tableName,
  stac_item_id: ASSET_LIMITS.stacId,
  stac_collection_id: ASSET_LIMITS.stacId,
  content_hash: ASSET_LIMITS.contentHash,
};

/** What a completed job gives its version: the artifacts, or why they could not be determined. */
export interface VersionOutcome {
  artifacts?: VersionArtifacts;
  /** Set when the artifacts could not be read from the outputs: the version fails although the job completed. */
  artifactError?: string;
}

/** Checks artifact values against their columns; a value that cannot be stored becomes the artifact error. */
export function checkArtifacts(outcome: VersionOutcome): VersionOutcome {
  if (outcome.artifactError !== undefined || !outcome.artifacts) return outcome;
  for (const f of ARTIFACT_FIELDS) {
    const v = outcome.artifacts[f];
    if (v == null) continue;
    const limit = ARTIFACT_LIMITS[f];
    if ([...v].length > limit)
      return { artifactError: `artifact ${f} is ${[...v].length} characters long; the limit is ${limit}` };
    try {
      checkText(v, 'asset_versions', f);
    } catch (err) {
      return { artifactError: `artifact ${f}: ${(err as Error).message}` };
    }
  }
  return outcome;
}

/**
 * CTEs (", _v_prev AS (...), ...") to append to a WITH statement in which `source` is a CTE holding
 * the jobs whose status just changed (columns job_id, status, error_message). Each such job's current
 * version moves along (see the file comment) and the move is written to the audit log.
 */
export function versionFollowsJob(
  schema: string,
  source: string,
  opts: { actor: string; outcome?: VersionOutcome },
): SqlFragment {
  const versions = sql.table(schema, 'asset_versions');
  const audit = sql.table(schema, 'asset_audit_log');
  const src = sql.ident(source);
  const outcome = checkArtifacts(opts.outcome ?? {});
  const artErr = outcome.artifactError ?? null;
  const art = (f: ArtifactField) =>
    outcome.artifacts && f in outcome.artifacts
      ? sql`CASE WHEN p.job_status = 'completed' AND ${artErr}::text IS NULL THEN ${outcome.artifacts[f] ?? null}::text ELSE v.${sql.ident(f)} END`
      : sql`v.${sql.ident(f)}`;
  return sql`, _v_prev AS (
      SELECT v.asset_id, v.version_ordinal, v.processing_state::text AS from_state,
             s.status::text AS job_status, s.error_message AS job_error
      FROM ${versions} v JOIN ${src} s ON v.current_job_id = s.job_id
      WHERE (s.status::text = 'running' AND v.processing_state IN ('queued', 'failed'))
         OR (s.status::text IN ('completed', 'failed', 'cancelled') AND v.processing_state IN ('queued', 'processing'))
      FOR UPDATE OF v
    ), _v_upd AS (
      UPDATE ${versions} v SET
        processing_state = (CASE WHEN p.job_status = 'running' THEN 'processing'
                                 WHEN p.job_status = 'completed' AND ${artErr}::text IS NULL THEN 'completed'
                                 ELSE 'failed' END)::${sql.ident(schema, 'processing_state')},
        processing_started_at = CASE WHEN p.job_status = 'running' THEN now()
                                     ELSE coalesce(v.processing_started_at, now()) END,
        processing_completed_at = CASE WHEN p.job_status = 'running' THEN NULL ELSE now() END,
        last_error = CASE
          WHEN p.job_status = 'running' THEN NULL
          WHEN p.job_status = 'completed' THEN left('The job completed but its artifacts could not be read: ' || ${artErr}::text, ${LIMITS.errorMessage})
          WHEN p.job_status = 'cancelled' THEN left('The job was cancelled' || coalesce(': ' || p.job_error, ''), ${LIMITS.errorMessage})
          ELSE left(coalesce(p.job_error, 'The job failed without an error message'), ${LIMITS.errorMessage}) END,
        blob_path = ${art('blob_path')},
        table_name = ${art('table_name')},
        stac_item_id = ${art('stac_item_id')},
        stac_collection_id = ${art('stac_collection_id')},
        content_hash = ${art('content_hash')},
        version = v.version + 1, updated_at = now()
      FROM _v_prev p WHERE v.asset_id = p.asset_id AND v.version_ordinal = p.version_ordinal
      RETURNING v.asset_id, v.version_ordinal, v.processing_state::text AS to_state, p.from_state,
                v.last_error, v.current_job_id, v.request_id, v.revision, v.blob_path, v.table_name,
                v.stac_item_id, v.stac_collection_id, v.content_hash
    ), _v_audit AS (
      INSERT INTO ${audit} (asset_id, version_ordinal, action, actor, from_state, to_state, details, job_id, request_id)
      SELECT asset_id, version_ordinal,
             CASE to_state WHEN 'processing' THEN 'processing_started'
                           WHEN 'completed' THEN 'processing_completed' ELSE 'processing_failed' END,
             ${opts.actor}::text,
             jsonb_build_object('processing_state', from_state),
             jsonb_build_object('processing_state', to_state),
             jsonb_strip_nulls(jsonb_build_object('revision', revision, 'last_error', last_error,
               'blob_path', blob_path, 'table_name', table_name, 'stac_item_id', stac_item_id,
               'stac_collection_id', stac_collection_id, 'content_hash', content_hash)),
             current_job_id, request_id
      FROM _v_upd RETURNING 1
    )`;
}

/** The same move for a job whose status changed in an earlier statement of the caller's transaction. */
export async function syncVersionWithJob(
  db: Queryable,
  schema: string,
  jobId: string,
  actor: string,
): Promise<void> {
  await query(
    db,
    sql`WITH _job AS (
          SELECT job_id, status, error_message FROM ${sql.table(schema, 'dag_jobs')} WHERE job_id = ${jobId}
        ) ${versionFollowsJob(schema, '_job', { actor })}
        SELECT 1`,
  );
}

/** The actor recorded for changes made by the engine itself. */
export const systemActor = (sourceApp?: string) => `system:${sourceApp ?? 'dagmaster'}`;
