// A guarded node transition as SQL: the rows a batch of transitions travels as (validated, in lock
// order) and the CTEs that apply them and write their events. applyNodeTransitions runs them alone;
// the container worker's preflight runs them after its read, guarded by what it read, so that looking
// at a task message and starting its attempt is one statement.
import { columnList, truncate, validateValues } from './defineTable';
import { DbError, DbValidationError } from './errors';
import { recordSource, type RecordColumns } from './recordSource';
import { sql, type SqlFragment } from './sql';
import {
  NODE_EVENT_FOR_STATUS,
  NODE_TRANSITIONS,
  NodeStatus,
  type EventStatus,
  type EventType,
  type SkipReason,
} from './statuses';
import { jobEventsTable, LIMITS, nodeStatesTable } from './tables';

/** Columns a transition may set besides status (undefined: unchanged; null: cleared). */
export interface NodeSet {
  taskId?: string | null;
  attempt?: number;
  output?: unknown;
  errorMessage?: string | null;
  skipReason?: SkipReason | null;
  inputParams?: unknown;
  retryAt?: Date | null;
  deadlineAt?: Date | null;
  workerId?: string | null;
  heartbeatAt?: Date | null;
  progress?: unknown;
}

const SET_COLUMNS = {
  taskId: 'task_id',
  attempt: 'attempt',
  output: 'output',
  errorMessage: 'error_message',
  skipReason: 'skip_reason',
  inputParams: 'input_params',
  retryAt: 'retry_at',
  deadlineAt: 'deadline_at',
  workerId: 'worker_id',
  heartbeatAt: 'heartbeat_at',
  progress: 'progress',
} as const satisfies Record<keyof NodeSet, string>;

export interface NodeEventInput {
  type?: EventType;
  status?: EventStatus;
  /** Merged over the default data ({from, to, attempt, task_id, ...}). */
  data?: Record<string, unknown>;
  errorMessage?: string | null;
  durationMs?: number | null;
}

export interface NodeTransition {
  jobId: string;
  nodeId: string;
  /** The node must be in one of these statuses. */
  from: NodeStatus[];
  to: NodeStatus;
  /** Optimistic lock: the node's version must equal this. */
  expectedVersion?: number;
  /** The node's current task_id must equal this (guards writes from an older attempt). */
  expectedTaskId?: string;
  set?: NodeSet;
  /** The event written with the transition (default node_<to>, e.g. node_ready); false: none. */
  event?: NodeEventInput | false;
}

function toRow(tr: NodeTransition, ord: number, offset: number): Record<string, unknown> {
  const label = `transitions[${ord + offset}]`;
  if (!NodeStatus.safeParse(tr.to).success) {
    throw new DbValidationError({
      table: 'dag_node_states',
      field: `${label}.to`,
      message: `${label}.to: "${tr.to}" is not a node status`,
    });
  }
  if (!Array.isArray(tr.from) || tr.from.length === 0) {
    throw new DbValidationError({
      table: 'dag_node_states',
      field: `${label}.from`,
      message: `${label}.from: give at least one expected status`,
    });
  }
  for (const f of tr.from) {
    if (!NodeStatus.safeParse(f).success) {
      throw new DbValidationError({
        table: 'dag_node_states',
        field: `${label}.from`,
        message: `${label}.from: "${f}" is not a node status`,
      });
    }
    if (!NODE_TRANSITIONS[f].includes(tr.to)) {
      throw new DbError(
        'INVALID_TRANSITION',
        `${label}: node ${tr.nodeId} cannot go from ${f} to ${tr.to}.`,
        {
          jobId: tr.jobId,
          nodeId: tr.nodeId,
        },
      );
    }
  }
  const set = tr.set ?? {};
  const setCols: string[] = [];
  const row: Record<string, unknown> = {
    ord,
    job_id: tr.jobId,
    node_id: tr.nodeId,
    from_statuses: tr.from,
    to_status: tr.to,
    expected_version: tr.expectedVersion ?? null,
    expected_task_id: tr.expectedTaskId ?? null,
  };
  for (const [k, colName] of Object.entries(SET_COLUMNS) as Array<[keyof NodeSet, string]>) {
    let v = set[k];
    if (v === undefined) continue;
    if (k === 'errorMessage' && typeof v === 'string') v = truncate(v, LIMITS.errorMessage);
    setCols.push(colName);
    row[colName] = v instanceof Date ? v.toISOString() : v;
  }
  validateValues(
    nodeStatesTable,
    {
      job_id: tr.jobId,
      node_id: tr.nodeId,
      task_id: set.taskId,
      attempt: set.attempt,
      error_message: row.error_message,
      skip_reason: set.skipReason,
      worker_id: set.workerId,
      retry_at: set.retryAt,
      deadline_at: set.deadlineAt,
      heartbeat_at: set.heartbeatAt,
      version: tr.expectedVersion,
    },
    label,
  );
  if (tr.expectedTaskId !== undefined)
    validateValues(nodeStatesTable, { task_id: tr.expectedTaskId }, `${label}.expectedTaskId`);
  row.set_cols = setCols;
  const dflt = NODE_EVENT_FOR_STATUS[tr.to];
  if (tr.event === false) {
    row.ev = false;
  } else {
    const ev = tr.event ?? {};
    row.ev = true;
    row.ev_type = ev.type ?? dflt.type;
    row.ev_status = ev.status ?? dflt.status;
    row.ev_data = ev.data ?? {};
    row.ev_error =
      ev.errorMessage != null
        ? truncate(ev.errorMessage, LIMITS.errorMessage)
        : typeof row.error_message === 'string' &&
            (tr.to === 'failed' || tr.to === 'ready' || tr.to === 'pending')
          ? row.error_message
          : null;
    row.ev_duration_ms = ev.durationMs ?? null;
  }
  return row;
}

