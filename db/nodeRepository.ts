// Node state: guarded transitions (single and set-based batch, each writing its event in the same
// statement) and reads (one node, pages of nodes, outputs for template rendering).
import { z } from 'zod';
import { decodeCursor, encodeCursor, pageLimit, zCursorInt4, type Page } from './cursor';
import { parseRow } from './defineTable';
import { DbValidationError } from './errors';
import { nodeTransitionCtes, transitionRows, type NodeTransition } from './nodeTransitionCtes';
import { query, type Queryable } from './queryable';
import { sql } from './sql';
import { NodeStatus } from './statuses';
import { LIMITS, nodeStatesTable, type NodeRow } from './tables';

export type { Page } from './cursor';
export type { NodeEventInput, NodeSet, NodeTransition } from './nodeTransitionCtes';

export type TransitionResult =
  { kind: 'applied'; node: NodeRow } | { kind: 'conflict'; current: NodeRow } | { kind: 'not_found' };

export interface BatchTransitionResult {
  /** One result per input, in input order. */
  results: TransitionResult[];
  applied: number;
  conflicts: number;
  notFound: number;
}

/** Over this many rows a batch is split into several statements, each still set-based. */
const MAX_TRANSITIONS_PER_STATEMENT = 5000;

/**
 * Applies many node transitions in one statement (jsonb_to_recordset): each row applies iff the node
 * is in one of `from` (and at expectedVersion / expectedTaskId, when given); applied rows get
 * version + 1 and their event, in the same statement. Rows are locked in key order, so concurrent
 * batches cannot deadlock. Returns, per row, applied (new row), conflict (current row) or not_found.
 *
 * Automatic columns: ready_at on → ready; dispatched_at on → dispatched (and task_id
 * `{job}_{node}_{attempt}` unless set.taskId is given); started_at on → running; completed_at on →
 * completed/failed/skipped; going back to pending/ready clears the attempt timestamps; skip_reason is
 * cleared unless → skipped. Values in `set` win.
 */
export async function applyNodeTransitions(
  db: Queryable,
  schema: string,
  transitions: NodeTransition[],
  opts: { sourceApp?: string } = {},
): Promise<BatchTransitionResult> {
  const results: TransitionResult[] = [];
  for (let i = 0; i < transitions.length; i += MAX_TRANSITIONS_PER_STATEMENT) {
    results.push(
      ...(await applyChunk(db, schema, transitions.slice(i, i + MAX_TRANSITIONS_PER_STATEMENT), opts, i)),
    );
  }
  return {
    results,
    applied: results.filter((r) => r.kind === 'applied').length,
    conflicts: results.filter((r) => r.kind === 'conflict').length,
    notFound: results.filter((r) => r.kind === 'not_found').length,
  };
}

/** One guarded transition (see applyNodeTransitions). */
export async function transitionNode(
  db: Queryable,
  schema: string,
  transition: NodeTransition,
  opts: { sourceApp?: string } = {},
): Promise<TransitionResult> {
  const r = await applyChunk(db, schema, [transition], opts, 0);
  return r[0]!;
}

async function applyChunk(
  db: Queryable,
  schema: string,
  transitions: NodeTransition[],
  opts: { sourceApp?: string },
  offset: number,
): Promise<TransitionResult[]> {
  if (transitions.length === 0) return [];
  const rows = transitionRows(transitions, offset);
  const nodes = sql.table(schema, 'dag_node_states');
  const r = await query(
    db,
    sql`WITH ${nodeTransitionCtes(schema, rows, opts)}
    SELECT u.* FROM upd u`,
    {
      prepare: rows.length === 1,
    },
  );
  const out: TransitionResult[] = transitions.map(() => ({ kind: 'not_found' as const }));
  for (const row of r.rows as Array<Record<string, unknown> & { _ord: number }>) {
    out[row._ord] = { kind: 'applied', node: parseRow(nodeStatesTable, row) };
  }
  // Rows that did not apply: read their current state with a new snapshot, so that a race lost while
  // waiting for a row lock reports the winner's row, not the state this statement started from.
  const missed = transitions.flatMap((tr, i) => (out[i]!.kind === 'applied' ? [] : [{ i, tr }]));
  if (missed.length) {
    const cur = await query(
      db,
      sql`SELECT n.* FROM ${nodes} n
          JOIN unnest(${missed.map((m) => m.tr.jobId)}::text[], ${missed.map((m) => m.tr.nodeId)}::text[]) AS k(job_id, node_id)
            ON n.job_id = k.job_id AND n.node_id = k.node_id`,
    );
    const byKey = new Map(cur.rows.map((row) => [`${row.job_id}\u0000${row.node_id}`, row]));
    for (const { i, tr } of missed) {
      const row = byKey.get(`${tr.jobId}\u0000${tr.nodeId}`);
      if (row) out[i] = { kind: 'conflict', current: parseRow(nodeStatesTable, row) };
    }
  }
  return out;
}

