// The container worker's own reads and liveness writes, each ONE statement: what a received message
// finds (job, node, recorded result, the holder's last sign of life), the periodic heartbeat +
// cancel/supersede check for every task a worker runs, the hand-back of attempts at shutdown, a
// node's retry policy and the end of jobs (the ETL sweep). State transitions go through the other
// repositories; these statements only touch liveness columns (worker_id, heartbeat_at), which never
// bump a row's version.
import { z } from 'zod';
import { RetryPolicySchema, type RetryPolicy } from '../dag/workflowModel';
import { nodeTransitionCtes, transitionRows } from './nodeTransitionCtes';
import { query, type Queryable } from './queryable';
import { recordSource, type RecordColumns } from './recordSource';
import { sql, type SqlFragment } from './sql';
import { taskStartTransition } from './taskResultRepository';
import { DbValidationError } from './errors';

export interface Preflight {
  node: {
    status: string;
    taskId: string | null;
    attempt: number;
    firstAttempt: number;
    /** The worker holding the attempt (null: none, or handed back). */
    workerId: string | null;
    /** The holder's last heartbeat, else the attempt's start (null: neither). */
    lastSeenAt: Date | null;
    inputParams: unknown;
  } | null;
  job: { status: string; cancelRequested: boolean } | null;
  result: {
    status: 'completed' | 'failed';
    disposition: string;
    errorMessage: string | null;
    workerId: string | null;
    durationMs: number | null;
  } | null;
  /** The database's clock when this was read: heartbeats are written with it, so staleness is judged by it. */
  checkedAt: Date;
  /** True when the same statement started the attempt for this worker (asked with `start`). */
  started?: boolean;
}

/** The node's columns, selected under the names of Preflight['node']. */
const PreflightNode = z.object({
  status: z.string(),
  taskId: z.string().nullable(),
  attempt: z.number(),
  firstAttempt: z.number(),
  workerId: z.string().nullable(),
  lastSeenAt: z.coerce.date().nullable(),
  inputParams: z.unknown().transform((v) => v ?? null),
});

const PreflightRow = z.object({
  status: z.string().nullable(),
  job_status: z.string().nullable(),
  cancel_requested: z.boolean().nullable(),
  result_status: z.string().nullable(),
  result_disposition: z.string().nullable(),
  result_error: z.string().nullable(),
  result_worker: z.string().nullable(),
  result_duration_ms: z.number().nullable(),
  checked_at: z.coerce.date(),
  started: z.boolean().optional(),
});

/** Asks preflightTask to start the attempt when the message is to be run (decideMessage's `start`). */
export interface PreflightStart {
  workerId: string;
  sourceApp?: string;
  /** The message has been delivered no more often than allowed: else it is poison, and not started. */
  mayRun: boolean;
}

/** One message's preflight (preflightTasks). */
export interface PreflightInput {
  jobId: string;
  nodeId: string;
  taskId: string;
  withParams: boolean;
  start?: PreflightStart;
}

const PREFLIGHT_COLUMNS: RecordColumns = [
  ['ord', 'int'],
  ['job_id', 'text'],
  ['node_id', 'text'],
  ['task_id', 'text'],
  ['with_params', 'boolean'],
  ['may_start', 'boolean'],
];

/**
 * Everything the worker needs to decide what to do with a task message, in one round trip. With
 * `start`, the same statement also starts the attempt (dispatched → running, as markTaskStarted) when
 * what it read is exactly what makes decideMessage answer `start`: the node dispatched for this task,
 * its job neither ended nor asked to cancel, no result recorded, the message not poison. A start lost
 * to another worker at the row lock is not applied (`started` false): markTaskStarted then says so.
 */
export async function preflightTask(
  db: Queryable,
  schema: string,
  input: PreflightInput,
): Promise<Preflight> {
  return (await preflightTasks(db, schema, [input]))[0]!;
}

/**
 * preflightTask for several messages in one statement (the messages of one receive), one answer per
 * input in order. The starts of a batch share one source app; two inputs that would start the same
 * node are a validation error (a worker preflights one delivery of a node at a time).
 */
