// What Postgres knows about given attempts: the node row (its current attempt and status) and the
// result recorded for each task id, plus the job's status — in one statement. The orchestration's
// timeout path asks this before it fails an attempt, because a worker may have finished it while the
// Function App could not hear the result (crashed, redeployed, holding the result message).
import { z } from 'zod';
import { query, type Queryable } from './queryable';
import { recordSource, type RecordColumns } from './recordSource';
import { sql } from './sql';
import { NodeStatus, ResultDisposition } from './statuses';

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

const StateRow = z.object({
  ord: z.number(),
  node_status: NodeStatus.nullable(),
  node_task_id: z.string().nullable(),
  attempt: z.number().nullable(),
  first_attempt: z.number().nullable(),
  node_error: z.string().nullable(),
  result_status: z.enum(['completed', 'failed']).nullable(),
  disposition: ResultDisposition.nullable(),
  result_error: z.string().nullable(),
  job_status: z.string().nullable(),
});

const ResultRow = StateRow.extend({
  task_id: z.string(),
  job_id: z.string(),
  result_node_id: z.string(),
  result_attempt: z.number(),
});

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
  const r = await query(
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
  return r.rows.map((raw) => toState(StateRow.parse(raw)));
}

function toState(row: z.infer<typeof StateRow>): AttemptState {
  return {
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
  };
}

export interface RecordedResult {
  jobId: string;
  nodeId: string;
  attempt: number;
  state: AttemptState;
}

/**
 * The results recorded for task ids, each with its node's and job's state, by task id (a task id
 * without a recorded result is absent). The result queue trigger answers from this, not from the
 * message (docs/messages.md, "Trust"); a batch message is read in one statement.
 */
export async function readRecordedResults(
  db: Queryable,
  schema: string,
  taskIds: readonly string[],
): Promise<Map<string, RecordedResult>> {
  const out = new Map<string, RecordedResult>();
  if (!taskIds.length) return out;
  const r = await query(
    db,
    sql`SELECT 0 AS ord, tr.task_id, tr.job_id, tr.node_id AS result_node_id, tr.attempt AS result_attempt,
               n.status::text AS node_status, n.task_id AS node_task_id, n.attempt, n.first_attempt,
               n.error_message AS node_error, tr.status::text AS result_status,
               tr.disposition::text AS disposition, tr.error_message AS result_error,
               j.status::text AS job_status
        FROM ${sql.table(schema, 'dag_task_results')} tr
        LEFT JOIN ${sql.table(schema, 'dag_node_states')} n ON n.job_id = tr.job_id AND n.node_id = tr.node_id
        LEFT JOIN ${sql.table(schema, 'dag_jobs')} j ON j.job_id = tr.job_id
        WHERE tr.task_id = ANY(${[...new Set(taskIds)]}::text[])`,
    { prepare: true },
  );
  for (const raw of r.rows) {
    const row = ResultRow.parse(raw);
    out.set(row.task_id, {
      jobId: row.job_id,
      nodeId: row.result_node_id,
      attempt: row.result_attempt,
      state: toState(row),
    });
  }
  return out;
}
