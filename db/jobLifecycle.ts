// The two ends of a job run: what a (re)started orchestration needs to know about the job's nodes,
// and the job's end, whose result_data is assembled in SQL (it may hold 100,000 children's outputs).
import { query, type Queryable } from './queryable';
import { sql } from './sql';
import { truncate } from './defineTable';
import { LIMITS } from './tables';
import { systemActor, versionFollowsJob, type VersionOutcome } from './versionFollowsJob';
import type { NodeStatus, SkipReason } from './statuses';

export interface PreviousNode {
  status: NodeStatus;
  /** The next attempt index (the node's attempt column). */
  attempts: number;
  skipReason?: Exclude<SkipReason, 'job_cancelled'>;
  /** Conditionals: the branch target that was taken. */
  taken?: string[];
}

export interface PreviousFanOut {
  count: number;
  /** Children that are not completed (to run again), by index, and their next attempt. */
  failed: number[];
  attempts: number[];
}

/** The job's node states as the scheduler's rerun needs them (static nodes and fan-out summaries). */
export async function readPreviousRun(
  db: Queryable,
  schema: string,
  jobId: string,
): Promise<{ nodes: Record<string, PreviousNode>; fanOuts: Record<string, PreviousFanOut> }> {
  const nodesT = sql.table(schema, 'dag_node_states');
  const r = await query<{
    node_id: string;
    status: NodeStatus;
    attempt: number;
    skip_reason: SkipReason | null;
    taken: string | null;
  }>(
    db,
    sql`SELECT node_id, status, attempt, skip_reason,
               CASE WHEN node_type = 'conditional' THEN output->>'taken_branch' END AS taken
        FROM ${nodesT} WHERE job_id = ${jobId} AND parent_node_id IS NULL`,
  );
  const nodes: Record<string, PreviousNode> = {};
  for (const row of r.rows) {
    // A node skipped because the job was cancelled never ran: to a rerun it is pending.
    const neverRan = row.skip_reason === 'job_cancelled';
    nodes[row.node_id] = {
      status: neverRan ? 'pending' : row.status,
      attempts: row.attempt,
      ...(row.skip_reason && row.skip_reason !== 'job_cancelled' ? { skipReason: row.skip_reason } : {}),
      ...(row.taken !== null ? { taken: [row.taken] } : {}),
    };
  }
  const c = await query<{
    parent: string;
    count: number;
    failed: number[] | null;
    attempts: number[] | null;
  }>(
    db,
    sql`SELECT parent_node_id AS parent, count(*)::int AS count,
               array_agg(fan_out_index ORDER BY fan_out_index) FILTER (WHERE status <> 'completed') AS failed,
               array_agg(attempt ORDER BY fan_out_index) FILTER (WHERE status <> 'completed') AS attempts
        FROM ${nodesT} WHERE job_id = ${jobId} AND parent_node_id IS NOT NULL
        GROUP BY parent_node_id`,
  );
  const fanOuts: Record<string, PreviousFanOut> = {};
  for (const row of c.rows) {
    fanOuts[row.parent] = { count: row.count, failed: row.failed ?? [], attempts: row.attempts ?? [] };
  }
  return { nodes, fanOuts };
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
  const t = {
    jobs: sql.table(schema, 'dag_jobs'),
    nodes: sql.table(schema, 'dag_node_states'),
    events: sql.table(schema, 'dag_job_events'),
  };
  const ty = (n: string) => sql.ident(schema, n);
  const error = input.errorMessage == null ? null : truncate(input.errorMessage, LIMITS.errorMessage);
  const eventType = { completed: 'job_completed', failed: 'job_failed', cancelled: 'job_cancelled' }[
    input.status
  ];
  const eventStatus = { completed: 'success', failed: 'failure', cancelled: 'warning' }[input.status];
  const cancelled = input.status === 'cancelled';
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
      UPDATE ${t.nodes} n SET status = 'failed', error_message = 'The job was cancelled while this attempt ran',
        completed_at = now(), version = n.version + 1, updated_at = now()
      FROM upd
      WHERE ${cancelled} AND n.job_id = upd.job_id AND n.status IN ('dispatched', 'running')
      RETURNING n.job_id, n.node_id, n.task_id
    ), stopped_ev AS (
      INSERT INTO ${t.events} (job_id, node_id, task_id, event_type, event_status, event_data, error_message, source_app)
      SELECT job_id, node_id, task_id, 'node_failed', 'failure', '{"reason": "job_cancelled"}'::jsonb,
             'The job was cancelled while this attempt ran', ${input.sourceApp ?? null}
      FROM stopped RETURNING 1
    ), never_ran AS (
      UPDATE ${t.nodes} n SET status = 'skipped', skip_reason = 'job_cancelled',
        completed_at = now(), version = n.version + 1, updated_at = now()
      FROM upd
      WHERE ${cancelled} AND n.job_id = upd.job_id AND n.status IN ('pending', 'ready')
      RETURNING n.job_id, n.node_id, n.parent_node_id
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
  );
  const row = r.rows[0]!;
  if (row.applied) return { kind: 'applied' };
  if (row.status === null) return { kind: 'not_found' };
  return { kind: 'already_ended', status: row.status };
}

/** Pending or running jobs not updated for a while: the reconciler checks their orchestrations. */
export async function listQuietActiveJobs(
  db: Queryable,
  schema: string,
  input: { quietSeconds: number; limit?: number },
): Promise<Array<{ job_id: string; status: 'pending' | 'running'; run_count: number; updated_at: Date }>> {
  const r = await query<{
    job_id: string;
    status: 'pending' | 'running';
    run_count: number;
    updated_at: Date;
  }>(
    db,
    sql`SELECT job_id, status::text AS status, run_count, updated_at FROM ${sql.table(schema, 'dag_jobs')}
        WHERE status IN ('pending', 'running')
          AND updated_at < now() - ${input.quietSeconds} * interval '1 second'
        ORDER BY updated_at LIMIT ${input.limit ?? 200}`,
  );
  return r.rows;
}

/** A job's status and whether a cancel was requested (cheap: no snapshot). Null when absent. */
export async function getJobState(
  db: Queryable,
  schema: string,
  jobId: string,
): Promise<{ status: string; cancelRequested: boolean } | null> {
  const r = await query<{ status: string; c: boolean }>(
    db,
    sql`SELECT status::text AS status, cancel_requested_at IS NOT NULL AS c FROM ${sql.table(schema, 'dag_jobs')}
        WHERE job_id = ${jobId}`,
  );
  const row = r.rows[0];
  return row ? { status: row.status, cancelRequested: row.c } : null;
}
