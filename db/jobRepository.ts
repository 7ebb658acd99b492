// Jobs: create (with node rows and the job_created event, idempotent by key), read, list (keyset),
// guarded status changes, cancel requests and reruns. Expected outcomes are values; only
// infrastructure faults and invalid input throw.
import { z } from 'zod';
import { decodeCursor, encodeCursor, pageLimit, zCursorTimestamp, type Page } from './cursor';
import { parseRow, truncate, validateValues } from './defineTable';
import { DbError, DbValidationError } from './errors';
import { newJobId } from './ids';
import { query, withTransaction, type Queryable } from './queryable';
import { sql, toJsonText, type SqlFragment } from './sql';
import {
  JOB_EVENT_FOR_STATUS,
  JOB_TRANSITIONS,
  JobStatus,
  NODE_STATUSES,
  type NodeStatus,
  type NodeType,
  TERMINAL_JOB_STATUSES,
  type EventStatus,
  type EventType,
} from './statuses';
import { jobEventsTable, jobsTable, LIMITS, nodeStatesTable, type JobRow } from './tables';
import { syncVersionWithJob, systemActor, versionFollowsJob } from './versionFollowsJob';

const T = (schema: string) => ({
  jobs: sql.table(schema, 'dag_jobs'),
  nodes: sql.table(schema, 'dag_node_states'),
  events: sql.table(schema, 'dag_job_events'),
  type: (name: string) => sql.ident(schema, name),
});

export interface NodeSpec {
  nodeId: string;
  nodeType: NodeType;
  /** Retries after the first attempt (YAML retry.max_attempts, default 3). */
  maxRetries?: number;
  /** Initial status (default pending). */
  status?: Extract<NodeStatus, 'pending' | 'ready'>;
  inputParams?: unknown;
}

export interface CreateJobInput {
  /** Default: a new sortable random id (newJobId). */
  jobId?: string;
  workflowId: string;
  workflowVersion: number;
  workflowSnapshot: Record<string, unknown>;
  inputParams?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  idempotencyKey?: string | null;
  correlationId?: string | null;
  submittedBy?: string | null;
  /** The geospatial asset whose version the job processes. */
  assetId?: string | null;
  nodes: NodeSpec[];
  /** Written to the job_created event's source_app. */
  sourceApp?: string;
}

export type CreateJobResult = { created: true; job: JobRow } | { created: false; job: JobRow };

/**
 * The CTEs `j` (the job row, RETURNING *), `n` (its nodes) and `e` (its job_created event) that
 * create a job, for createJob and for statements that create a job with other rows (a platform
 * submission creates the job and the asset version pointing at it in one statement). `when` (SQL)
 * makes the insert conditional. Validates the input first.
 */
