// Starting attempts: each node moves from pending/ready to dispatched (container) or running
// (activity) with its task id, deadline and resolved params, and its events are written — for a
// whole batch in ONE statement, because this is on the hot path of every task (a fan-out's
// children start in batches). A redelivered start (the activity or the enqueue ran twice) is
// recognised by the task id and reported instead of applied twice.
import { z } from 'zod';
import { parseRow, parseRowWith, validateValues } from './defineTable';
import { query, type Queryable } from './queryable';
import { recordSource, type RecordColumns } from './recordSource';
import { sql, toJsonText } from './sql';
import { ATTEMPT_KEY_COLUMNS, attemptCtes, CURRENT_ATTEMPT_UPDATE } from './attemptCtes';
import { schemaTables } from './schemaTables';
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

/** The columns of a newly started attempt's node row that a start returns. */
const STARTED_COLUMNS = [
  'job_id',
  'node_id',
  'status',
  'task_id',
  'attempt',
  'first_attempt',
  'input_params',
  'started_at',
  'deadline_at',
] as const;
type StartedColumn = (typeof STARTED_COLUMNS)[number];

/**
 * What a start returns of the node it applied to: what the runners use (its params, first attempt)
 * and the start itself. A runner call starts 100 fan-out children per statement; the whole row of
 * each, sent as JSON and parsed, cost a tenth of the job.
 */
export type StartedNode = Pick<NodeRow, StartedColumn>;
const StartedNodeModel = nodeStatesTable.columns.pick(
  Object.fromEntries(STARTED_COLUMNS.map((c) => [c, true])) as { [K in StartedColumn]: true },
);

export type StartAttemptOutcome =
  /** Applied: the node after the change (the columns of StartedNode). */
  | { kind: 'started'; node: StartedNode }
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

const COLUMNS: RecordColumns = [
  ...ATTEMPT_KEY_COLUMNS,
  ['to_status', 'text'],
  ['deadline_at', 'timestamptz'],
  ['params', 'jsonb'],
  ['has_params', 'boolean'],
  ['data', 'jsonb'],
];

const Row = z.object({
  ord: z.number(),
  started: z.record(z.string(), z.unknown()).nullable(),
  node: z.record(z.string(), z.unknown()).nullable(),
  job_status: z.string().nullable(),
  cancel_requested: z.boolean().nullable(),
  result_status: z.string().nullable(),
  result_error: z.string().nullable(),
});

/** One attempt (see startAttempts). */
export async function startAttempt(
  db: Queryable,
  schema: string,
  input: StartAttemptInput,
): Promise<StartAttemptOutcome> {
  return (await startAttempts(db, schema, [input]))[0]!;
}

