// Read-only aggregates for the operator dashboard (functions/httpUi.ts, docs/dashboard.md): job
// counts, the last hour's outcomes, fan-out children by status, and a node's attempts. Every query
// is one statement over existing indexes; nothing here writes.
import { parseRow } from './defineTable';
import { query, type Queryable } from './queryable';
import { sql } from './sql';
import { JOB_STATUSES, NODE_STATUSES, type JobStatus, type NodeStatus } from './statuses';
import { taskResultsTable, type TaskResultRow } from './tables';

/** Jobs by status (every status present, zeros included). */
export async function jobCountsByStatus(db: Queryable, schema: string): Promise<Record<JobStatus, number>> {
  const r = await query<{ status: JobStatus; n: number }>(
    db,
    sql`SELECT status, count(*)::int AS n FROM ${sql.table(schema, 'dag_jobs')} GROUP BY status`,
  );
  const out = Object.fromEntries(JOB_STATUSES.map((s) => [s, 0])) as Record<JobStatus, number>;
  for (const row of r.rows) out[row.status] = row.n;
  return out;
}

/** Jobs that completed / failed / were cancelled in the last `seconds` (by completed_at). */
export async function recentOutcomes(
  db: Queryable,
  schema: string,
  seconds = 3600,
): Promise<{ completed: number; failed: number; cancelled: number }> {
  const r = await query<{ completed: number; failed: number; cancelled: number }>(
    db,
    sql`SELECT count(*) FILTER (WHERE status = 'completed')::int AS completed,
               count(*) FILTER (WHERE status = 'failed')::int AS failed,
               count(*) FILTER (WHERE status = 'cancelled')::int AS cancelled
        FROM ${sql.table(schema, 'dag_jobs')}
        WHERE completed_at > now() - make_interval(secs => ${seconds})`,
  );
  return r.rows[0] ?? { completed: 0, failed: 0, cancelled: 0 };
}

/** A job's fan-out children counted by parent and status: { parent: { status: n } }. */
export async function childCountsByParent(
  db: Queryable,
  schema: string,
  jobId: string,
): Promise<Record<string, Record<NodeStatus, number> & { total: number }>> {
  const r = await query<{ parent: string; status: NodeStatus; n: number }>(
    db,
    sql`SELECT parent_node_id AS parent, status, count(*)::int AS n
        FROM ${sql.table(schema, 'dag_node_states')}
        WHERE job_id = ${jobId} AND parent_node_id IS NOT NULL
        GROUP BY parent_node_id, status`,
  );
  const out: Record<string, Record<NodeStatus, number> & { total: number }> = {};
  for (const row of r.rows) {
    const c = (out[row.parent] ??= {
      ...(Object.fromEntries(NODE_STATUSES.map((s) => [s, 0])) as Record<NodeStatus, number>),
      total: 0,
    });
    c[row.status] = row.n;
    c.total += row.n;
  }
  return out;
}

/** Every recorded attempt result of a node (applied or not, with its disposition), oldest first. */
export async function listAttemptResults(
  db: Queryable,
  schema: string,
  jobId: string,
  nodeId: string,
  limit = 200,
): Promise<TaskResultRow[]> {
  const r = await query(
    db,
    sql`SELECT * FROM ${sql.table(schema, 'dag_task_results')}
        WHERE job_id = ${jobId} AND node_id = ${nodeId}
        ORDER BY attempt, received_at LIMIT ${limit}`,
  );
  return r.rows.map((row) => parseRow(taskResultsTable, row));
}