export function jobInsertCtes(
  schema: string,
  input: CreateJobInput,
  when: SqlFragment = sql`TRUE`,
): { jobId: string; ctes: SqlFragment } {
  const jobId = input.jobId ?? newJobId();
  validateValues(jobsTable, {
    job_id: jobId,
    workflow_id: input.workflowId,
    workflow_version: input.workflowVersion,
    idempotency_key: input.idempotencyKey ?? null,
    correlation_id: input.correlationId ?? null,
    submitted_by: input.submittedBy ?? null,
    asset_id: input.assetId ?? null,
  });
  if (input.sourceApp !== undefined) validateSourceApp(input.sourceApp);
  const seen = new Set<string>();
  const nodes = input.nodes.map((n, i) => {
    validateValues(
      nodeStatesTable,
      {
        node_id: n.nodeId,
        node_type: n.nodeType,
        max_retries: n.maxRetries ?? 3,
        status: n.status ?? 'pending',
      },
      `nodes[${i}]`,
    );
    if ((n.maxRetries ?? 3) < 0) {
      throw new DbValidationError({
        table: 'dag_node_states',
        field: `nodes[${i}].max_retries`,
        message: `nodes[${i}].max_retries must be ≥ 0`,
      });
    }
    if (seen.has(n.nodeId)) {
      throw new DbValidationError({
        table: 'dag_node_states',
        field: `nodes[${i}].node_id`,
        message: `nodes: node id "${n.nodeId}" appears twice`,
      });
    }
    seen.add(n.nodeId);
    return {
      node_id: n.nodeId,
      node_type: n.nodeType,
      status: n.status ?? 'pending',
      max_retries: n.maxRetries ?? 3,
      input_params: n.inputParams ?? null,
    };
  });
  const t = T(schema);
  const ctes = sql`j AS (
      INSERT INTO ${t.jobs} (job_id, workflow_id, workflow_version, workflow_snapshot, input_params, metadata,
                             correlation_id, idempotency_key, submitted_by, asset_id)
      SELECT ${jobId}::text, ${input.workflowId}::text, ${input.workflowVersion}::int,
             ${sql.json(input.workflowSnapshot, 'workflow_snapshot')},
             ${sql.json(input.inputParams ?? {}, 'input_params')}, ${sql.json(input.metadata ?? {}, 'metadata')},
             ${input.correlationId ?? null}::text, ${input.idempotencyKey ?? null}::text,
             ${input.submittedBy ?? null}::text, ${input.assetId ?? null}::text
      WHERE ${when}
      ON CONFLICT DO NOTHING
      RETURNING *
    ), n AS (
      INSERT INTO ${t.nodes} (job_id, node_id, node_type, status, max_retries, input_params, ready_at)
      SELECT j.job_id, x.node_id, x.node_type::${t.type('node_type')}, x.status::${t.type('node_status')},
             x.max_retries, x.input_params, CASE WHEN x.status = 'ready' THEN now() END
      FROM j, jsonb_to_recordset(${sql.json(nodes, 'nodes')})
           AS x(node_id text, node_type text, status text, max_retries int, input_params jsonb)
      RETURNING 1
    ), e AS (
      INSERT INTO ${t.events} (job_id, event_type, event_status, event_data, source_app)
      SELECT j.job_id, 'job_created', 'info',
             jsonb_build_object('workflow_id', j.workflow_id, 'workflow_version', j.workflow_version,
                                'node_count', ${nodes.length}::int, 'idempotency_key', j.idempotency_key,
                                'correlation_id', j.correlation_id),
             ${input.sourceApp ?? null}
      FROM j
      RETURNING 1
    )`;
  return { jobId, ctes };
}

/**
 * Creates the job, its node rows and the job_created event in one statement (atomic). With an
 * idempotency key, a second submission, even a concurrent one, returns the existing job
 * ({created: false}) and writes nothing. The caller decides whether a repeat with different
 * parameters is an error (compare job.workflow_id / input_params).
 */
export async function createJob(
  db: Queryable,
  schema: string,
  input: CreateJobInput,
): Promise<CreateJobResult> {
  const { jobId, ctes } = jobInsertCtes(schema, input);
  const t = T(schema);
  const r = await query(db, sql`WITH ${ctes} SELECT * FROM j`);
  if (r.rows[0]) return { created: true, job: parseRow(jobsTable, r.rows[0]) };

  // Nothing inserted: the key (or the explicit job id) exists. The other insert has committed by now
  // (ON CONFLICT waited for it), and this new statement sees it.
  if (input.idempotencyKey) {
    const byKey = await query(
      db,
      sql`SELECT * FROM ${t.jobs} WHERE idempotency_key = ${input.idempotencyKey}`,
    );
    if (byKey.rows[0]) return { created: false, job: parseRow(jobsTable, byKey.rows[0]) };
  } else if (input.jobId !== undefined) {
    // An explicit job id acts as its own idempotency key.
    const byId = await query(db, sql`SELECT * FROM ${t.jobs} WHERE job_id = ${jobId}`);
    if (byId.rows[0]) return { created: false, job: parseRow(jobsTable, byId.rows[0]) };
  }
  throw new DbError(
    'CONFLICT',
    `createJob: job id "${jobId}" already exists` +
      (input.idempotencyKey ? ` with a different idempotency key than "${input.idempotencyKey}"` : '') +
      '. Use a new job id or the same idempotency key.',
    { jobId },
  );
}

function validateSourceApp(sourceApp: string): void {
  validateValues(jobEventsTable, { source_app: sourceApp });
}

export async function getJob(db: Queryable, schema: string, jobId: string): Promise<JobRow | null> {
  const r = await query(db, sql`SELECT * FROM ${T(schema).jobs} WHERE job_id = ${jobId}`);
  return r.rows[0] ? parseRow(jobsTable, r.rows[0]) : null;
}

