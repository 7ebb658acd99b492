// Attempt results from activities and container workers, delivered at least once. A result applies to
// its node only when the node's current task_id is the result's task id and the node is dispatched or
// running; otherwise it is recorded and ignored (stale attempt, job already ended). The result row,
// the node transition and the events are written by ONE statement, keyed by task_id, so a duplicate
// delivery — even a concurrent one — is a no-op reported as {kind: 'duplicate'}.
import { z } from 'zod';
import { columnList, parseRow, parseRowWith, truncate, validateValues } from './defineTable';
import { DbValidationError } from './errors';
import { query, type Queryable } from './queryable';
import { sql } from './sql';
import { schemaTables } from './schemaTables';
import { TaskResultStatus, type NodeStatus, type ResultDisposition } from './statuses';
import {
  jobEventsTable,
  LIMITS,
  nodeStatesTable,
  taskResultsTable,
  type NodeRow,
  type TaskResultRow,
} from './tables';
import { transitionNode, type NodeTransition, type TransitionResult } from './nodeRepository';
import { byKey } from './nodeTransitionCtes';
import { recordSource, type RecordColumns } from './recordSource';

export interface TaskResultInput {
  taskId: string;
  jobId: string;
  nodeId: string;
  attempt: number;
  status: TaskResultStatus;
  output?: unknown;
  /** Truncated to 2000 characters. */
  errorMessage?: string | null;
  workerId?: string | null;
  durationMs?: number | null;
  /** A failure that may be retried (default true; template errors are not). */
  retryable?: boolean;
  /** Backoff before the next attempt, from the node's retry policy (default 0). */
  retryDelayMs?: number;
  /** The failure is a timeout: also writes node_timeout. */
  timedOut?: boolean;
}

/** A dag_task_results row read as JSON (row_to_json): timestamps arrive as strings. */
const TaskResultJson = taskResultsTable.columns.extend({ received_at: z.coerce.date() });

function parseResultJson(v: unknown): TaskResultRow {
  return TaskResultJson.parse(v);
}

const RESULT_COLUMNS: RecordColumns = [
  ['ord', 'int'],
  ['task_id', 'text'],
  ['job_id', 'text'],
  ['node_id', 'text'],
  ['attempt', 'int'],
  ['status', 'text'],
  ['output', 'jsonb'],
  ['error_message', 'text'],
  ['worker_id', 'text'],
  ['duration_ms', 'int'],
  ['retryable', 'boolean'],
  ['retry_delay_ms', 'bigint'],
  ['timed_out', 'boolean'],
];

/**
 * The node after an applied result, without its params and output: the caller has the output it
 * recorded, and on a fan-out's hot path the two documents were most of what the statement returned
 * (read the node with getNode for them).
 */
export type AppliedNode = Omit<NodeRow, 'input_params' | 'output'>;

/** The columns of the updated row (alias u) that an applied result returns, built once. */
const APPLIED_COLUMNS = sql.join(
  nodeStatesTable.columnNames
    .filter((c) => c !== 'input_params' && c !== 'output')
    .map((c) => sql`u.${sql.ident(c)}`),
);
const AppliedNodeModel = nodeStatesTable.columns.omit({ input_params: true, output: true });

export type TaskResultOutcome =
  /** completed → node completed; failed with retries left → node ready with attempt + 1 and retry_at; else node failed. */
  | { kind: 'applied'; outcome: 'completed' | 'retry_scheduled' | 'failed'; node: AppliedNode }
  /** The node has moved on (another attempt, or no longer in flight): recorded, not applied. */
  | { kind: 'stale'; nodeStatus: NodeStatus; currentTaskId: string | null }
  /** The job has ended (completed/failed/cancelled): recorded, not applied. */
  | { kind: 'ignored_job_terminal' }
  /** This task id was recorded before: nothing written. */
  | { kind: 'duplicate'; existing: TaskResultRow | null }
  /** No such node. Nothing written. */
  | { kind: 'not_found' };

/** Records one attempt result (see recordTaskResults). */
export async function recordTaskResult(
  db: Queryable,
  schema: string,
  input: TaskResultInput,
  opts: { sourceApp?: string } = {},
): Promise<TaskResultOutcome> {
  return (await recordTaskResults(db, schema, [input], opts))[0]!;
}

/**
 * Records many attempt results in one statement (set-based); one outcome per input, in order. Within
 * a batch a repeated task id is a duplicate of its first occurrence. Retries: a failed result with
 * `retryable` (default) and attempt - first_attempt < max_retries moves the node to ready with
 * attempt + 1, task_id cleared and retry_at = now + retryDelayMs (event node_retry); otherwise the node
 * fails (node_failed).
 */