export async function preflightTasks(
  db: Queryable,
  schema: string,
  inputs: PreflightInput[],
): Promise<Preflight[]> {
  if (!inputs.length) return [];
  const nodes = sql.table(schema, 'dag_node_states');
  const starts = inputs.flatMap((i) => (i.start ? [{ ...i, start: i.start }] : []));
  const sourceApps = new Set(starts.map((i) => i.start.sourceApp));
  if (sourceApps.size > 1)
    throw new DbValidationError({
      table: 'dag_node_states',
      field: 'start.sourceApp',
      message: `preflightTasks: one statement starts attempts for one source app, got ${[...sourceApps].join(', ')}`,
    });
  const q = recordSource(
    PREFLIGHT_COLUMNS,
    inputs.map((i, ord) => ({
      ord,
      job_id: i.jobId,
      node_id: i.nodeId,
      task_id: i.taskId,
      with_params: i.withParams,
      may_start: i.start?.mayRun ?? false,
    })),
    'preflights',
  );
  const pre = sql`q AS (${q}), pre AS (
        SELECT q.ord, q.job_id AS q_job, q.node_id AS q_node, q.task_id AS q_task,
          n.status::text AS status, n.task_id AS "taskId", coalesce(n.attempt, 0) AS attempt,
          coalesce(n.first_attempt, 0) AS "firstAttempt", n.worker_id AS "workerId",
          coalesce(n.heartbeat_at, n.started_at) AS "lastSeenAt",
          CASE WHEN q.with_params THEN n.input_params END AS "inputParams",
          j.status::text AS job_status, j.cancel_requested_at IS NOT NULL AS cancel_requested,
          r.status::text AS result_status, r.disposition::text AS result_disposition,
          r.error_message AS result_error, r.worker_id AS result_worker, r.duration_ms AS result_duration_ms,
          now() AS checked_at,
          -- decideMessage's conditions for 'start', over the same row (null when a row is missing).
          n.status = 'dispatched' AND n.task_id = q.task_id
            AND j.status::text NOT IN ('completed', 'failed', 'cancelled') AND j.cancel_requested_at IS NULL
            AND (r.status IS NULL OR r.status::text NOT IN ('completed', 'failed')) AS start_ok,
          q.may_start
        FROM q
        -- One index lookup per message (LIMIT 1 keeps each a lookup): joined, a young schema's tables
        -- (small, or with no statistics yet) are read whole and hashed at every preflight.
        LEFT JOIN LATERAL (SELECT * FROM ${nodes} n
          WHERE n.job_id = q.job_id AND n.node_id = q.node_id LIMIT 1) n ON true
        LEFT JOIN LATERAL (SELECT * FROM ${sql.table(schema, 'dag_jobs')} j WHERE j.job_id = q.job_id LIMIT 1) j ON true
        LEFT JOIN LATERAL (SELECT * FROM ${sql.table(schema, 'dag_task_results')} r
          WHERE r.task_id = q.task_id LIMIT 1) r ON true
      )`;
  const statement = starts.length
    ? sql`WITH ${pre}, ${nodeTransitionCtes(
        schema,
        transitionRows(starts.map((i) => taskStartTransition({ ...i, workerId: i.start.workerId }))),
        { sourceApp: starts[0]!.start.sourceApp },
        sql`EXISTS (SELECT 1 FROM pre WHERE pre.q_job = x.job_id AND pre.q_node = x.node_id
                      AND pre.q_task = x.expected_task_id AND pre.may_start AND pre.start_ok)`,
      )}
      SELECT pre.*, EXISTS (SELECT 1 FROM upd WHERE upd.job_id = pre.q_job AND upd.node_id = pre.q_node
                              AND upd.task_id = pre.q_task) AS started
      FROM pre ORDER BY pre.ord`
    : sql`WITH ${pre} SELECT pre.* FROM pre ORDER BY pre.ord`;
  const r = await query(db, statement, { prepare: true });
  return r.rows.map((raw: Record<string, unknown>) => {
    const row = PreflightRow.parse(raw);
    return {
      node: row.status === null ? null : PreflightNode.parse(raw),
      job:
        row.job_status === null ? null : { status: row.job_status, cancelRequested: !!row.cancel_requested },
      result:
        row.result_status === 'completed' || row.result_status === 'failed'
          ? {
              status: row.result_status,
              disposition: row.result_disposition ?? 'applied',
              errorMessage: row.result_error,
              workerId: row.result_worker,
              durationMs: row.result_duration_ms,
            }
          : null,
      checkedAt: row.checked_at,
      started: row.started === true,
    };
  });
}