/** A job as listed: without its large columns (snapshot, inputs, result); the detail has them. */
export const JobSummaryRow = jobsTable.columns.omit({
  workflow_snapshot: true,
  input_params: true,
  result_data: true,
});
const SUMMARY_COLUMNS = jobsTable.columnNames.filter(
  (c) => c !== 'workflow_snapshot' && c !== 'input_params' && c !== 'result_data',
);
export type JobSummaryRow = z.output<typeof JobSummaryRow>;

export interface ListJobsInput {
  status?: JobStatus | JobStatus[];
  workflowId?: string;
  correlationId?: string;
  /** Created at or after this instant. */
  createdAfter?: Date;
  /** Created before this instant. */
  createdBefore?: Date;
  /** 1..500, default 50. */
  limit?: number;
  /** The nextCursor of the previous page (next_cursor over HTTP). */
  cursor?: string;
}

const JobCursor = z.object({ t: zCursorTimestamp, id: z.string().max(LIMITS.jobId) });

/** Jobs newest first (created_at DESC, job_id DESC), keyset-paginated, with optional filters. */
export async function listJobs(
  db: Queryable,
  schema: string,
  input: ListJobsInput = {},
): Promise<Page<JobSummaryRow>> {
  const limit = pageLimit(input.limit, 50, 500);
  const where = [sql`TRUE`];
  if (input.status !== undefined) {
    const statuses = Array.isArray(input.status) ? input.status : [input.status];
    for (const s of statuses) {
      if (!JobStatus.safeParse(s).success) {
        throw new DbValidationError({
          field: 'status',
          message: `status: "${s}" is not one of ${JobStatus.options.join(', ')}`,
        });
      }
    }
    where.push(sql`status = ANY(${statuses}::${T(schema).type('job_status')}[])`);
  }
  if (input.workflowId !== undefined) where.push(sql`workflow_id = ${input.workflowId}`);
  if (input.correlationId !== undefined) where.push(sql`correlation_id = ${input.correlationId}`);
  if (input.createdAfter !== undefined) where.push(sql`created_at >= ${input.createdAfter}`);
  if (input.createdBefore !== undefined) where.push(sql`created_at < ${input.createdBefore}`);
  if (input.cursor !== undefined) {
    const c = decodeCursor(input.cursor, JobCursor, 'job list');
    where.push(sql`(created_at, job_id) < (${c.t}::timestamptz, ${c.id})`);
  }
  const cols = sql.join(SUMMARY_COLUMNS.map((c) => sql.ident(c)));
  const r = await query(
    db,
    sql`SELECT ${cols}, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS _cursor_t
        FROM ${T(schema).jobs} WHERE ${sql.join(where, ' AND ')}
        ORDER BY created_at DESC, job_id DESC LIMIT ${limit + 1}`,
  );
  const rows = r.rows.slice(0, limit);
  const last = rows[rows.length - 1];
  return {
    items: rows.map((row) => parseSummary(row)),
    nextCursor: r.rows.length > limit && last ? encodeCursor({ t: last._cursor_t, id: last.job_id }) : null,
  };
}

export function parseSummary(row: unknown): JobSummaryRow {
  const r = JobSummaryRow.safeParse(row);
  if (!r.success)
    throw new DbError('DATABASE', `A dag_jobs row does not match its model: ${r.error.issues[0]?.message}`);
  return r.data;
}

export interface EventOverride {
  type?: EventType;
  status?: EventStatus;
  data?: Record<string, unknown>;
  errorMessage?: string | null;
  durationMs?: number | null;
}

export interface SetJobStatusInput {
  jobId: string;
  /** The statuses the job must be in for the change to apply. */
  from: JobStatus[];
  to: JobStatus;
  expectedVersion?: number;
  resultData?: unknown;
  errorMessage?: string | null;
  /** Merged into metadata (jsonb ||). */
  metadata?: Record<string, unknown>;
  /** The event written with the change (default job_started/completed/failed/cancelled); false: none. */
  event?: EventOverride | false;
  sourceApp?: string;
}

export type JobChangeResult =
  { kind: 'applied'; job: JobRow } | { kind: 'conflict'; current: JobRow } | { kind: 'not_found' };

/**
 * Guarded status change: applies only when the job is in one of `from` (and at `expectedVersion`, when
 * given); writes the event in the same statement. started_at is set on the first move to running,
 * completed_at on a terminal status. A lost race is {kind: 'conflict', current}. The job's asset
 * version (if any) follows in the same statement (versionFollowsJob).
 */