export async function recordTaskResults(
  db: Queryable,
  schema: string,
  inputs: TaskResultInput[],
  opts: { sourceApp?: string } = {},
): Promise<TaskResultOutcome[]> {
  if (inputs.length === 0) return [];
  if (opts.sourceApp !== undefined) validateValues(jobEventsTable, { source_app: opts.sourceApp });
  const out: Array<TaskResultOutcome | undefined> = new Array(inputs.length);
  const firstIndex = new Map<string, number>();
  const rows: Array<Record<string, unknown>> = [];
  inputs.forEach((r, i) => {
    const label = `results[${i}]`;
    if (!TaskResultStatus.safeParse(r.status).success) {
      throw new DbValidationError({
        table: 'dag_task_results',
        field: `${label}.status`,
        message: `${label}.status must be completed or failed, got ${JSON.stringify(r.status)}`,
      });
    }
    const errorMessage = r.errorMessage == null ? null : truncate(r.errorMessage, LIMITS.errorMessage);
    const durationMs =
      r.durationMs == null ? null : Math.min(Math.max(0, Math.round(r.durationMs)), 2_147_483_647);
    validateValues(
      taskResultsTable,
      {
        task_id: r.taskId,
        job_id: r.jobId,
        node_id: r.nodeId,
        attempt: r.attempt,
        error_message: errorMessage,
        worker_id: r.workerId ?? null,
        duration_ms: durationMs,
      },
      label,
    );
    if (r.attempt < 0) {
      throw new DbValidationError({
        table: 'dag_task_results',
        field: `${label}.attempt`,
        message: `${label}.attempt must be ≥ 0`,
      });
    }
    const delay = r.retryDelayMs ?? 0;
    if (!Number.isFinite(delay) || delay < 0) {
      throw new DbValidationError({
        table: 'dag_task_results',
        field: `${label}.retryDelayMs`,
        message: `${label}.retryDelayMs must be ≥ 0`,
      });
    }
    const seen = firstIndex.get(r.taskId);
    if (seen !== undefined) {
      out[i] = { kind: 'duplicate', existing: null };
      return;
    }
    firstIndex.set(r.taskId, i);
    rows.push({
      ord: i,
      task_id: r.taskId,
      job_id: r.jobId,
      node_id: r.nodeId,
      attempt: r.attempt,
      status: r.status,
      output: r.output ?? null,
      error_message: errorMessage,
      worker_id: r.workerId ?? null,
      duration_ms: durationMs,
      retryable: r.retryable ?? true,
      retry_delay_ms: Math.round(delay),
      timed_out: r.timedOut ?? false,
    });
  });
  rows.sort(byKey);
  const t = schemaTables(schema);
  const ty = t.type;
  const r = await query(
    db,
    sql`WITH x AS (${recordSource(RESULT_COLUMNS, rows, 'results')}
    ), nd AS (
      -- Rows are locked in input order (sorted by key), so concurrent batches cannot deadlock.
      SELECT x.ord, l.* FROM x CROSS JOIN LATERAL (
        SELECT n.status AS node_status, n.task_id AS node_task_id, n.attempt AS node_attempt,
               n.first_attempt, n.max_retries, j.status AS job_status
        FROM ${t.nodes} n JOIN ${t.jobs} j ON j.job_id = n.job_id
        WHERE n.job_id = x.job_id AND n.node_id = x.node_id
        FOR UPDATE OF n
      ) l
    ), d AS (
      SELECT x.*, nd.node_status, nd.node_task_id,
        CASE WHEN nd.ord IS NULL THEN 'not_found'
             WHEN nd.job_status IN ('completed', 'failed', 'cancelled') THEN 'ignored_job_terminal'
             WHEN nd.node_task_id IS DISTINCT FROM x.task_id OR nd.node_status NOT IN ('dispatched', 'running') THEN 'stale'
             ELSE 'applied' END AS disposition,
        CASE WHEN x.status = 'completed' THEN 'completed'
             WHEN x.retryable AND nd.node_attempt - nd.first_attempt < nd.max_retries THEN 'ready'
             ELSE 'failed' END AS new_status
      FROM x LEFT JOIN nd ON nd.ord = x.ord
    ), ins AS (
      INSERT INTO ${t.results} (task_id, job_id, node_id, attempt, status, output, error_message, worker_id, duration_ms, disposition)
      SELECT task_id, job_id, node_id, attempt, status::${ty('task_result_status')}, output, error_message, worker_id,
             duration_ms, disposition::${ty('result_disposition')}
      FROM d WHERE disposition <> 'not_found'
      ON CONFLICT (task_id) DO NOTHING
      RETURNING task_id
    ), upd AS (
      UPDATE ${t.nodes} n SET
        status = d.new_status::${ty('node_status')},
        version = n.version + 1,
        updated_at = now(),
        output = CASE WHEN d.new_status = 'completed' THEN d.output ELSE n.output END,
        error_message = CASE WHEN d.new_status = 'completed' THEN NULL ELSE d.error_message END,
        worker_id = CASE WHEN d.new_status = 'ready' THEN NULL ELSE coalesce(d.worker_id, n.worker_id) END,
        attempt = CASE WHEN d.new_status = 'ready' THEN n.attempt + 1 ELSE n.attempt END,
        task_id = CASE WHEN d.new_status = 'ready' THEN NULL ELSE n.task_id END,
        retry_at = CASE WHEN d.new_status = 'ready' THEN now() + d.retry_delay_ms * interval '1 millisecond' END,
        ready_at = CASE WHEN d.new_status = 'ready' THEN now() ELSE n.ready_at END,
        dispatched_at = CASE WHEN d.new_status = 'ready' THEN NULL ELSE n.dispatched_at END,
        started_at = CASE WHEN d.new_status = 'ready' THEN NULL ELSE n.started_at END,
        heartbeat_at = CASE WHEN d.new_status = 'ready' THEN NULL ELSE n.heartbeat_at END,
        deadline_at = NULL,
        completed_at = CASE WHEN d.new_status = 'ready' THEN NULL ELSE now() END
      FROM d JOIN ins ON ins.task_id = d.task_id
      WHERE d.disposition = 'applied' AND n.job_id = d.job_id AND n.node_id = d.node_id
        AND n.task_id = d.task_id AND n.status IN ('dispatched', 'running')
      RETURNING d.ord AS _uord, ${columnList(nodeStatesTable, 'n')}
    ), ev AS (
      INSERT INTO ${t.events} (job_id, node_id, task_id, event_type, event_status, event_data, error_message, duration_ms, source_app)
      SELECT d.job_id, d.node_id, d.task_id, e.type::${ty('job_event_type')}, e.status::${ty('job_event_status')},
             jsonb_strip_nulls(e.data), e.err, d.duration_ms, ${opts.sourceApp ?? null}
      FROM d JOIN ins ON ins.task_id = d.task_id
           LEFT JOIN upd u ON u._uord = d.ord
           CROSS JOIN LATERAL (VALUES
             (1, CASE WHEN d.disposition <> 'applied' THEN 'result_ignored' END, 'warning',
                 jsonb_build_object('reason', d.disposition, 'attempt', d.attempt, 'result_status', d.status,
                                    'node_status', d.node_status, 'current_task_id', d.node_task_id),
                 d.error_message),
             (2, CASE WHEN u._uord IS NOT NULL AND d.timed_out AND d.status = 'failed' THEN 'node_timeout' END, 'warning',
                 jsonb_build_object('attempt', d.attempt), d.error_message),
             (3, CASE WHEN u._uord IS NOT NULL THEN
                   CASE u.status WHEN 'completed' THEN 'node_completed' WHEN 'ready' THEN 'node_retry' ELSE 'node_failed' END END,
                 CASE u.status WHEN 'completed' THEN 'success' WHEN 'ready' THEN 'warning' ELSE 'failure' END,
                 jsonb_build_object('attempt', d.attempt, 'worker_id', d.worker_id, 'to', u.status,
                                    'next_attempt', CASE WHEN u.status = 'ready' THEN u.attempt END,
                                    'retry_at', u.retry_at, 'max_retries', u.max_retries),
                 CASE WHEN u.status = 'completed' THEN NULL ELSE d.error_message END)
           ) AS e(seq, type, status, data, err)
      WHERE e.type IS NOT NULL
      ORDER BY d.ord, e.seq
      RETURNING 1
    )
    SELECT d.ord AS _ord, d.disposition AS _disposition, (ins.task_id IS NOT NULL) AS _inserted,
           d.node_status AS _node_status, d.node_task_id AS _node_task_id,
           CASE WHEN ins.task_id IS NULL THEN
             (SELECT row_to_json(tr) FROM ${t.results} tr WHERE tr.task_id = d.task_id) END AS _existing,
           u._uord, ${APPLIED_COLUMNS}
    FROM d LEFT JOIN ins ON ins.task_id = d.task_id LEFT JOIN upd u ON u._uord = d.ord
    ORDER BY d.ord`,
    { prepare: rows.length === 1 },
  );
  for (const row of r.rows as Array<Record<string, unknown>>) {
    const i = row._ord as number;
    const disposition = row._disposition as ResultDisposition | 'not_found';
    if (disposition === 'not_found') out[i] = { kind: 'not_found' };
    else if (!row._inserted) {
      out[i] = { kind: 'duplicate', existing: row._existing ? parseResultJson(row._existing) : null };
    } else if (disposition === 'applied') {
      if (row._uord === null)
        throw new Error(
          `recordTaskResults: result ${inputs[i]!.taskId} was recorded as applied but the node did not change`,
        );
      const node = parseRowWith(nodeStatesTable, AppliedNodeModel, row) as AppliedNode;
      out[i] = {
        kind: 'applied',
        node,
        outcome:
          node.status === 'completed' ? 'completed' : node.status === 'ready' ? 'retry_scheduled' : 'failed',
      };
    } else if (disposition === 'stale') {
      out[i] = {
        kind: 'stale',
        nodeStatus: row._node_status as NodeStatus,
        currentTaskId: (row._node_task_id as string | null) ?? null,
      };
    } else out[i] = { kind: 'ignored_job_terminal' };
  }
  // A duplicate whose first delivery committed while this statement ran is not in its snapshot: read
  // those with a new statement.
  const dupIds = [
    ...new Set(out.flatMap((o, i) => (o?.kind === 'duplicate' && !o.existing ? [inputs[i]!.taskId] : []))),
  ];
  if (dupIds.length) {
    const existing = await query(db, sql`SELECT * FROM ${t.results} WHERE task_id = ANY(${dupIds}::text[])`);
    const byId = new Map(
      existing.rows.map((row) => [row.task_id as string, parseRow(taskResultsTable, row)]),
    );
    out.forEach((o, i) => {
      if (o?.kind === 'duplicate')
        out[i] = { kind: 'duplicate', existing: byId.get(inputs[i]!.taskId) ?? null };
    });
  }
  return out as TaskResultOutcome[];
}