export async function getNode(
  db: Queryable,
  schema: string,
  jobId: string,
  nodeId: string,
): Promise<NodeRow | null> {
  const r = await query(
    db,
    sql`SELECT * FROM ${sql.table(schema, 'dag_node_states')} WHERE job_id = ${jobId} AND node_id = ${nodeId}`,
  );
  return r.rows[0] ? parseRow(nodeStatesTable, r.rows[0]) : null;
}

export interface ListNodesInput {
  /**
   * undefined: every node, by node_id. null: static nodes only (no fan-out children), by node_id.
   * A node id: the children of that fan-out, by fan_out_index.
   */
  parentNodeId?: string | null;
  status?: NodeStatus | NodeStatus[];
  /** 1..5000, default 500. */
  limit?: number;
  cursor?: string;
}

const NodeCursor = z.union([z.object({ n: z.string().max(LIMITS.nodeId) }), z.object({ i: zCursorInt4 })]);

/** Pages of a job's nodes (see ListNodesInput for the orders); big fan-outs page by index. */
export async function listNodes(
  db: Queryable,
  schema: string,
  jobId: string,
  input: ListNodesInput = {},
): Promise<Page<NodeRow>> {
  const limit = pageLimit(input.limit, 500, 5000);
  const byIndex = typeof input.parentNodeId === 'string';
  const where = [sql`job_id = ${jobId}`];
  if (input.parentNodeId === null) where.push(sql`parent_node_id IS NULL`);
  else if (typeof input.parentNodeId === 'string') where.push(sql`parent_node_id = ${input.parentNodeId}`);
  if (input.status !== undefined) {
    const statuses = Array.isArray(input.status) ? input.status : [input.status];
    for (const s of statuses) {
      if (!NodeStatus.safeParse(s).success)
        throw new DbValidationError({ field: 'status', message: `status: "${s}" is not a node status` });
    }
    where.push(sql`status = ANY(${statuses}::${sql.ident(schema, 'node_status')}[])`);
  }
  if (input.cursor !== undefined) {
    const c = decodeCursor(input.cursor, NodeCursor, 'node list');
    if (byIndex && 'i' in c) where.push(sql`fan_out_index > ${c.i}`);
    else if (!byIndex && 'n' in c) where.push(sql`node_id > ${c.n}`);
    else
      throw new DbValidationError({
        field: 'cursor',
        message: 'cursor: it belongs to another kind of node listing',
      });
  }
  const r = await query(
    db,
    sql`SELECT * FROM ${sql.table(schema, 'dag_node_states')} WHERE ${sql.join(where, ' AND ')}
        ORDER BY ${byIndex ? sql`fan_out_index` : sql`node_id`} LIMIT ${limit + 1}`,
  );
  const items = r.rows.slice(0, limit).map((row) => parseRow(nodeStatesTable, row));
  const last = items[items.length - 1];
  return {
    items,
    nextCursor:
      r.rows.length > limit && last
        ? encodeCursor(byIndex ? { i: last.fan_out_index ?? 0 } : { n: last.node_id })
        : null,
  };
}

export interface NodeOutput {
  status: NodeStatus;
  output: unknown;
}

/** Status and output of the given nodes (for template rendering: `nodes.<id>.output`). Missing ids are absent. */
export async function getNodeOutputs(
  db: Queryable,
  schema: string,
  jobId: string,
  nodeIds: string[],
): Promise<Record<string, NodeOutput>> {
  if (nodeIds.length === 0) return {};
  const r = await query<{ node_id: string; status: NodeStatus; output: unknown }>(
    db,
    sql`SELECT node_id, status, output FROM ${sql.table(schema, 'dag_node_states')}
        WHERE job_id = ${jobId} AND node_id = ANY(${nodeIds}::text[])`,
  );
  // fromEntries defines own properties, so an id like "__proto__" stays data.
  return Object.fromEntries(
    r.rows.map((row) => [row.node_id, { status: row.status, output: row.output ?? null }]),
  );
}

/** Dispatched/running nodes whose deadline has passed (for a timeout sweeper), oldest deadline first. */
export async function listOverdueNodes(
  db: Queryable,
  schema: string,
  input: { now?: Date; limit?: number } = {},
): Promise<NodeRow[]> {
  const limit = pageLimit(input.limit, 100, 5000);
  const r = await query(
    db,
    sql`SELECT * FROM ${sql.table(schema, 'dag_node_states')}
        WHERE status IN ('dispatched', 'running') AND deadline_at < ${input.now ?? sql`now()`}
        ORDER BY deadline_at LIMIT ${limit}`,
  );
  return r.rows.map((row) => parseRow(nodeStatesTable, row));
}
