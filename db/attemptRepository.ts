// Starting an attempt: the node moves from pending/ready to dispatched (container) or running
// (activity) with its task id, deadline and resolved params, and its events are written — in ONE
// statement, because this is on the hot path of every task. A redelivered start (the activity or
// the enqueue ran twice) is recognised by the task id and reported instead of applied twice.
import { z } from 'zod';
import { parseRow, validateValues } from './defineTable';
import { query, type Queryable } from './queryable';
import { sql, toJsonText } from './sql';
import { nodeStatesTable, type NodeRow } from './tables';

export interface StartAttemptInput {
  jobId: string;
  nodeId: string;
  taskId: string;
  attempt: number;
  /** running: the attempt starts now (activities); dispatched: it was handed to a queue (containers). */
  to: 'running' | 'dispatched';
  deadlineAt: Date;
  /** Resolved params to keep on the node (not for children, whose params were set at expansion). */
  inputParams?: unknown;
  handler: string;
  queue: string;
  sourceApp?: string;
}

export type StartAttemptOutcome =
  /** Applied: the node row after the change, and the job's inputs for rendering. */
  | { kind: 'started'; node: NodeRow }
  /** This very attempt was started before (a redelivery): the current row. */
  | { kind: 'already_started'; node: NodeRow }
  /** This attempt already has a recorded result. */
  | {
      kind: 'finished';
      node: NodeRow;
      resultStatus: 'completed' | 'failed';
      errorMessage: string | null;
      retryable: boolean;
    }
  /** The job ended or a cancel was requested: nothing started. */
  | { kind: 'job_closed'; jobStatus: string; cancelRequested: boolean }
  /** The node is elsewhere (another attempt, or terminal): nothing started. */
  | { kind: 'stale'; node: NodeRow }
  | { kind: 'not_found' };

const Current = z.object({
  node: z.unknown().nullable(),
  job_status: z.string().nullable(),
  cancel_requested: z.boolean().nullable(),
  result_status: z.string().nullable(),
  result_error: z.string().nullable(),
  result_disposition: z.string().nullable(),
});

export async function startAttempt(
  db: Queryable,
  schema: string,
  input: StartAttemptInput,
): Promise<StartAttemptOutcome> {
  validateValues(nodeStatesTable, {
    job_id: input.jobId,
    node_id: input.nodeId,
    task_id: input.taskId,
    attempt: input.attempt,
  });
  const t = {
    jobs: sql.table(schema, 'dag_jobs'),
    nodes: sql.table(schema, 'dag_node_states'),
    events: sql.table(schema, 'dag_job_events'),
    results: sql.table(schema, 'dag_task_results'),
  };
  const ty = (n: string) => sql.ident(schema, n);
  const params = input.inputParams === undefined ? null : toJsonText(input.inputParams, 'input_params');
  const running = input.to === 'running';
  const data = toJsonText(
    { attempt: input.attempt, handler: input.handler, queue: input.queue },
    'event.data',
  );
  const r = await query(
    db,
    sql`WITH j AS (
      SELECT status, cancel_requested_at FROM ${t.jobs} WHERE job_id = ${input.jobId}
    ), upd AS (
      UPDATE ${t.nodes} n SET
        status = ${input.to}::${ty('node_status')},
        task_id = ${input.taskId},
        attempt = ${input.attempt},
        ready_at = coalesce(n.ready_at, now()),
        dispatched_at = now(),
        started_at = CASE WHEN ${running}::boolean THEN now() ELSE NULL END,
        deadline_at = ${input.deadlineAt.toISOString()}::timestamptz,
        retry_at = NULL,
        input_params = coalesce(${params}::jsonb, n.input_params),
        version = n.version + 1,
        updated_at = now()
      FROM j
      WHERE n.job_id = ${input.jobId} AND n.node_id = ${input.nodeId}
        AND n.status IN ('pending', 'ready') AND n.attempt = ${input.attempt}
        AND j.status IN ('pending', 'running') AND j.cancel_requested_at IS NULL
      RETURNING n.*, (SELECT prev.status FROM ${t.nodes} prev
                      WHERE prev.job_id = n.job_id AND prev.node_id = n.node_id) AS _prev_status
    ), ev AS (
      INSERT INTO ${t.events} (job_id, node_id, task_id, event_type, event_status, event_data, source_app)
      SELECT u.job_id, u.node_id, u.task_id, e.type::${ty('job_event_type')}, e.status::${ty('job_event_status')},
             ${data}::jsonb, ${input.sourceApp ?? null}
      FROM upd u CROSS JOIN LATERAL (VALUES
        (1, CASE WHEN u._prev_status = 'pending' AND ${input.attempt} = u.first_attempt THEN 'node_ready' END, 'info'),
        (2, 'node_dispatched', 'success'),
        (3, CASE WHEN ${running}::boolean THEN 'node_started' END, 'info')
      ) AS e(seq, type, status)
      WHERE e.type IS NOT NULL
      ORDER BY e.seq
      RETURNING 1
    )
    SELECT (SELECT row_to_json(u) FROM upd u) AS started,
      (SELECT row_to_json(n) FROM ${t.nodes} n WHERE n.job_id = ${input.jobId} AND n.node_id = ${input.nodeId}) AS node,
      (SELECT status::text FROM j) AS job_status,
      (SELECT cancel_requested_at IS NOT NULL FROM j) AS cancel_requested,
      (SELECT status::text FROM ${t.results} WHERE task_id = ${input.taskId}) AS result_status,
      (SELECT error_message FROM ${t.results} WHERE task_id = ${input.taskId}) AS result_error,
      (SELECT disposition::text FROM ${t.results} WHERE task_id = ${input.taskId}) AS result_disposition`,
    { prepare: true },
  );
  const row = r.rows[0] as Record<string, unknown>;
  if (row.started) {
    const { _prev_status: _p, ...rest } = row.started as Record<string, unknown>;
    return { kind: 'started', node: parseNodeJson(rest) };
  }
  const cur = Current.parse(row);
  if (!cur.node) return { kind: 'not_found' };
  const node = parseNodeJson(cur.node as Record<string, unknown>);
  if (cur.result_status === 'completed' || cur.result_status === 'failed') {
    return {
      kind: 'finished',
      node,
      resultStatus: cur.result_status,
      errorMessage: cur.result_error,
      retryable: node.status === 'ready' || node.status === 'pending',
    };
  }
  if (cur.job_status !== 'pending' && cur.job_status !== 'running') {
    return {
      kind: 'job_closed',
      jobStatus: cur.job_status ?? 'unknown',
      cancelRequested: !!cur.cancel_requested,
    };
  }
  if (cur.cancel_requested) return { kind: 'job_closed', jobStatus: cur.job_status, cancelRequested: true };
  if (node.task_id === input.taskId && (node.status === 'running' || node.status === 'dispatched')) {
    return { kind: 'already_started', node };
  }
  return { kind: 'stale', node };
}

/** A node row read through row_to_json: timestamps arrive as strings. */
function parseNodeJson(v: Record<string, unknown>): NodeRow {
  const out: Record<string, unknown> = { ...v };
  for (const k of [
    'created_at',
    'ready_at',
    'dispatched_at',
    'started_at',
    'completed_at',
    'updated_at',
    'retry_at',
    'deadline_at',
    'heartbeat_at',
  ]) {
    if (typeof out[k] === 'string') out[k] = new Date(out[k] as string);
  }
  return parseRow(nodeStatesTable, out);
}
