// Fan-out children: inserted set-based in one statement (idempotent), read back in index order in
// pages for fan-in aggregation, summarized for the fan-in's failure message.
import { toJsonText, sql } from './sql';
import { validateValues } from './defineTable';
import { DbValidationError } from './errors';
import { pageLimit } from './cursor';
import { query, withTransaction, type Queryable } from './queryable';
import { NODE_STATUSES, type NodeStatus } from './statuses';
import { jobEventsTable, nodeStatesTable } from './tables';

export interface FanOutChild {
  /** 0-based position in the source array; the child is `<parentNodeId>__<index>`. */
  index: number;
  /** The child's resolved params (kept for its retries). */
  inputParams: unknown;
}

export interface InsertFanOutChildrenInput {
  jobId: string;
  parentNodeId: string;
  children: FanOutChild[];
  /** Retries after the first attempt, from the fan_out's task.retry.max_attempts. */
  maxRetries: number;
  /** Initial status (default pending). */
  status?: Extract<NodeStatus, 'pending' | 'ready'>;
  sourceApp?: string;
}

/**
 * A single jsonb parameter is limited to 1 GB and a jsonb value to 256 MB; past this many bytes of
 * params the children go in several statements (in one transaction). 10,000 or 100,000 children with
 * ordinary params are far below it: one statement.
 */
export const MAX_FAN_OUT_STATEMENT_BYTES = 64 * 1024 * 1024;

/**
 * Inserts the children of a fan-out in ONE statement (rows from jsonb_array_elements) and writes one
 * fan_out_expanded event when anything was inserted. Idempotent: children that exist are left alone
 * (ON CONFLICT DO NOTHING), so a redelivered expansion inserts nothing. Returns how many were new.
 */
export async function insertFanOutChildren(
  db: Queryable,
  schema: string,
  input: InsertFanOutChildrenInput,
): Promise<{ inserted: number; existing: number }> {
  const { jobId, parentNodeId } = input;
  validateValues(nodeStatesTable, { job_id: jobId, parent_node_id: parentNodeId });
  if (input.sourceApp !== undefined) validateValues(jobEventsTable, { source_app: input.sourceApp });
  if (!Number.isInteger(input.maxRetries) || input.maxRetries < 0) {
    throw new DbValidationError({
      table: 'dag_node_states',
      field: 'max_retries',
      message: `max_retries must be an integer ≥ 0, got ${input.maxRetries}`,
    });
  }
  if (input.children.length === 0) return { inserted: 0, existing: 0 };
  // Serialize children params as one JSON array of [index, params] pairs; chunk only past the size limit.
  const chunks: string[] = [];
  let parts: string[] = [];
  let bytes = 0;
  const seen = new Set<number>();
  for (let i = 0; i < input.children.length; i++) {
    const c = input.children[i]!;
    if (!Number.isInteger(c.index) || c.index < 0 || c.index > 2_147_483_647) {
      throw new DbValidationError({
        table: 'dag_node_states',
        field: `children[${i}].index`,
        message: `children[${i}].index must be an integer ≥ 0, got ${c.index}`,
      });
    }
    if (seen.has(c.index)) {
      throw new DbValidationError({
        table: 'dag_node_states',
        field: `children[${i}].index`,
        message: `children[${i}]: index ${c.index} appears twice`,
      });
    }
    seen.add(c.index);
    const json = `[${c.index},${toJsonText(c.inputParams ?? null, `children[${i}].inputParams`) ?? 'null'}]`;
    if (bytes + json.length > MAX_FAN_OUT_STATEMENT_BYTES && parts.length) {
      chunks.push(`[${parts.join(',')}]`);
      parts = [];
      bytes = 0;
    }
    parts.push(json);
    bytes += json.length + 1;
  }
  chunks.push(`[${parts.join(',')}]`);
  const run = async (tx: Queryable) => {
    let inserted = 0;
    for (const chunk of chunks) inserted += await insertChunk(tx, schema, input, chunk);
    return inserted;
  };
  const inserted = chunks.length === 1 ? await run(db) : await withTransaction(db, run);
  return { inserted, existing: input.children.length - inserted };
}

async function insertChunk(
  db: Queryable,
  schema: string,
  input: InsertFanOutChildrenInput,
  chunk: string,
): Promise<number> {
  const status = input.status ?? 'pending';
  const r = await query<{ n: number }>(
    db,
    sql`WITH ins AS (
      INSERT INTO ${sql.table(schema, 'dag_node_states')}
        (job_id, node_id, node_type, status, max_retries, parent_node_id, fan_out_index, input_params, ready_at)
      SELECT ${input.jobId}, ${input.parentNodeId} || '__' || (e.value->>0), 'child',
             ${status}::${sql.ident(schema, 'node_status')}, ${input.maxRetries}::int, ${input.parentNodeId},
             (e.value->>0)::int, e.value->1, ${status === 'ready' ? sql`now()` : sql`NULL::timestamptz`}
      FROM jsonb_array_elements(${chunk}::jsonb) AS e(value)
      ON CONFLICT DO NOTHING
      RETURNING 1
    ), n AS (SELECT count(*)::int AS n FROM ins), ev AS (
      INSERT INTO ${sql.table(schema, 'dag_job_events')} (job_id, node_id, event_type, event_status, event_data, source_app)
      SELECT ${input.jobId}, ${input.parentNodeId}, 'fan_out_expanded', 'info',
             jsonb_build_object('inserted', n.n, 'max_retries', ${input.maxRetries}::int), ${input.sourceApp ?? null}
      FROM n WHERE n.n > 0
      RETURNING 1
    )
    SELECT n FROM n`,
  );
  return r.rows[0]?.n ?? 0;
}

