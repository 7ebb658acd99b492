// The task messages sent to container queues (dag_task_messages), and the in-flight attempts that
// look abandoned: no sign of life for a while (a dispatched attempt no worker started, a running one
// whose heartbeat stopped). Whether such an attempt is really stranded — its message gone from the
// queue — is for the caller to ask the queue (activities/strandedAttempts.ts).
import { z } from 'zod';
import { validateValues } from './defineTable';
import { query, type Queryable } from './queryable';
import { recordSource, type RecordColumns } from './recordSource';
import { sql } from './sql';
import { taskMessagesTable } from './tables';

export interface TaskMessageInput {
  taskId: string;
  messageId: string;
  popReceipt: string;
  queue: string;
  jobId: string;
  nodeId: string;
  replyTo: string;
}

const COLUMNS: RecordColumns = [
  ['task_id', 'text'],
  ['message_id', 'text'],
  ['pop_receipt', 'text'],
  ['queue', 'text'],
  ['job_id', 'text'],
  ['node_id', 'text'],
  ['reply_to', 'text'],
];

/** Records sent messages (one statement; a row recorded before is kept). */
export async function recordTaskMessages(
  db: Queryable,
  schema: string,
  rows: readonly TaskMessageInput[],
): Promise<void> {
  if (!rows.length) return;
  const values = rows.map((r, i) => {
    const v = {
      task_id: r.taskId,
      message_id: r.messageId,
      pop_receipt: r.popReceipt,
      queue: r.queue,
      job_id: r.jobId,
      node_id: r.nodeId,
      reply_to: r.replyTo,
    };
    validateValues(taskMessagesTable, v, `messages[${i}]`);
    return v;
  });
  await query(
    db,
    sql`INSERT INTO ${sql.table(schema, 'dag_task_messages')} (task_id, message_id, pop_receipt, queue, job_id, node_id, reply_to)
        SELECT task_id, message_id, pop_receipt, queue, job_id, node_id, reply_to
        FROM (${recordSource(COLUMNS, values, 'messages')}) x
        ON CONFLICT (task_id, message_id) DO NOTHING`,
    { prepare: values.length === 1 },
  );
}

const QuietAttempt = z.object({
  job_id: z.string(),
  node_id: z.string(),
  task_id: z.string(),
  status: z.enum(['dispatched', 'running']),
  attempt: z.number(),
  /** Last sign of life: the dispatch, the start or the latest heartbeat. */
  since: z.coerce.date(),
  worker_id: z.string().nullable(),
  deadline_at: z.coerce.date().nullable(),
  input_params: z.unknown(),
  messages: z.array(
    z.object({
      message_id: z.string(),
      pop_receipt: z.string(),
      queue: z.string(),
      reply_to: z.string(),
      enqueued_at: z.coerce.date(),
    }),
  ),
});
export type QuietAttempt = z.infer<typeof QuietAttempt>;

/**
 * In-flight container attempts of running jobs (no cancel asked) with no sign of life for
 * `quietSeconds` — dispatched and not started, or running without a heartbeat — and no message sent
 * within that time either, with every message recorded for them. Least recently probed first, so a
 * long backlog is looked at in turn. Attempts without a recorded message (sent before this table
 * existed) are left to their deadline.
 */
export async function listQuietAttempts(
  db: Queryable,
  schema: string,
  input: { quietSeconds: number; limit?: number },
): Promise<QuietAttempt[]> {
  const t = {
    nodes: sql.table(schema, 'dag_node_states'),
    jobs: sql.table(schema, 'dag_jobs'),
    messages: sql.table(schema, 'dag_task_messages'),
  };
  const quiet = sql`now() - ${input.quietSeconds}::double precision * interval '1 second'`;
  const r = await query(
    db,
    sql`SELECT n.job_id, n.node_id, n.task_id, n.status::text AS status, n.attempt,
               CASE WHEN n.status = 'dispatched' THEN n.dispatched_at
                    ELSE greatest(n.started_at, n.heartbeat_at) END AS since,
               n.worker_id, n.deadline_at, n.input_params,
               json_agg(json_build_object('message_id', m.message_id, 'pop_receipt', m.pop_receipt,
                          'queue', m.queue, 'reply_to', m.reply_to, 'enqueued_at', m.enqueued_at)
                        ORDER BY m.enqueued_at) AS messages
        FROM ${t.nodes} n
        JOIN ${t.jobs} j ON j.job_id = n.job_id AND j.status = 'running' AND j.cancel_requested_at IS NULL
        JOIN ${t.messages} m ON m.task_id = n.task_id
        WHERE n.status IN ('dispatched', 'running')
          AND CASE WHEN n.status = 'dispatched' THEN n.dispatched_at
                   ELSE greatest(n.started_at, n.heartbeat_at) END < ${quiet}
        GROUP BY n.job_id, n.node_id
        HAVING max(m.enqueued_at) < ${quiet}
        ORDER BY min(coalesce(m.probed_at, '-infinity'::timestamptz)), n.job_id, n.node_id
        LIMIT ${input.limit ?? 100}`,
  );
  return r.rows.map((row) => QuietAttempt.parse(row));
}

/** Notes that the queue was asked about these attempts' messages. */
export async function markMessagesProbed(db: Queryable, schema: string, taskIds: string[]): Promise<void> {
  if (!taskIds.length) return;
  await query(
    db,
    sql`UPDATE ${sql.table(schema, 'dag_task_messages')} SET probed_at = now()
        WHERE task_id = ANY(${taskIds}::text[])`,
  );
}

/** The attempt is still in flight as it was seen (same task, same status) and has no result. */
export async function attemptStillInFlight(
  db: Queryable,
  schema: string,
  a: { jobId: string; nodeId: string; taskId: string; status: 'dispatched' | 'running' },
): Promise<boolean> {
  const r = await query(
    db,
    sql`SELECT 1 FROM ${sql.table(schema, 'dag_node_states')} n
        WHERE n.job_id = ${a.jobId} AND n.node_id = ${a.nodeId} AND n.task_id = ${a.taskId}
          AND n.status = ${a.status}::${sql.ident(schema, 'node_status')}
          AND NOT EXISTS (SELECT 1 FROM ${sql.table(schema, 'dag_task_results')} r WHERE r.task_id = ${a.taskId})`,
  );
  return (r.rowCount ?? 0) > 0;
}