export async function setJobStatus(
  db: Queryable,
  schema: string,
  input: SetJobStatusInput,
): Promise<JobChangeResult> {
  for (const f of input.from) {
    if (!JOB_TRANSITIONS[f]?.includes(input.to)) {
      throw new DbError('INVALID_TRANSITION', `setJobStatus: a job cannot go from ${f} to ${input.to}.`, {
        jobId: input.jobId,
      });
    }
  }
  if (input.sourceApp !== undefined) validateSourceApp(input.sourceApp);
  const errorMessage =
    input.errorMessage == null ? input.errorMessage : truncate(input.errorMessage, LIMITS.errorMessage);
  validateValues(jobsTable, { job_id: input.jobId, error_message: errorMessage });
  const t = T(schema);
  const dflt = JOB_EVENT_FOR_STATUS[input.to];
  const ev = input.event === false ? null : { ...dflt, ...(input.event ?? {}) };
  const terminal = TERMINAL_JOB_STATUSES.includes(input.to);
  const eventData = ev ? toJsonText(ev.data ?? {}, 'event.data') : null;
  const eventError =
    ev?.errorMessage != null ? truncate(ev.errorMessage, LIMITS.errorMessage) : (errorMessage ?? null);
  const r = await query(
    db,
    sql`WITH prev AS (
      SELECT job_id, status FROM ${t.jobs}
      WHERE job_id = ${input.jobId} AND status = ANY(${input.from}::${t.type('job_status')}[])
      ${input.expectedVersion !== undefined ? sql`AND version = ${input.expectedVersion}` : sql.empty}
      FOR UPDATE
    ), upd AS (
      UPDATE ${t.jobs} j SET
        status = ${input.to}::${t.type('job_status')},
        version = j.version + 1,
        updated_at = now(),
        started_at = ${input.to === 'running' ? sql`coalesce(j.started_at, now())` : sql`j.started_at`},
        completed_at = ${terminal ? sql`now()` : sql`NULL`},
        result_data = ${input.resultData !== undefined ? sql.json(input.resultData, 'result_data') : sql`j.result_data`},
        error_message = ${errorMessage !== undefined ? sql`${errorMessage}::text` : sql`j.error_message`},
        metadata = ${input.metadata ? sql`j.metadata || ${sql.json(input.metadata, 'metadata')}` : sql`j.metadata`}
      FROM prev WHERE j.job_id = prev.job_id
      RETURNING j.*, prev.status AS _from
    ), ev AS (
      INSERT INTO ${t.events} (job_id, event_type, event_status, event_data, error_message, duration_ms, source_app)
      SELECT upd.job_id, ${ev?.type ?? null}::${t.type('job_event_type')}, ${ev?.status ?? null}::${t.type('job_event_status')},
             jsonb_build_object('from', upd._from, 'to', upd.status, 'version', upd.version) || ${eventData}::jsonb,
             ${eventError}, ${ev?.durationMs ?? null}::int, ${input.sourceApp ?? null}
      FROM upd WHERE ${ev !== null}
      RETURNING 1
    ) ${versionFollowsJob(schema, 'upd', { actor: systemActor(input.sourceApp) })}
    SELECT * FROM upd`,
  );
  if (r.rows[0]) return { kind: 'applied', job: parseRow(jobsTable, r.rows[0]) };
  const cur = await getJob(db, schema, input.jobId);
  return cur ? { kind: 'conflict', current: cur } : { kind: 'not_found' };
}

export type CancelResult =
  | { kind: 'requested'; job: JobRow }
  | { kind: 'already_requested'; job: JobRow }
  | { kind: 'terminal'; job: JobRow }
  | { kind: 'not_found' };

/**
 * Records that a cancel was asked for (cancel_requested_at) and writes job_cancel_requested. The
 * orchestration applies it (stops dispatching, tells in-flight tasks, sets the job cancelled).
 */