const TRANSITION_COLUMNS: RecordColumns = [
  ['ord', 'int'],
  ['job_id', 'text'],
  ['node_id', 'text'],
  ['from_statuses', 'text[]'],
  ['to_status', 'text'],
  ['expected_version', 'int'],
  ['expected_task_id', 'text'],
  ['set_cols', 'text[]'],
  ['task_id', 'text'],
  ['attempt', 'int'],
  ['output', 'jsonb'],
  ['error_message', 'text'],
  ['skip_reason', 'text'],
  ['input_params', 'jsonb'],
  ['retry_at', 'timestamptz'],
  ['deadline_at', 'timestamptz'],
  ['worker_id', 'text'],
  ['heartbeat_at', 'timestamptz'],
  ['progress', 'jsonb'],
  ['ev', 'boolean'],
  ['ev_type', 'text'],
  ['ev_status', 'text'],
  ['ev_data', 'jsonb'],
  ['ev_error', 'text'],
  ['ev_duration_ms', 'int'],
];

/** Lock order: by (job_id, node_id) in code-unit order, the same in every set-based statement. */
export function byKey(a: Record<string, unknown>, b: Record<string, unknown>): number {
  const ja = a.job_id as string;
  const jb = b.job_id as string;
  if (ja !== jb) return ja < jb ? -1 : 1;
  const na = a.node_id as string;
  const nb = b.node_id as string;
  return na < nb ? -1 : na > nb ? 1 : 0;
}

/** A batch's rows, validated and sorted in lock order (`offset`: the first one's index, for messages). */
export function transitionRows(transitions: NodeTransition[], offset = 0): Array<Record<string, unknown>> {
  const seen = new Set<string>();
  const rows = transitions.map((tr, i) => {
    const key = `${tr.jobId}\u0000${tr.nodeId}`;
    if (seen.has(key)) {
      throw new DbValidationError({
        table: 'dag_node_states',
        field: `transitions[${i + offset}]`,
        message: `transitions[${i + offset}]: node ${tr.nodeId} of job ${tr.jobId} appears twice in one batch; combine the changes into one transition.`,
      });
    }
    seen.add(key);
    return toRow(tr, i, offset);
  });
  return rows.sort(byKey);
}

/**
 * The CTEs x (the rows), locked, upd (the updated rows, with `_ord`: the input index) and ev, without
 * the leading WITH. `guard`: a further condition every row must meet to apply (e.g. over an earlier CTE).
 */
