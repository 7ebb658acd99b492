// Light attempts (issue 19): a quick handler without side effects (HandlerDefinition.light) runs in
// the activity before anything is written, and its start and its result are then recorded by ONE
// statement — node pending/ready → completed (or ready for a retry, or failed), the result row and
// the events node_ready/node_dispatched/node_started/node_completed — instead of one statement to
// start it and one to record it. The statement applies only when the attempt is still current: the
// job runs and no cancel is requested, the node waits at this attempt, and the task id has no result
// yet. Otherwise it writes nothing and reports {applied: false}; the caller then takes the normal
// path (startAttempts), which says why (a redelivery already recorded, a cancelled job, a stale
// attempt), so only the happy path is special.
import { truncate, validateValues } from './defineTable';
import { DbValidationError } from './errors';
import { query, type Queryable } from './queryable';
import { recordSource, type RecordColumns } from './recordSource';
import { sql, toJsonText } from './sql';
import { ATTEMPT_IS_CURRENT, ATTEMPT_KEY_COLUMNS, attemptCtes, CURRENT_ATTEMPT_UPDATE } from './attemptCtes';
import { schemaTables } from './schemaTables';
import { jobEventsTable, LIMITS, nodeStatesTable, taskResultsTable } from './tables';
import { byKey } from './nodeTransitionCtes';

export interface LightAttemptInput {
  jobId: string;
  nodeId: string;
  taskId: string;
  attempt: number;
  /** When the handler began (becomes dispatched_at and started_at). */
  startedAt: Date;
  /** When the handler ended (completed_at; default: the statement's time). */
  completedAt?: Date;
  /** Resolved params to keep on the node (static tasks; children got theirs at expansion). */
  inputParams?: unknown;
  handler: string;
  status: 'completed' | 'failed';
  output?: unknown;
  /** Truncated to 2000 characters. */
  errorMessage?: string | null;
  durationMs?: number | null;
  /** A failure that may be retried (default true). */
  retryable?: boolean;
  /**
   * Backoff before the next attempt by retry number (attempt − the node's first_attempt), from the
   * node's retry policy: the row's first_attempt is known only inside the statement. Beyond the end
   * the last entry applies; empty or absent: 0.
   */
  retryDelaysMs?: number[];
  timedOut?: boolean;
}

export type LightAttemptOutcome =
  | { applied: true; nodeStatus: 'completed' | 'ready' | 'failed' }
  /** Nothing written: start the attempt the normal way to learn why. */
  | { applied: false };

const COLUMNS: RecordColumns = [
  ...ATTEMPT_KEY_COLUMNS,
  ['started_at', 'timestamptz'],
  ['completed_at', 'timestamptz'],
  ['params', 'jsonb'],
  ['has_params', 'boolean'],
  ['start_data', 'jsonb'],
  ['status', 'text'],
  ['output', 'jsonb'],
  ['error_message', 'text'],
  ['duration_ms', 'int'],
  ['retryable', 'boolean'],
  ['retry_delays', 'jsonb'],
  ['timed_out', 'boolean'],
];

