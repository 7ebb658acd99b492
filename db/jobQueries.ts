// Job reads: one job, pages of job summaries, node counts, what a (re)started orchestration needs
// to know about the job's nodes, and the quiet active jobs the reconciler checks.
import { z } from 'zod';
import { decodeCursor, encodeCursor, pageLimit, zCursorTimestamp, type Page } from './cursor';
import { parseRow } from './defineTable';
import { DbError, DbValidationError } from './errors';
import { query, type Queryable } from './queryable';
import { schemaTables } from './schemaTables';
import { sql } from './sql';
import { JobStatus, NODE_STATUSES, type NodeStatus, type SkipReason } from './statuses';
import { jobsTable, LIMITS, type JobRow } from './tables';

const T = schemaTables;

export async function getJob(db: Queryable, schema: string, jobId: string): Promise<JobRow | null> {
  const r = await query(db, sql`SELECT * FROM ${T(schema).jobs} WHERE job_id = ${jobId}`, { prepare: true });
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