/**
 * The node rows of the CTE `x` (job_id, node_id, task_id) that meet `where` (over `n`), locked in key
 * order: every statement that locks several node rows locks them in this order (transitionRows,
 * recordTaskResults), so that batched statements of workers and runners cannot deadlock. A subquery
 * for `UPDATE … FROM`, which by itself would lock in whatever order its join produces.
 */
function lockedInKeyOrder(nodes: SqlFragment, where: SqlFragment): SqlFragment {
  return sql`(
        SELECT n.job_id, n.node_id FROM x
        JOIN ${nodes} n ON n.job_id = x.job_id AND n.node_id = x.node_id AND n.task_id = x.task_id
        WHERE ${where}
        ORDER BY n.job_id, n.node_id
        FOR UPDATE OF n
      )`;
}

export interface RunningRef {
  jobId: string;
  nodeId: string;
  taskId: string;
  /** Write a heartbeat for this one now. */
  beat: boolean;
}

export interface RunningStatus {
  taskId: string;
  nodeStatus: string | null;
  nodeTaskId: string | null;
  /** The worker the node names as holder (another one: the attempt was taken over). */
  holder: string | null;
  jobStatus: string | null;
  cancelRequested: boolean;
}

const POLL_COLUMNS: RecordColumns = [
  ['job_id', 'text'],
  ['node_id', 'text'],
  ['task_id', 'text'],
  ['beat', 'boolean'],
];

/**
 * For every task this worker runs: writes the heartbeat of those due (and claims them as this
 * worker's), and returns their job's status / cancel flag and whether the attempt is still the
 * node's current one. One statement for all, whatever the number of tasks.
 */
export async function pollRunningTasks(
  db: Queryable,
  schema: string,
  workerId: string,
  tasks: RunningRef[],
): Promise<RunningStatus[]> {
  if (!tasks.length) return [];
  const nodes = sql.table(schema, 'dag_node_states');
  const r = await query(
    db,
    sql`WITH x AS (${recordSource(
      POLL_COLUMNS,
      tasks.map((t) => ({ job_id: t.jobId, node_id: t.nodeId, task_id: t.taskId, beat: t.beat })),
      'running',
    )}), hb AS (
      UPDATE ${nodes} n SET heartbeat_at = now(), worker_id = ${workerId}
      FROM ${lockedInKeyOrder(
        nodes,
        sql`x.beat AND n.status IN ('dispatched', 'running') AND (n.worker_id IS NULL OR n.worker_id = ${workerId})`,
      )} l
      WHERE n.job_id = l.job_id AND n.node_id = l.node_id
      RETURNING 1
    )
    SELECT x.task_id, n.status::text AS node_status, n.task_id AS node_task_id, n.worker_id AS holder,
           j.status::text AS job_status,
           j.cancel_requested_at IS NOT NULL AS cancel_requested, (SELECT count(*) FROM hb)::int AS beats
    FROM x LEFT JOIN ${nodes} n ON n.job_id = x.job_id AND n.node_id = x.node_id
           LEFT JOIN ${sql.table(schema, 'dag_jobs')} j ON j.job_id = x.job_id`,
  );
  return r.rows.map((row) => ({
    taskId: row.task_id as string,
    nodeStatus: (row.node_status as string | null) ?? null,
    nodeTaskId: (row.node_task_id as string | null) ?? null,
    holder: (row.holder as string | null) ?? null,
    jobStatus: (row.job_status as string | null) ?? null,
    cancelRequested: !!row.cancel_requested,
  }));
}

