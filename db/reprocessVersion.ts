// Reprocess: a version whose processing has ended (completed or failed) gets a new job, in one
// transaction with the version's move back to queued (revision + 1, artifacts cleared until the new
// job provides them). Approval is kept: reprocessing fixes how a version was made, not what it is.
import { auditInsert } from './auditRepository';
import type { VersionJobSpec } from './assetSubmission';
import { parseRow } from './defineTable';
import { createJob } from './jobCommands';
import { query, withTransaction, type Queryable } from './queryable';
import { sql } from './sql';
import { assetVersionsTable, type AssetVersionRow, type JobRow } from './tables';

export type ReprocessResult =
  | { kind: 'applied'; version: AssetVersionRow; job: JobRow }
  | { kind: 'not_found' }
  | { kind: 'asset_deleted'; current: AssetVersionRow }
  /** Processing has not ended, or the version changed since it was read (expectedRevision). */
  | { kind: 'conflict'; current: AssetVersionRow };

export async function reprocessVersion(
  db: Queryable,
  schema: string,
  input: {
    assetId: string;
    ordinal: number;
    /** The revision the caller built the job for; another revision in between is a conflict. */
    expectedRevision: number;
    actor: string | null;
    reason?: string | null;
    job: VersionJobSpec;
    inputParams: Record<string, unknown>;
  },
): Promise<ReprocessResult> {
  const versions = sql.table(schema, 'asset_versions');
  return withTransaction(db, async (tx) => {
    const cur = await query(
      tx,
      sql`SELECT v.*, a.deleted_at IS NOT NULL AS _deleted
          FROM ${versions} v JOIN ${sql.table(schema, 'geospatial_assets')} a ON a.asset_id = v.asset_id
          WHERE v.asset_id = ${input.assetId} AND v.version_ordinal = ${input.ordinal}
          FOR UPDATE OF v`,
    );
    if (!cur.rows[0]) return { kind: 'not_found' as const };
    const { _deleted, ...row } = cur.rows[0] as Record<string, unknown>;
    const current = parseRow(assetVersionsTable, row);
    if (_deleted) return { kind: 'asset_deleted' as const, current };
    if (
      (current.processing_state !== 'completed' && current.processing_state !== 'failed') ||
      current.revision !== input.expectedRevision
    )
      return { kind: 'conflict' as const, current };
    const { job } = await createJob(tx, schema, {
      ...input.job,
      workflowId: current.workflow_id,
      inputParams: input.inputParams,
      correlationId: current.request_id ?? null,
      submittedBy: input.actor,
      assetId: input.assetId,
    });
    const upd = await query(
      tx,
      sql`WITH upd AS (
            UPDATE ${versions} SET revision = revision + 1, processing_state = 'queued', current_job_id = ${job.job_id},
              processing_started_at = NULL, processing_completed_at = NULL, last_error = NULL,
              blob_path = NULL, table_name = NULL, stac_item_id = NULL, stac_collection_id = NULL, content_hash = NULL,
              version = version + 1, updated_at = now()
            WHERE asset_id = ${input.assetId} AND version_ordinal = ${input.ordinal}
            RETURNING *
          ), aud AS (
            ${auditInsert(schema, [
              {
                action: 'version_reprocessed',
                actor: input.actor,
                assetId: input.assetId,
                versionOrdinal: input.ordinal,
                from: {
                  revision: current.revision,
                  processing_state: current.processing_state,
                  job_id: current.current_job_id,
                },
                to: { revision: current.revision + 1, processing_state: 'queued', job_id: job.job_id },
                ...(input.reason ? { details: { reason: input.reason } } : {}),
                jobId: job.job_id,
                requestId: current.request_id,
              },
            ])}
            RETURNING 1
          )
          SELECT * FROM upd`,
    );
    return { kind: 'applied' as const, version: parseRow(assetVersionsTable, upd.rows[0]), job };
  });
}
