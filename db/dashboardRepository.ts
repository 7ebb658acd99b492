// Read-only aggregates for the operator dashboard (functions/httpUi.ts, docs/dashboard.md): job
// counts, the last hour's outcomes, fan-out children by status, and a node's attempts. Every query
// is one statement over existing indexes; nothing here writes.
import { parseRow } from './defineTable';
import { query, type Queryable } from './queryable';
import { sql } from './sql';
import { JOB_STATUSES, NODE_STATUSES, type JobStatus, type NodeStatus } from './statuses';
import { nodeStatesTable, taskResultsTable, type NodeRow, type TaskResultRow } from './tables';

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

export interface MonitoredNode {
  node: NodeRow;
  workflowId: string;
}

/**
 * Nodes across jobs for the nodes monitor: `running` — dispatched or running, the nearest deadline
 * first (the in-flight index); `failed` — failed nodes of the 100 newest failed or running jobs
 * (the status index on jobs), up to 10 a job, the latest first.
 */
export async function listMonitoredNodes(
  db: Queryable,
  schema: string,
  kind: 'running' | 'failed',
  limit = 100,
): Promise<MonitoredNode[]> {
  const nodes = sql.table(schema, 'dag_node_states');
  const jobs = sql.table(schema, 'dag_jobs');
  const r =
    kind === 'running'
      ? await query(
          db,
          sql`SELECT n.*, j.workflow_id AS _workflow_id FROM ${nodes} n JOIN ${jobs} j USING (job_id)
              WHERE n.status IN ('dispatched', 'running') ORDER BY n.deadline_at NULLS LAST LIMIT ${limit}`,
        )
      : await query(
          db,
          sql`SELECT n.*, j.workflow_id AS _workflow_id
              FROM (SELECT job_id, workflow_id FROM ${jobs} WHERE status IN ('failed', 'running')
                    ORDER BY created_at DESC LIMIT 100) j
              CROSS JOIN LATERAL (SELECT * FROM ${nodes} x WHERE x.job_id = j.job_id AND x.status = 'failed'
                    ORDER BY x.completed_at DESC NULLS LAST LIMIT 10) n
              ORDER BY n.completed_at DESC NULLS LAST LIMIT ${limit}`,
        );
  return r.rows.map((row) => {
    const { _workflow_id, ...rest } = row as Record<string, unknown>;
    return { node: parseRow(nodeStatesTable, rest), workflowId: String(_workflow_id) };
  });
}

/** The attempt results of a job's static nodes (not fan-out children), oldest first. */
export async function listStaticAttemptResults(
  db: Queryable,
  schema: string,
  jobId: string,
  limit = 500,
): Promise<TaskResultRow[]> {
  const r = await query(
    db,
    sql`SELECT t.* FROM ${sql.table(schema, 'dag_task_results')} t
        JOIN ${sql.table(schema, 'dag_node_states')} n ON n.job_id = t.job_id AND n.node_id = t.node_id
        WHERE t.job_id = ${jobId} AND n.parent_node_id IS NULL
        ORDER BY t.received_at LIMIT ${limit}`,
  );
  return r.rows.map((row) => parseRow(taskResultsTable, row));
}

/** The id of a job's latest event (0 when it has none): the live timeline's change marker. */
export async function lastEventId(db: Queryable, schema: string, jobId: string): Promise<number> {
  const r = await query<{ id: string | null }>(
    db,
    sql`SELECT max(event_id)::text AS id FROM ${sql.table(schema, 'dag_job_events')} WHERE job_id = ${jobId}`,
  );
  return Number(r.rows[0]?.id ?? 0);
}