/** Starts many attempts in one statement; one outcome per input, in order. */
export async function startAttempts(
  db: Queryable,
  schema: string,
  inputs: StartAttemptInput[],
): Promise<StartAttemptOutcome[]> {
  if (!inputs.length) return [];
  const rows = inputs.map((input, ord) => {
    validateValues(
      nodeStatesTable,
      { job_id: input.jobId, node_id: input.nodeId, task_id: input.taskId, attempt: input.attempt },
      `attempts[${ord}]`,
    );
    return {
      ord,
      job_id: input.jobId,
      node_id: input.nodeId,
      task_id: input.taskId,
      attempt: input.attempt,
      to_status: input.to,
      deadline_at: input.deadlineAt.toISOString(),
      params:
        input.inputParams === undefined ? null : JSON.parse(toJsonText(input.inputParams, 'input_params')!),
      has_params: input.inputParams !== undefined,
      data: { attempt: input.attempt, handler: input.handler, queue: input.queue },
    };
  });
  const sourceApp = inputs[0]!.sourceApp ?? null;
  const t = schemaTables(schema);
  const ty = t.type;
  const r = await query(
    db,
    sql`WITH ${attemptCtes(t, recordSource(COLUMNS, rows, 'attempts'))}, upd AS (
      UPDATE ${t.nodes} n SET
        status = x.to_status::${ty('node_status')},
        task_id = x.task_id,
        attempt = x.attempt,
        ready_at = coalesce(n.ready_at, now()),
        dispatched_at = now(),
        started_at = CASE WHEN x.to_status = 'running' THEN now() ELSE NULL END,
        deadline_at = x.deadline_at,
        retry_at = NULL,
        ${CURRENT_ATTEMPT_UPDATE}
      RETURNING x.ord AS _ord, ${sql.join(
        STARTED_COLUMNS.map((c) => sql`n.${sql.ident(c)}`),
        sql`, `,
      )}
    ), ev AS (
      INSERT INTO ${t.events} (job_id, node_id, task_id, event_type, event_status, event_data, source_app)
      SELECT u.job_id, u.node_id, u.task_id, e.type::${ty('job_event_type')}, e.status::${ty('job_event_status')},
             x.data, ${sourceApp}
      FROM upd u JOIN x ON x.ord = u._ord JOIN prev p ON p.ord = u._ord
      CROSS JOIN LATERAL (VALUES
        (1, CASE WHEN p.prev_status = 'pending' AND u.attempt = u.first_attempt THEN 'node_ready' END, 'info'),
        (2, 'node_dispatched', 'success'),
        (3, CASE WHEN u.status = 'running' THEN 'node_started' END, 'info')
      ) AS e(seq, type, status)
      WHERE e.type IS NOT NULL
      ORDER BY u._ord, e.seq
      RETURNING 1
    )
    -- The row as it was is read only for an attempt that did not start (a started one is the whole
    -- hot path of a fan-out, and its new row is all the caller needs).
    SELECT x.ord,
      CASE WHEN u._ord IS NOT NULL THEN
        json_build_object(${sql.join(
          STARTED_COLUMNS.map((c) => sql`${sql.literal(c)}, u.${sql.ident(c)}`),
          sql`, `,
        )})
      END AS started,
      CASE WHEN u._ord IS NULL THEN
        (SELECT row_to_json(n) FROM ${t.nodes} n WHERE n.job_id = x.job_id AND n.node_id = x.node_id)
      END AS node,
      (SELECT status::text FROM j WHERE j.job_id = x.job_id) AS job_status,
      (SELECT cancel_requested_at IS NOT NULL FROM j WHERE j.job_id = x.job_id) AS cancel_requested,
      tr.status::text AS result_status, tr.error_message AS result_error
    FROM x LEFT JOIN upd u ON u._ord = x.ord
    -- An index lookup per attempt (LIMIT 1 keeps it one): joined, a young schema's results table
    -- (small, or not analysed yet) was read whole and hashed at every start.
    LEFT JOIN LATERAL (SELECT status, error_message FROM ${t.results} tr WHERE tr.task_id = x.task_id LIMIT 1) tr
      ON true
    ORDER BY x.ord`,
    { prepare: rows.length === 1 },
  );
  const out: StartAttemptOutcome[] = new Array(inputs.length);
  for (const raw of r.rows) {
    const row = Row.parse(raw);
    const input = inputs[row.ord]!;
    out[row.ord] = outcome(row, input);
  }
  return out;
}

function outcome(row: z.infer<typeof Row>, input: StartAttemptInput): StartAttemptOutcome {
  if (row.started) return { kind: 'started', node: parseStartedJson(row.started) };
  if (!row.node) return { kind: 'not_found' };
  const node = parseNodeJson(row.node);
  if (row.result_status === 'completed' || row.result_status === 'failed') {
    return {
      kind: 'finished',
      node,
      resultStatus: row.result_status,
      errorMessage: row.result_error,
      retryable: node.status === 'ready' || node.status === 'pending',
    };
  }
  if (row.job_status !== 'pending' && row.job_status !== 'running') {
    return {
      kind: 'job_closed',
      jobStatus: row.job_status ?? 'unknown',
      cancelRequested: !!row.cancel_requested,
    };
  }
  if (row.cancel_requested) return { kind: 'job_closed', jobStatus: row.job_status, cancelRequested: true };
  if (node.task_id === input.taskId && (node.status === 'running' || node.status === 'dispatched')) {
    return { kind: 'already_started', node };
  }
  return { kind: 'stale', node };
}

/** A started node read through json_build_object: its timestamps arrive as strings. */
function parseStartedJson(v: Record<string, unknown>): StartedNode {
  const out: Record<string, unknown> = { ...v };
  for (const k of ['started_at', 'deadline_at'] as const)
    if (typeof out[k] === 'string') out[k] = new Date(out[k] as string);
  return parseRowWith(nodeStatesTable, StartedNodeModel, out);
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
