// What Postgres knows about given attempts: the node row (its current attempt and status) and the
// result recorded for each task id, plus the job's status — in one statement. The orchestration's
// timeout path asks this before it fails an attempt, because a worker may have finished it while the
// Function App could not hear the result (crashed, redeployed, holding the result message).
import { query, type Queryable } from './queryable';
import { recordSource, type RecordColumns } from './recordSource';
import { sql } from './sql';
import type { NodeStatus, ResultDisposition } from './statuses';

export interface AttemptState {
  node: {
    status: NodeStatus;
    taskId: string | null;
    attempt: number;
    firstAttempt: number;
    errorMessage: string | null;
  } | null;
  /** The result recorded for this task id, if any. */
  result: {
    status: 'completed' | 'failed';
    disposition: ResultDisposition;
    errorMessage: string | null;
  } | null;
  jobStatus: string | null;
}

const COLUMNS: RecordColumns = [
  ['ord', 'int'],
  ['node_id', 'text'],
  ['task_id', 'text'],
];

/** One state per input, in order. */
export async function readAttemptStates(
  db: Queryable,
  schema: string,
  jobId: string,
  attempts: ReadonlyArray<{ nodeId: string; taskId: string }>,
): Promise<AttemptState[]> {
  if (!attempts.length) return [];
  const r = await query<{
    ord: number;
    node_status: NodeStatus | null;
    node_task_id: string | null;
    attempt: number | null;
    first_attempt: number | null;
    node_error: string | null;
    result_status: 'completed' | 'failed' | null;
    disposition: ResultDisposition | null;
    result_error: string | null;
    job_status: string | null;
  }>(
    db,
    sql`WITH x AS (${recordSource(
      COLUMNS,
      attempts.map((a, ord) => ({ ord, node_id: a.nodeId, task_id: a.taskId })),
      'attempts',
    )})
    SELECT x.ord, n.status::text AS node_status, n.task_id AS node_task_id, n.attempt, n.first_attempt,
           n.error_message AS node_error, tr.status::text AS result_status,
           tr.disposition::text AS disposition, tr.error_message AS result_error,
           (SELECT status::text FROM ${sql.table(schema, 'dag_jobs')} WHERE job_id = ${jobId}) AS job_status
    FROM x
    LEFT JOIN ${sql.table(schema, 'dag_node_states')} n ON n.job_id = ${jobId} AND n.node_id = x.node_id
    LEFT JOIN ${sql.table(schema, 'dag_task_results')} tr ON tr.task_id = x.task_id
    ORDER BY x.ord`,
  );
  return r.rows.map((row) => ({
    node:
      row.node_status === null
        ? null
        : {
            status: row.node_status,
            taskId: row.node_task_id,
            attempt: row.attempt ?? 0,
            firstAttempt: row.first_attempt ?? 0,
            errorMessage: row.node_error,
          },
    result:
      row.result_status === null || row.disposition === null
        ? null
        : { status: row.result_status, disposition: row.disposition, errorMessage: row.result_error },
    jobStatus: row.job_status,
  }));
}

export interface RecordedResult {
  jobId: string;
  nodeId: string;
  attempt: number;
  state: AttemptState;
  /** The orchestration instance the attempt's (latest) task message named, when it was recorded. */
  replyTo: string | null;
}

/**
 * The result recorded for a task id, with its node's and job's state and the instance its task was
 * sent for; null when no result is recorded. The result queue trigger answers from this, not from
 * the message (docs/messages.md, "Trust").
 */
export async function readRecordedResult(
  db: Queryable,
  schema: string,
  taskId: string,
): Promise<RecordedResult | null> {
  const r = await query<{ job_id: string; node_id: string; attempt: number; reply_to: string | null }>(
    db,
    sql`SELECT tr.job_id, tr.node_id, tr.attempt,
               (SELECT m.reply_to FROM ${sql.table(schema, 'dag_task_messages')} m
                WHERE m.task_id = tr.task_id ORDER BY m.enqueued_at DESC LIMIT 1) AS reply_to
        FROM ${sql.table(schema, 'dag_task_results')} tr WHERE tr.task_id = ${taskId}`,
  );
  const row = r.rows[0];
  if (!row) return null;
  const [state] = await readAttemptStates(db, schema, row.job_id, [{ nodeId: row.node_id, taskId }]);
  return {
    jobId: row.job_id,
    nodeId: row.node_id,
    attempt: row.attempt,
    state: state!,
    replyTo: row.reply_to,
  };
}