export type TaskStartOutcome =
  | { kind: 'applied'; node: NodeRow }
  /** Already running this task (a repeated start report). */
  | { kind: 'already_running'; node: NodeRow }
  | { kind: 'stale'; current: NodeRow }
  | { kind: 'not_found' };

/** The transition of a worker beginning an attempt: dispatched → running, guarded by task id. */
export function taskStartTransition(input: {
  taskId: string;
  jobId: string;
  nodeId: string;
  workerId?: string;
  deadlineAt?: Date;
}): NodeTransition {
  return {
    jobId: input.jobId,
    nodeId: input.nodeId,
    from: ['dispatched'],
    to: 'running',
    expectedTaskId: input.taskId,
    set: {
      ...(input.workerId !== undefined ? { workerId: input.workerId } : {}),
      ...(input.deadlineAt !== undefined ? { deadlineAt: input.deadlineAt } : {}),
    },
    event: { data: { worker_id: input.workerId ?? null } },
  };
}

/** A worker began the attempt: dispatched → running (node_started), guarded by task id. */
export async function markTaskStarted(
  db: Queryable,
  schema: string,
  input: { taskId: string; jobId: string; nodeId: string; workerId?: string; deadlineAt?: Date },
  opts: { sourceApp?: string } = {},
): Promise<TaskStartOutcome> {
  const r: TransitionResult = await transitionNode(db, schema, taskStartTransition(input), opts);
  if (r.kind === 'applied' || r.kind === 'not_found') return r;
  if (r.current.status === 'running' && r.current.task_id === input.taskId)
    return { kind: 'already_running', node: r.current };
  return { kind: 'stale', current: r.current };
}

