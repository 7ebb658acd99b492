// What the statements that start attempts share (startAttempts, recordLightAttempts): the attempts as
// the CTE `x`, their jobs `j`, the nodes' statuses before the statement `prev`, and the condition
// under which an attempt is current on its node row.
import type { RecordColumns } from './recordSource';
import { sql, type SqlFragment } from './sql';
import type { SchemaTables } from './schemaTables';

/** The CTEs x (from `source`, with ord, job_id, node_id), j and prev, without the leading WITH. */
export function attemptCtes(t: SchemaTables, source: SqlFragment): SqlFragment {
  return sql`x AS (${source}
    ), j AS (
      SELECT DISTINCT jb.job_id, jb.status, jb.cancel_requested_at FROM ${t.jobs} jb JOIN x ON x.job_id = jb.job_id
    ), prev AS (
      SELECT x.ord, n.status AS prev_status FROM x JOIN ${t.nodes} n ON n.job_id = x.job_id AND n.node_id = x.node_id
    )`;
}

/** Node `n` waits for attempt `x` and job `j` may still start it (not ended, no cancel asked). */
export const ATTEMPT_IS_CURRENT = sql`n.status IN ('pending', 'ready') AND n.attempt = x.attempt
        AND j.status IN ('pending', 'running') AND j.cancel_requested_at IS NULL`;

/**
 * The end of both statements' node UPDATE: the params when given, a new version, and the rows (node
 * `n` of attempt `x`, while the attempt is current).
 */
export const CURRENT_ATTEMPT_UPDATE = sql`input_params = CASE WHEN x.has_params THEN x.params ELSE n.input_params END,
        version = n.version + 1,
        updated_at = now()
      FROM x JOIN j ON j.job_id = x.job_id
      WHERE n.job_id = x.job_id AND n.node_id = x.node_id
        AND ${ATTEMPT_IS_CURRENT}`;

/** The leading columns of an attempts source (`x`): its order and the attempt's keys. */
export const ATTEMPT_KEY_COLUMNS: RecordColumns = [
  ['ord', 'int'],
  ['job_id', 'text'],
  ['node_id', 'text'],
  ['task_id', 'text'],
  ['attempt', 'int'],
];
