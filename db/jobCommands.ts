// Job writes: create (with node rows and the job_created event, idempotent by key), guarded status
// changes, cancel requests, the job's end (result_data assembled in SQL: it may hold 100,000
// children's outputs), reruns and retention. Expected outcomes are values; only infrastructure
// faults and invalid input throw.
import { pageLimit } from './cursor';
import { parseRow, truncate, validateValues } from './defineTable';
import { DbError, DbValidationError } from './errors';
import { jobInsertCtes, validateSourceApp, type CreateJobInput, type CreateJobResult } from './jobInsertCtes';
import { getJob } from './jobQueries';
import { schemaTables as T } from './schemaTables';
import { query, withTransaction, type Queryable } from './queryable';
import { sql, toJsonText, type SqlFragment } from './sql';
import {
  JOB_EVENT_FOR_STATUS,
  JOB_TRANSITIONS,
  type JobStatus,
  TERMINAL_JOB_STATUSES,
  type EventStatus,
  type EventType,
} from './statuses';
import { jobsTable, LIMITS, type JobRow } from './tables';
import { syncVersionWithJob, systemActor, versionFollowsJob, type VersionOutcome } from './versionFollowsJob';

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
    { prepare: true },
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

export type FinishJobResult =
  { kind: 'applied' } | { kind: 'already_ended'; status: string } | { kind: 'not_found' };

/**
 * Ends the job (completed, failed or cancelled) with its event, in one statement. result_data is
 * {node_id: output} of completed nodes with a non-empty output (fan-out children included) plus
 * _provenance, built by Postgres from the node rows. A cancelled job says why it ended (the reason
 * given with the cancel); its attempts in flight end failed and every node that had not started is
 * skipped (job_cancelled) — fan-out children included, in the same statement, however many there
 * are; node_skipped events are written for the workflow's own nodes, the children are counted in
 * the job_cancelled event.
 * The asset version the job processes (if any) becomes completed (with `version`'s artifacts) or
 * failed in the same statement.
 */
export async function finishJob(
  db: Queryable,
  schema: string,
  input: {
    jobId: string;
    status: 'completed' | 'failed' | 'cancelled';
    errorMessage?: string | null;
    sourceApp?: string;
    /** What a completed job gives its asset version (artifacts); ignored when the job has none. */
    version?: VersionOutcome;
  },
): Promise<FinishJobResult> {
  const t = T(schema);
  const ty = t.type;
  const error = input.errorMessage == null ? null : truncate(input.errorMessage, LIMITS.errorMessage);
  const eventType = { completed: 'job_completed', failed: 'job_failed', cancelled: 'job_cancelled' }[
    input.status
  ];
  const eventStatus = { completed: 'success', failed: 'failure', cancelled: 'warning' }[input.status];
  const cancelled = input.status === 'cancelled';
  /** A cancelled job's nodes in one of `statuses` end with it (`set`). */
  const endNodes = (set: SqlFragment, statuses: SqlFragment, returning: SqlFragment) =>
    sql`UPDATE ${t.nodes} n SET ${set}, completed_at = now(), version = n.version + 1, updated_at = now()
      FROM upd
      WHERE ${cancelled} AND n.job_id = upd.job_id AND n.status IN (${statuses})
      RETURNING n.job_id, n.node_id, ${returning}`;
  const r = await query<{ applied: boolean; status: string | null }>(
    db,
    sql`WITH outs AS (
      SELECT coalesce(jsonb_object_agg(node_id, output) FILTER (
               WHERE status = 'completed' AND output IS NOT NULL
                 AND output NOT IN ('null'::jsonb, '{}'::jsonb)), '{}'::jsonb) AS data,
             count(*) FILTER (WHERE parent_node_id IS NULL) AS node_count
      FROM ${t.nodes} WHERE job_id = ${input.jobId}
    ), why AS (
      SELECT left(coalesce(${error}, CASE WHEN ${cancelled} THEN
               'The job was cancelled' || coalesce(': ' || (
                 SELECT nullif(event_data->>'reason', '') FROM ${t.events}
                 WHERE job_id = ${input.jobId} AND event_type = 'job_cancel_requested'
                 ORDER BY event_id DESC LIMIT 1), '') END), ${LIMITS.errorMessage}) AS message
    ), upd AS (
      UPDATE ${t.jobs} j SET status = ${input.status}::${ty('job_status')},
        error_message = why.message,
        completed_at = now(),
        started_at = coalesce(j.started_at, now()),
        result_data = CASE WHEN ${cancelled} THEN NULL ELSE
          outs.data || jsonb_build_object('_provenance', jsonb_build_object(
            'workflow_id', j.workflow_id, 'workflow_version', j.workflow_version,
            'job_id', j.job_id, 'completed_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))) END,
        version = j.version + 1, updated_at = now()
      FROM outs, why
      WHERE j.job_id = ${input.jobId} AND j.status IN ('pending', 'running')
      RETURNING j.job_id, j.status, j.error_message, j.started_at, outs.node_count
    ), stopped AS (
      -- A cancelled job's attempts in flight end with it (their late results are ignored).
      ${endNodes(
        sql`status = 'failed', error_message = 'The job was cancelled while this attempt ran'`,
        sql`'dispatched', 'running'`,
        sql`n.task_id`,
      )}
    ), stopped_ev AS (
      INSERT INTO ${t.events} (job_id, node_id, task_id, event_type, event_status, event_data, error_message, source_app)
      SELECT job_id, node_id, task_id, 'node_failed', 'failure', '{"reason": "job_cancelled"}'::jsonb,
             'The job was cancelled while this attempt ran', ${input.sourceApp ?? null}
      FROM stopped RETURNING 1
    ), never_ran AS (
      ${endNodes(sql`status = 'skipped', skip_reason = 'job_cancelled'`, sql`'pending', 'ready'`, sql`n.parent_node_id`)}
    ), never_ran_ev AS (
      INSERT INTO ${t.events} (job_id, node_id, event_type, event_status, event_data, source_app)
      SELECT job_id, node_id, 'node_skipped', 'info', '{"reason": "job_cancelled"}'::jsonb,
             ${input.sourceApp ?? null}
      FROM never_ran WHERE parent_node_id IS NULL RETURNING 1
    ), ev AS (
      INSERT INTO ${t.events} (job_id, event_type, event_status, event_data, error_message, source_app)
      SELECT job_id, ${eventType}::${ty('job_event_type')}, ${eventStatus}::${ty('job_event_status')},
             jsonb_build_object('duration_seconds', round(extract(epoch FROM now() - started_at)::numeric, 3),
                                'node_count', node_count)
               || CASE WHEN ${cancelled} THEN jsonb_build_object(
                    'skipped_children', (SELECT count(*) FROM never_ran WHERE parent_node_id IS NOT NULL))
                  ELSE '{}'::jsonb END,
             (SELECT message FROM why), ${input.sourceApp ?? null}
      FROM upd RETURNING 1
    ) ${versionFollowsJob(schema, 'upd', { actor: systemActor(input.sourceApp), ...(input.version ? { outcome: input.version } : {}) })}
    SELECT EXISTS (SELECT 1 FROM upd) AS applied,
           (SELECT status::text FROM ${t.jobs} WHERE job_id = ${input.jobId}) AS status`,
    { prepare: true },
  );
  const row = r.rows[0]!;
  if (row.applied) return { kind: 'applied' };
  if (row.status === null) return { kind: 'not_found' };
  return { kind: 'already_ended', status: row.status };
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
  // Nodes and checkpoints go by cascade; results, events and messages have no foreign key (see engineTables.ts).
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