/**
 * Liveness and progress of an in-flight attempt. Does not bump version (heartbeats are not state
 * changes, so they never make an orchestration's guarded transition conflict) and writes no event.
 */
export async function recordHeartbeat(
  db: Queryable,
  schema: string,
  input: { taskId: string; jobId: string; nodeId: string; progress?: unknown; workerId?: string },
): Promise<{ kind: 'applied' } | { kind: 'stale' }> {
  validateValues(nodeStatesTable, { task_id: input.taskId, worker_id: input.workerId });
  const r = await query(
    db,
    sql`UPDATE ${sql.table(schema, 'dag_node_states')} SET heartbeat_at = now(),
          progress = ${input.progress !== undefined ? sql.json(input.progress, 'progress') : sql`progress`},
          worker_id = coalesce(${input.workerId ?? null}, worker_id)
        WHERE job_id = ${input.jobId} AND node_id = ${input.nodeId} AND task_id = ${input.taskId}
          AND status IN ('dispatched', 'running')`,
    { prepare: true },
  );
  return r.rowCount ? { kind: 'applied' } : { kind: 'stale' };
}

/** Every recorded result of a node, oldest attempt first (for the job detail "task history"). */
export async function listTaskResults(
  db: Queryable,
  schema: string,
  input: { jobId: string; nodeId: string },
): Promise<TaskResultRow[]> {
  const r = await query(
    db,
    sql`SELECT * FROM ${sql.table(schema, 'dag_task_results')}
        WHERE job_id = ${input.jobId} AND node_id = ${input.nodeId} ORDER BY attempt, received_at`,
  );
  return r.rows.map((row) => parseRow(taskResultsTable, row));
}