/** Records light attempts (start and result) in one statement; one outcome per input, in order. */
export async function recordLightAttempts(
  db: Queryable,
  schema: string,
  inputs: LightAttemptInput[],
  opts: {
    sourceApp?: string;
    /**
     * Apply only if every attempt is current (a chain that ran in memory: a node is not recorded
     * without the ones before it). Checked on the statement's snapshot.
     */
    allOrNothing?: boolean;
  } = {},
): Promise<LightAttemptOutcome[]> {
  if (!inputs.length) return [];
  if (opts.sourceApp !== undefined) validateValues(jobEventsTable, { source_app: opts.sourceApp });
  const seen = new Set<string>();
  const rows = inputs.map((r, ord) => {
    const label = `attempts[${ord}]`;
    if (seen.has(r.taskId))
      throw new DbValidationError({
        table: 'dag_task_results',
        field: `${label}.taskId`,
        message: `${label}.taskId ${r.taskId} is repeated`,
      });
    seen.add(r.taskId);
    const errorMessage = r.errorMessage == null ? null : truncate(r.errorMessage, LIMITS.errorMessage);
    const durationMs =
      r.durationMs == null ? null : Math.min(Math.max(0, Math.round(r.durationMs)), 2_147_483_647);
    validateValues(
      nodeStatesTable,
      { job_id: r.jobId, node_id: r.nodeId, task_id: r.taskId, attempt: r.attempt },
      label,
    );
    validateValues(taskResultsTable, { error_message: errorMessage, duration_ms: durationMs }, label);
    const delays = r.retryDelaysMs ?? [];
    if (delays.some((d) => !Number.isFinite(d) || d < 0))
      throw new DbValidationError({
        table: 'dag_task_results',
        field: `${label}.retryDelaysMs`,
        message: `${label}.retryDelaysMs must be ≥ 0`,
      });
    return {
      ord,
      job_id: r.jobId,
      node_id: r.nodeId,
      task_id: r.taskId,
      attempt: r.attempt,
      started_at: r.startedAt.toISOString(),
      completed_at: r.completedAt ? r.completedAt.toISOString() : null,
      params:
        r.inputParams === undefined ? null : JSON.parse(toJsonText(r.inputParams, 'input_params') ?? 'null'),
      has_params: r.inputParams !== undefined,
      start_data: { attempt: r.attempt, handler: r.handler, queue: 'activity' },
      status: r.status,
      output: r.status === 'completed' ? (r.output ?? null) : null,
      error_message: errorMessage,
      duration_ms: durationMs,
      retryable: r.retryable ?? true,
      retry_delays: delays.map((d) => Math.round(d)),
      timed_out: r.timedOut ?? false,
    };
  });
  // Rows are locked in key order, so concurrent batches cannot deadlock.
  rows.sort(byKey);
  const t = schemaTables(schema);
  const ty = t.type;
  // The node's status after the result (as recordTaskResults decides it), from the row being updated.
  const next = sql.raw(`CASE WHEN x.status = 'completed' THEN 'completed'
    WHEN x.retryable AND x.attempt - n.first_attempt < n.max_retries THEN 'ready' ELSE 'failed' END`);
  const r = await query(
    db,
    sql`WITH ${attemptCtes(t, recordSource(COLUMNS, rows, 'attempts'))}, cur AS (
      -- The attempts that are current on the snapshot (the UPDATE checks each again on its row).
      SELECT count(*) AS n FROM x JOIN j ON j.job_id = x.job_id
        JOIN ${t.nodes} n ON n.job_id = x.job_id AND n.node_id = x.node_id
      WHERE ${ATTEMPT_IS_CURRENT}
        AND NOT EXISTS (SELECT 1 FROM ${t.results} tr WHERE tr.task_id = x.task_id)
    ), upd AS (
      UPDATE ${t.nodes} n SET
        status = (${next})::${ty('node_status')},
        task_id = CASE WHEN ${next} = 'ready' THEN NULL ELSE x.task_id END,
        attempt = CASE WHEN ${next} = 'ready' THEN x.attempt + 1 ELSE x.attempt END,
        ready_at = CASE WHEN ${next} = 'ready' THEN now() ELSE coalesce(n.ready_at, now()) END,
        dispatched_at = CASE WHEN ${next} = 'ready' THEN NULL ELSE least(x.started_at, now()) END,
        started_at = CASE WHEN ${next} = 'ready' THEN NULL ELSE least(x.started_at, now()) END,
        completed_at = CASE WHEN ${next} = 'ready' THEN NULL ELSE least(coalesce(x.completed_at, now()), now()) END,
        retry_at = CASE WHEN ${next} = 'ready' THEN now() + coalesce(
          x.retry_delays ->> (x.attempt - n.first_attempt), x.retry_delays ->> -1, '0')::bigint * interval '1 millisecond' END,
        deadline_at = NULL,
        heartbeat_at = CASE WHEN ${next} = 'ready' THEN NULL ELSE n.heartbeat_at END,
        worker_id = CASE WHEN ${next} = 'ready' THEN NULL ELSE n.worker_id END,
        output = CASE WHEN x.status = 'completed' THEN x.output ELSE n.output END,
        error_message = CASE WHEN x.status = 'completed' THEN NULL ELSE x.error_message END,
        ${CURRENT_ATTEMPT_UPDATE}
        AND NOT EXISTS (SELECT 1 FROM ${t.results} tr WHERE tr.task_id = x.task_id)
        AND (NOT ${opts.allOrNothing === true} OR (SELECT n FROM cur) = ${rows.length})
      RETURNING x.ord AS _ord, n.status::text AS new_status, n.attempt AS new_attempt, n.first_attempt,
                n.max_retries, n.retry_at
    ), ins AS (
      INSERT INTO ${t.results} (task_id, job_id, node_id, attempt, status, output, error_message, duration_ms, disposition)
      SELECT x.task_id, x.job_id, x.node_id, x.attempt, x.status::${ty('task_result_status')}, x.output,
             x.error_message, x.duration_ms, 'applied'::${ty('result_disposition')}
      FROM upd u JOIN x ON x.ord = u._ord
      ON CONFLICT (task_id) DO NOTHING
      RETURNING task_id
    ), ev AS (
      INSERT INTO ${t.events} (job_id, node_id, task_id, event_type, event_status, event_data, error_message, duration_ms, source_app)
      SELECT x.job_id, x.node_id, x.task_id, e.type::${ty('job_event_type')}, e.status::${ty('job_event_status')},
             e.data, e.err, e.duration, ${opts.sourceApp ?? null}
      FROM upd u JOIN x ON x.ord = u._ord JOIN prev p ON p.ord = u._ord
      CROSS JOIN LATERAL (VALUES
        (1, CASE WHEN p.prev_status = 'pending' AND x.attempt = u.first_attempt THEN 'node_ready' END, 'info',
            x.start_data, NULL::text, NULL::int),
        (2, 'node_dispatched', 'success', x.start_data, NULL, NULL),
        (3, 'node_started', 'info', x.start_data, NULL, NULL),
        (4, CASE WHEN x.timed_out AND x.status = 'failed' THEN 'node_timeout' END, 'warning',
            jsonb_build_object('attempt', x.attempt), x.error_message, x.duration_ms),
        (5, CASE u.new_status WHEN 'completed' THEN 'node_completed' WHEN 'ready' THEN 'node_retry' ELSE 'node_failed' END,
            CASE u.new_status WHEN 'completed' THEN 'success' WHEN 'ready' THEN 'warning' ELSE 'failure' END,
            jsonb_strip_nulls(jsonb_build_object('attempt', x.attempt, 'to', u.new_status,
              'next_attempt', CASE WHEN u.new_status = 'ready' THEN u.new_attempt END,
              'retry_at', u.retry_at, 'max_retries', u.max_retries)),
            CASE WHEN u.new_status = 'completed' THEN NULL ELSE x.error_message END, x.duration_ms)
      ) AS e(seq, type, status, data, err, duration)
      WHERE e.type IS NOT NULL
      ORDER BY u._ord, e.seq
      RETURNING 1
    )
    SELECT x.ord, u.new_status FROM x LEFT JOIN upd u ON u._ord = x.ord ORDER BY x.ord`,
    { prepare: rows.length === 1 },
  );
  const out: LightAttemptOutcome[] = inputs.map(() => ({ applied: false }));
  for (const row of r.rows as Array<{ ord: number; new_status: string | null }>) {
    if (row.new_status === 'completed' || row.new_status === 'ready' || row.new_status === 'failed')
      out[row.ord] = { applied: true, nodeStatus: row.new_status };
  }
  return out;
}