export async function requestCancel(
  db: Queryable,
  schema: string,
  input: { jobId: string; reason?: string; requestedBy?: string; sourceApp?: string },
): Promise<CancelResult> {
  const t = T(schema);
  const data = toJsonText(
    { reason: input.reason ?? null, requested_by: input.requestedBy ?? null },
    'event.data',
  );
  const r = await query(
    db,
    sql`WITH upd AS (
      UPDATE ${t.jobs} SET cancel_requested_at = now(), version = version + 1, updated_at = now()
      WHERE job_id = ${input.jobId} AND cancel_requested_at IS NULL
        AND status IN ('pending', 'running')
      RETURNING *
    ), ev AS (
      INSERT INTO ${t.events} (job_id, event_type, event_status, event_data, source_app)
      SELECT job_id, 'job_cancel_requested', 'warning', ${data}::jsonb, ${input.sourceApp ?? null} FROM upd
      RETURNING 1
    )
    SELECT * FROM upd`,
  );
  if (r.rows[0]) return { kind: 'requested', job: parseRow(jobsTable, r.rows[0]) };
  const cur = await getJob(db, schema, input.jobId);
  if (!cur) return { kind: 'not_found' };
  if (TERMINAL_JOB_STATUSES.includes(cur.status)) return { kind: 'terminal', job: cur };
  return { kind: 'already_requested', job: cur };
}

export type NodeSummary = Record<NodeStatus, number> & { total: number };

/** Node counts by status for one job (all statuses present, zeros included). */
export async function nodeSummary(db: Queryable, schema: string, jobId: string): Promise<NodeSummary> {
  const r = await query<{ status: NodeStatus; n: number }>(
    db,
    sql`SELECT status, count(*)::int AS n FROM ${T(schema).nodes} WHERE job_id = ${jobId} GROUP BY status`,
  );
  const out = Object.fromEntries(NODE_STATUSES.map((s) => [s, 0])) as NodeSummary;
  out.total = 0;
  for (const row of r.rows) {
    out[row.status] = row.n;
    out.total += row.n;
  }
  return out;
}

export type RerunResult =
  | {
      kind: 'applied';
      job: JobRow;
      /** Nodes reset to pending. */
      resetCount: number;
      /** Static (non-child) nodes reset, in node id order. */
      staticNodeIds: string[];
      /** Fan-out parent → number of its children reset. */
      childCounts: Record<string, number>;
    }
  | { kind: 'conflict'; current: JobRow }
  | { kind: 'not_found' };

/**
 * Rerun of a failed job (SPEC §2): in one transaction, failed nodes, nodes skipped with upstream_failed
 * and failed fan-out children go back to pending, and the job back to running (run_count + 1).
 * Completed nodes and their outputs are kept. A node that ran moves to a new attempt number (so task ids
 * never repeat) and gets a fresh retry budget (first_attempt = attempt). Only a failed job reruns.
 */
