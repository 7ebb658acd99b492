// The statement that creates a job: its row, its node rows and its job_created event, as CTEs that
// createJob runs alone and a platform submission runs with the asset version pointing at the job.
import { validateValues } from './defineTable';
import { DbValidationError } from './errors';
import { newJobId } from './ids';
import { schemaTables as T } from './schemaTables';
import { sql, type SqlFragment } from './sql';
import type { NodeStatus, NodeType } from './statuses';
import { jobEventsTable, jobsTable, nodeStatesTable, type JobRow } from './tables';

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

export function validateSourceApp(sourceApp: string): void {
  validateValues(jobEventsTable, { source_app: sourceApp });
}