export interface ChildOutput {
  index: number;
  nodeId: string;
  status: NodeStatus;
  output: unknown;
  errorMessage: string | null;
}

/** One page of a fan-out's children in index order (indexes > afterIndex). */
export async function readChildOutputs(
  db: Queryable,
  schema: string,
  input: { jobId: string; parentNodeId: string; afterIndex?: number; limit?: number },
): Promise<{ children: ChildOutput[]; nextAfterIndex: number | null }> {
  const limit = pageLimit(input.limit, 1000, 10_000);
  const r = await query<{
    i: number;
    node_id: string;
    status: NodeStatus;
    output: unknown;
    error_message: string | null;
  }>(
    db,
    sql`SELECT fan_out_index AS i, node_id, status, output, error_message
        FROM ${sql.table(schema, 'dag_node_states')}
        WHERE job_id = ${input.jobId} AND parent_node_id = ${input.parentNodeId}
          AND fan_out_index > ${input.afterIndex ?? -1}
        ORDER BY fan_out_index LIMIT ${limit + 1}`,
  );
  const children = r.rows.slice(0, limit).map((row) => ({
    index: row.i,
    nodeId: row.node_id,
    status: row.status,
    output: row.output ?? null,
    errorMessage: row.error_message,
  }));
  return {
    children,
    nextAfterIndex: r.rows.length > limit ? (children[children.length - 1]?.index ?? null) : null,
  };
}

/**
 * All children of a fan-out in index order, one page (array) at a time: memory stays bounded for
 * 100,000 children, and a page costs one await, not one per child (every promise is paid for again
 * when Application Insights propagates its context).
 */
export async function* streamChildOutputs(
  db: Queryable,
  schema: string,
  input: { jobId: string; parentNodeId: string; pageSize?: number },
): AsyncGenerator<ChildOutput[], void, undefined> {
  let after: number | undefined;
  for (;;) {
    const page = await readChildOutputs(db, schema, {
      jobId: input.jobId,
      parentNodeId: input.parentNodeId,
      ...(after !== undefined ? { afterIndex: after } : {}),
      limit: input.pageSize ?? 1000,
    });
    if (page.children.length > 0) yield page.children;
    if (page.nextAfterIndex === null) return;
    after = page.nextAfterIndex;
  }
}

export interface ChildSummary {
  total: number;
  byStatus: Record<NodeStatus, number>;
  /** Up to 5 failed children, lowest index first (for "Fan-out children failed: ..."). */
  failedNodeIds: string[];
  /** Their fan-out indexes, same order. */
  failedIndexes: number[];
}

/** Counts of a fan-out's children by status, and the first failed ones. */
export async function childSummary(
  db: Queryable,
  schema: string,
  input: { jobId: string; parentNodeId: string },
): Promise<ChildSummary> {
  const r = await query<{
    counts: Record<string, number> | null;
    failed: string[] | null;
    failed_idx: number[] | null;
  }>(
    db,
    sql`SELECT
      (SELECT jsonb_object_agg(status, n) FROM (
         SELECT status, count(*)::int AS n FROM ${sql.table(schema, 'dag_node_states')}
         WHERE job_id = ${input.jobId} AND parent_node_id = ${input.parentNodeId} GROUP BY status) s) AS counts,
      (SELECT array_agg(fan_out_index ORDER BY fan_out_index) FROM (
         SELECT fan_out_index FROM ${sql.table(schema, 'dag_node_states')}
         WHERE job_id = ${input.jobId} AND parent_node_id = ${input.parentNodeId} AND status = 'failed'
         ORDER BY fan_out_index LIMIT 5) f) AS failed_idx,
      (SELECT array_agg(node_id ORDER BY fan_out_index) FROM (
         SELECT node_id, fan_out_index FROM ${sql.table(schema, 'dag_node_states')}
         WHERE job_id = ${input.jobId} AND parent_node_id = ${input.parentNodeId} AND status = 'failed'
         ORDER BY fan_out_index LIMIT 5) f) AS failed`,
  );
  const byStatus = Object.fromEntries(NODE_STATUSES.map((s) => [s, 0])) as Record<NodeStatus, number>;
  let total = 0;
  for (const [s, n] of Object.entries(r.rows[0]?.counts ?? {})) {
    byStatus[s as NodeStatus] = n;
    total += n;
  }
  return {
    total,
    byStatus,
    failedNodeIds: r.rows[0]?.failed ?? [],
    failedIndexes: r.rows[0]?.failed_idx ?? [],
  };
}