export async function rerunJob(
  db: Queryable,
  schema: string,
  input: { jobId: string; expectedVersion?: number; sourceApp?: string },
): Promise<RerunResult> {
  const t = T(schema);
  return withTransaction(db, async (tx) => {
    const j = await query(
      tx,
      sql`UPDATE ${t.jobs} SET status = 'running', run_count = run_count + 1, version = version + 1,
            error_message = NULL, result_data = NULL, completed_at = NULL, cancel_requested_at = NULL,
            started_at = coalesce(started_at, now()), updated_at = now()
          WHERE job_id = ${input.jobId} AND status = 'failed'
          ${input.expectedVersion !== undefined ? sql`AND version = ${input.expectedVersion}` : sql.empty}
          RETURNING *`,
    );
    if (!j.rows[0]) {
      const cur = await getJob(tx, schema, input.jobId);
      return cur ? { kind: 'conflict' as const, current: cur } : { kind: 'not_found' as const };
    }
    const job = parseRow(jobsTable, j.rows[0]);
    const n = await query<{ node_id: string; parent_node_id: string | null }>(
      tx,
      sql`WITH upd AS (
        UPDATE ${t.nodes} SET
          status = 'pending',
          attempt = CASE WHEN task_id IS NULL THEN attempt ELSE attempt + 1 END,
          first_attempt = CASE WHEN task_id IS NULL THEN attempt ELSE attempt + 1 END,
          task_id = NULL, output = NULL, error_message = NULL, skip_reason = NULL,
          input_params = CASE WHEN parent_node_id IS NULL THEN NULL ELSE input_params END,
          retry_at = NULL, deadline_at = NULL, worker_id = NULL, heartbeat_at = NULL, progress = NULL,
          ready_at = NULL, dispatched_at = NULL, started_at = NULL, completed_at = NULL,
          version = version + 1, updated_at = now()
        WHERE job_id = ${input.jobId}
          AND (status = 'failed' OR (status = 'skipped' AND skip_reason = 'upstream_failed'))
        RETURNING node_id, parent_node_id
      )
      SELECT node_id, parent_node_id FROM upd ORDER BY node_id`,
    );
    // A fan-out whose failed children run again is running again (its completion is recomputed).
    await query(
      tx,
      sql`UPDATE ${t.nodes} p SET status = 'running', completed_at = NULL, version = p.version + 1, updated_at = now()
          WHERE p.job_id = ${input.jobId} AND p.parent_node_id IS NULL AND p.node_type = 'fan_out'
            AND p.status = 'completed'
            AND EXISTS (SELECT 1 FROM ${t.nodes} c WHERE c.job_id = p.job_id AND c.parent_node_id = p.node_id
                          AND c.status = 'pending')`,
    );
    const staticNodeIds: string[] = [];
    const childCounts: Record<string, number> = {};
    for (const row of n.rows) {
      if (row.parent_node_id === null) staticNodeIds.push(row.node_id);
      else childCounts[row.parent_node_id] = (childCounts[row.parent_node_id] ?? 0) + 1;
    }
    const data = toJsonText(
      {
        run_count: job.run_count,
        reset_count: n.rows.length,
        static_node_ids: staticNodeIds,
        child_counts: childCounts,
      },
      'event.data',
    );
    await query(
      tx,
      sql`INSERT INTO ${t.events} (job_id, event_type, event_status, event_data, source_app)
          VALUES (${input.jobId}, 'job_rerun', 'info', ${data}::jsonb, ${input.sourceApp ?? null})`,
    );
    // Its asset version (failed with the job) is processing again.
    await syncVersionWithJob(tx, schema, input.jobId, systemActor(input.sourceApp));
    return { kind: 'applied' as const, job, resetCount: n.rows.length, staticNodeIds, childCounts };
  });
}

export interface DeleteJobsInput {
  /** Only jobs that ended before this time. */
  completedBefore: Date;
  /** Default: every terminal status. */
  statuses?: JobStatus[];
  /** At most this many jobs per call (default 1000): call again until deleted < limit. */
  limit?: number;
}

/** Retention: deletes ended jobs (and, by cascade, their nodes, results, events, checkpoints). */
export async function deleteJobs(
  db: Queryable,
  schema: string,
  input: DeleteJobsInput,
): Promise<{ deleted: number }> {
  const statuses = input.statuses ?? [...TERMINAL_JOB_STATUSES];
  for (const s of statuses) {
    if (!TERMINAL_JOB_STATUSES.includes(s)) {
      throw new DbValidationError({
        field: 'statuses',
        message: `deleteJobs: only ended jobs can be deleted, not "${s}"`,
      });
    }
  }
  const limit = pageLimit(input.limit, 1000, 100_000);
  const t = T(schema);
  // Nodes and checkpoints go by cascade; results, events and messages have no foreign key (see tables.ts).
  const r = await query<{ n: number }>(
    db,
    sql`WITH gone AS (
          DELETE FROM ${t.jobs} WHERE job_id IN (
            SELECT job_id FROM ${t.jobs}
            WHERE status = ANY(${statuses}::${t.type('job_status')}[]) AND completed_at < ${input.completedBefore}
            ORDER BY completed_at LIMIT ${limit}
            FOR UPDATE SKIP LOCKED)
          RETURNING job_id
        ), ev AS (
          DELETE FROM ${t.events} e USING gone WHERE e.job_id = gone.job_id RETURNING 1
        ), res AS (
          DELETE FROM ${sql.table(schema, 'dag_task_results')} r USING gone WHERE r.job_id = gone.job_id RETURNING 1
        ), msg AS (
          DELETE FROM ${sql.table(schema, 'dag_task_messages')} m USING gone WHERE m.job_id = gone.job_id RETURNING 1
        )
        SELECT (SELECT count(*) FROM gone)::int AS n,
               (SELECT count(*) FROM ev) + (SELECT count(*) FROM res) + (SELECT count(*) FROM msg) AS _children`,
  );
  return { deleted: r.rows[0]?.n ?? 0 };
}
