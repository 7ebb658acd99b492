// Reads the original system's clients ask for (its /api/v1 and gateway status/admin routes): counts by
// status and workflow, a node's events newest first, and cross-job reads (recent events, running and
// failed nodes, active jobs). Read-only; every query is bounded by a limit.
import { parseRow } from './defineTable';
import { query, type Queryable } from './queryable';
import { sql } from './sql';
import type { EventType, JobStatus, NodeStatus } from './statuses';
import { jobEventsTable, jobsTable, nodeStatesTable, type JobEventRow, type NodeRow } from './tables';
import { parseSummary, type JobSummaryRow } from './jobQueries';

const SUMMARY_COLUMNS = jobsTable.columnNames.filter(
  (c) => c !== 'workflow_snapshot' && c !== 'input_params' && c !== 'result_data',
);

export interface JobStats {
  by_status: Record<string, number>;
  by_workflow: Record<string, Record<string, number>>;
  total: number;
}

/** Job counts by status and by workflow and status. */
export async function jobStats(db: Queryable, schema: string): Promise<JobStats> {
  const r = await query<{ workflow_id: string; status: JobStatus; n: string }>(
    db,
    sql`SELECT workflow_id, status::text AS status, count(*) AS n FROM ${sql.table(schema, 'dag_jobs')}
        GROUP BY workflow_id, status ORDER BY workflow_id, status`,
  );
  const out: JobStats = { by_status: {}, by_workflow: {}, total: 0 };
  for (const row of r.rows) {
    const n = Number(row.n);
    out.total += n;
    out.by_status[row.status] = (out.by_status[row.status] ?? 0) + n;
    (out.by_workflow[row.workflow_id] ??= {})[row.status] = n;
  }
  return out;
}

/** Jobs that ended (completed, failed, cancelled) in the last `minutes`, by status. */
export async function jobsEndedSince(db: Queryable, schema: string, minutes: number) {
  const r = await query<{ status: string; n: string }>(
    db,
    sql`SELECT status::text AS status, count(*) AS n FROM ${sql.table(schema, 'dag_jobs')}
        WHERE completed_at >= now() - make_interval(mins => ${minutes}) GROUP BY status`,
  );
  return Object.fromEntries(r.rows.map((x) => [x.status, Number(x.n)]));
}

/** One node's events, newest first. */
export async function listNodeEventsNewestFirst(
  db: Queryable,
  schema: string,
  jobId: string,
  nodeId: string,
  limit: number,
): Promise<JobEventRow[]> {
  const r = await query(
    db,
    sql`SELECT * FROM ${sql.table(schema, 'dag_job_events')} WHERE job_id = ${jobId} AND node_id = ${nodeId}
        ORDER BY event_id DESC LIMIT ${limit}`,
  );
  return r.rows.map((row) => parseRow(jobEventsTable, row));
}

/** Events of every job, newest first (optionally of some types). */
export async function listRecentEvents(
  db: Queryable,
  schema: string,
  input: { limit: number; type?: EventType[] },
): Promise<JobEventRow[]> {
  const where = input.type
    ? sql`WHERE event_type = ANY(${input.type}::${sql.ident(schema, 'job_event_type')}[])`
    : sql``;
  const r = await query(
    db,
    sql`SELECT * FROM ${sql.table(schema, 'dag_job_events')} ${where} ORDER BY event_id DESC LIMIT ${input.limit}`,
  );
  return r.rows.map((row) => parseRow(jobEventsTable, row));
}

/** Nodes in some statuses across jobs (or of one job), most recently updated first. */
export async function listNodesByStatus(
  db: Queryable,
  schema: string,
  input: { status: NodeStatus[]; jobId?: string; limit: number },
): Promise<NodeRow[]> {
  const where = [sql`status = ANY(${input.status}::${sql.ident(schema, 'node_status')}[])`];
  if (input.jobId !== undefined) where.push(sql`job_id = ${input.jobId}`);
  const r = await query(
    db,
    sql`SELECT * FROM ${sql.table(schema, 'dag_node_states')} WHERE ${sql.join(where, ' AND ')}
        ORDER BY updated_at DESC, job_id, node_id LIMIT ${input.limit}`,
  );
  return r.rows.map((row) => parseRow(nodeStatesTable, row));
}

/** Pending and running jobs, oldest first. */
export async function listActiveJobs(
  db: Queryable,
  schema: string,
  input: { limit: number },
): Promise<JobSummaryRow[]> {
  const cols = sql.join(SUMMARY_COLUMNS.map((c) => sql.ident(c)));
  const r = await query(
    db,
    sql`SELECT ${cols} FROM ${sql.table(schema, 'dag_jobs')} WHERE status IN ('pending', 'running')
        ORDER BY created_at, job_id LIMIT ${input.limit}`,
  );
  return r.rows.map((row) => parseSummary(row));
}

/** The newest job with this correlation id, or null. */
export async function findJobByCorrelationId(
  db: Queryable,
  schema: string,
  correlationId: string,
): Promise<JobSummaryRow | null> {
  const cols = sql.join(SUMMARY_COLUMNS.map((c) => sql.ident(c)));
  const r = await query(
    db,
    sql`SELECT ${cols} FROM ${sql.table(schema, 'dag_jobs')} WHERE correlation_id = ${correlationId}
        ORDER BY created_at DESC, job_id DESC LIMIT 1`,
  );
  return r.rows[0] ? parseSummary(r.rows[0]) : null;
}

/** Nodes whose attempt is out (dispatched or running), by status and node type. */
export async function attemptsInFlight(db: Queryable, schema: string): Promise<Record<string, number>> {
  const r = await query<{ status: string; n: string }>(
    db,
    sql`SELECT status::text AS status, count(*) AS n FROM ${sql.table(schema, 'dag_node_states')}
        WHERE status IN ('dispatched', 'running') GROUP BY status`,
  );
  return { dispatched: 0, running: 0, ...Object.fromEntries(r.rows.map((x) => [x.status, Number(x.n)])) };
}

/** The orchestration instance waiting for a container task's result (from its sent message), or null. */
export async function replyToOfTask(db: Queryable, schema: string, taskId: string): Promise<string | null> {
  const r = await query<{ reply_to: string }>(
    db,
    sql`SELECT reply_to FROM ${sql.table(schema, 'dag_task_messages')} WHERE task_id = ${taskId}
        ORDER BY enqueued_at DESC LIMIT 1`,
  );
  return r.rows[0]?.reply_to ?? null;
}

/** Pending and running jobs not updated for `minutes`, the longest quiet first. */
export async function listQuietJobs(
  db: Queryable,
  schema: string,
  input: { minutes: number; limit: number },
): Promise<JobSummaryRow[]> {
  const cols = sql.join(SUMMARY_COLUMNS.map((c) => sql.ident(c)));
  const r = await query(
    db,
    sql`SELECT ${cols} FROM ${sql.table(schema, 'dag_jobs')} WHERE status IN ('pending', 'running')
          AND updated_at < now() - make_interval(mins => ${input.minutes})
        ORDER BY updated_at, job_id LIMIT ${input.limit}`,
  );
  return r.rows.map((row) => parseSummary(row));
}