/**
 * Takes over an attempt whose holder died or handed it back: only while the holder is still the one
 * seen (`previous`) and still stale, so that of two workers doing this at once one wins.
 */
export async function claimRunningTask(
  db: Queryable,
  schema: string,
  input: {
    jobId: string;
    nodeId: string;
    taskId: string;
    workerId: string;
    previous: string | null;
    staleAfterMs: number;
  },
): Promise<boolean> {
  const r = await query(
    db,
    sql`UPDATE ${sql.table(schema, 'dag_node_states')} SET heartbeat_at = now(), worker_id = ${input.workerId}
        WHERE job_id = ${input.jobId} AND node_id = ${input.nodeId} AND task_id = ${input.taskId}
          AND status IN ('dispatched', 'running') AND worker_id IS NOT DISTINCT FROM ${input.previous}::text
          AND (worker_id IS NULL OR coalesce(heartbeat_at, started_at) <=
               now() - ${input.staleAfterMs}::int * interval '1 millisecond')`,
  );
  return (r.rowCount ?? 0) > 0;
}

/**
 * Hands attempts back at shutdown: worker_id is cleared so that the worker that receives the
 * message next sees no live holder and resumes the attempt at once (from its checkpoint).
 */
export async function releaseRunningTasks(
  db: Queryable,
  schema: string,
  workerId: string,
  tasks: Array<{ jobId: string; nodeId: string; taskId: string }>,
): Promise<number> {
  if (!tasks.length) return 0;
  const nodes = sql.table(schema, 'dag_node_states');
  const r = await query(
    db,
    sql`WITH x AS (${recordSource(
      POLL_COLUMNS.slice(0, 3),
      tasks.map((t) => ({ job_id: t.jobId, node_id: t.nodeId, task_id: t.taskId })),
      'released',
    )})
    UPDATE ${nodes} n SET worker_id = NULL, heartbeat_at = NULL
    FROM ${lockedInKeyOrder(nodes, sql`n.status = 'running' AND n.worker_id = ${workerId}`)} l
    WHERE n.job_id = l.job_id AND n.node_id = l.node_id`,
  );
  return r.rowCount ?? 0;
}

/**
 * The retry policy of a node from the job's pinned workflow: a task node's `retry`, or for a fan-out
 * child `<fan_out>__<i>` its fan-out's `task.retry` (undefined: the default policy).
 */
export async function retryPolicyOf(
  db: Queryable,
  schema: string,
  input: { jobId: string; nodeId: string },
): Promise<RetryPolicy | undefined> {
  const defId = input.nodeId.split('__')[0]!;
  const r = await query(
    db,
    sql`SELECT workflow_snapshot->'nodes'->${defId} AS def FROM ${sql.table(schema, 'dag_jobs')}
        WHERE job_id = ${input.jobId}`,
  );
  const def = r.rows[0]?.def as { type?: string; retry?: unknown; task?: { retry?: unknown } } | null;
  if (!def) return undefined;
  // A fan_out's children: task.retry, else the node's deprecated retry (as dag/workflowModel childRetry).
  const raw = def.type === 'fan_out' ? (def.task?.retry ?? def.retry) : def.retry;
  const p = RetryPolicySchema.safeParse(raw ?? {});
  return p.success ? p.data : undefined;
}

export interface JobEnd {
  jobId: string;
  status: string;
  /** When the job reached its terminal status (null while it runs). */
  endedAt: Date | null;
}

/** Status and end time of the given jobs (those that exist), in one statement. */
export async function jobEnds(db: Queryable, schema: string, jobIds: string[]): Promise<JobEnd[]> {
  if (!jobIds.length) return [];
  const r = await query(
    db,
    sql`SELECT job_id, status::text AS status, coalesce(completed_at, updated_at) AS ended_at
        FROM ${sql.table(schema, 'dag_jobs')} WHERE job_id = ANY(${jobIds}::text[])`,
  );
  return r.rows.map((row) => ({
    jobId: row.job_id as string,
    status: row.status as string,
    endedAt: ['completed', 'failed', 'cancelled'].includes(row.status as string)
      ? new Date(row.ended_at as string)
      : null,
  }));
}