export function nodeTransitionCtes(
  schema: string,
  rows: Array<Record<string, unknown>>,
  opts: { sourceApp?: string },
  guard?: SqlFragment,
): SqlFragment {
  if (opts.sourceApp !== undefined) validateValues(jobEventsTable, { source_app: opts.sourceApp });
  const nodes = sql.table(schema, 'dag_node_states');
  const events = sql.table(schema, 'dag_job_events');
  const ty = (n: string) => sql.ident(schema, n);
  const setOr = (c: string, expr: ReturnType<typeof sql>) =>
    sql`CASE WHEN ${sql.literal(c)} = ANY(x.set_cols) THEN x.${sql.ident(c)} ELSE ${expr} END`;
  const newAttempt = setOr('attempt', sql`n.attempt`);
  return sql`x AS (${recordSource(TRANSITION_COLUMNS, rows, 'transitions')}    ), locked AS (
      -- Rows are locked in input order (sorted by key), so concurrent batches cannot deadlock.
      SELECT x.ord, l.job_id, l.node_id, l.prev_status
      FROM x CROSS JOIN LATERAL (
        SELECT n.job_id, n.node_id, n.status AS prev_status FROM ${nodes} n
        WHERE n.job_id = x.job_id AND n.node_id = x.node_id
          AND n.status::text = ANY(x.from_statuses)
          AND (x.expected_version IS NULL OR n.version = x.expected_version)
          AND (x.expected_task_id IS NULL OR n.task_id = x.expected_task_id)
          ${guard ? sql`AND ${guard}` : sql.empty}
        FOR UPDATE OF n
      ) l
    ), upd AS (
      UPDATE ${nodes} n SET
        status = x.to_status::${ty('node_status')},
        version = n.version + 1,
        updated_at = now(),
        attempt = ${newAttempt},
        task_id = ${setOr(
          'task_id',
          sql`CASE WHEN x.to_status = 'dispatched' THEN n.job_id || '_' || n.node_id || '_' || ${newAttempt}
                   WHEN x.to_status IN ('pending', 'ready') THEN NULL ELSE n.task_id END`,
        )},
        output = ${setOr('output', sql`CASE WHEN x.to_status = 'pending' THEN NULL ELSE n.output END`)},
        error_message = ${setOr('error_message', sql`CASE WHEN x.to_status IN ('pending', 'completed') THEN NULL ELSE n.error_message END`)},
        skip_reason = CASE WHEN x.to_status <> 'skipped' THEN NULL
                           WHEN 'skip_reason' = ANY(x.set_cols) THEN x.skip_reason::${ty('skip_reason')}
                           ELSE n.skip_reason END,
        input_params = ${setOr('input_params', sql`n.input_params`)},
        retry_at = ${setOr('retry_at', sql`CASE WHEN x.to_status IN ('dispatched', 'running') THEN NULL ELSE n.retry_at END`)},
        deadline_at = ${setOr('deadline_at', sql`CASE WHEN x.to_status IN ('dispatched', 'running') THEN n.deadline_at ELSE NULL END`)},
        worker_id = ${setOr('worker_id', sql`CASE WHEN x.to_status IN ('pending', 'ready', 'dispatched') THEN NULL ELSE n.worker_id END`)},
        heartbeat_at = ${setOr('heartbeat_at', sql`CASE WHEN x.to_status IN ('pending', 'ready', 'dispatched') THEN NULL ELSE n.heartbeat_at END`)},
        progress = ${setOr('progress', sql`CASE WHEN x.to_status IN ('pending', 'ready', 'dispatched') THEN NULL ELSE n.progress END`)},
        ready_at = CASE WHEN x.to_status = 'ready' THEN now() WHEN x.to_status = 'pending' THEN NULL ELSE n.ready_at END,
        dispatched_at = CASE WHEN x.to_status = 'dispatched' THEN now()
                             WHEN x.to_status IN ('pending', 'ready') THEN NULL ELSE n.dispatched_at END,
        started_at = CASE WHEN x.to_status = 'running' THEN now()
                          WHEN x.to_status IN ('pending', 'ready', 'dispatched') THEN NULL ELSE n.started_at END,
        completed_at = CASE WHEN x.to_status IN ('completed', 'failed', 'skipped') THEN now() ELSE NULL END
      FROM x, locked l
      WHERE l.ord = x.ord AND n.job_id = l.job_id AND n.node_id = l.node_id
      RETURNING x.ord AS _ord, ${columnList(nodeStatesTable, 'n')}
    ), ev AS (
      INSERT INTO ${events} (job_id, node_id, task_id, event_type, event_status, event_data, error_message, duration_ms, source_app)
      SELECT u.job_id, u.node_id, u.task_id, x.ev_type::${ty('job_event_type')}, x.ev_status::${ty('job_event_status')},
             jsonb_strip_nulls(jsonb_build_object('from', l.prev_status, 'to', u.status, 'attempt', u.attempt,
               'version', u.version, 'skip_reason', u.skip_reason, 'retry_at', u.retry_at)) || coalesce(x.ev_data, '{}'),
             x.ev_error, x.ev_duration_ms, ${opts.sourceApp ?? null}
      FROM upd u JOIN x ON x.ord = u._ord JOIN locked l ON l.ord = u._ord
      WHERE x.ev
      ORDER BY u._ord
      RETURNING 1
    )`;
}
