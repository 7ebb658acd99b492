import pg from 'pg';
import { describe, expect, it } from 'vitest';
import {
  applyNodeTransitions,
  childSummary,
  getNode,
  getNodeOutputs,
  insertFanOutChildren,
  listEvents,
  listNodes,
  readChildOutputs,
  streamChildOutputs,
  transitionNode,
  DbValidationError,
} from '../../db';
import { newJob, useDeployedSchema } from './helpers';

const db = useDeployedSchema();

describe('transitionNode', () => {
  it('applies a guarded transition, bumps the version, sets timestamps and writes the event', async () => {
    const { pool, schema } = db();
    const job = await newJob(db());
    const r = await transitionNode(pool, schema, {
      jobId: job.job_id,
      nodeId: 'work',
      from: ['pending'],
      to: 'ready',
      expectedVersion: 1,
    });
    expect(r.kind).toBe('applied');
    if (r.kind !== 'applied') return;
    expect(r.node).toMatchObject({ status: 'ready', version: 2 });
    expect(r.node.ready_at).toBeInstanceOf(Date);
    const d = await transitionNode(pool, schema, {
      jobId: job.job_id,
      nodeId: 'work',
      from: ['ready'],
      to: 'dispatched',
      set: { inputParams: { resolved: [1, 2] }, deadlineAt: new Date('2030-01-01T00:00:00Z') },
    });
    expect(d).toMatchObject({
      kind: 'applied',
      node: {
        status: 'dispatched',
        task_id: `${job.job_id}_work_0`,
        input_params: { resolved: [1, 2] },
        version: 3,
      },
    });
    if (d.kind === 'applied') {
      expect(d.node.dispatched_at).toBeInstanceOf(Date);
      expect(d.node.deadline_at?.toISOString()).toBe('2030-01-01T00:00:00.000Z');
    }
    const ev = await listEvents(pool, schema, job.job_id, { nodeId: 'work' });
    expect(ev.items.map((e) => [e.event_type, e.event_data.from, e.event_data.to])).toEqual([
      ['node_ready', 'pending', 'ready'],
      ['node_dispatched', 'ready', 'dispatched'],
    ]);
    expect(ev.items[1]!.task_id).toBe(`${job.job_id}_work_0`);
  });

  it('reports a conflict with the current row, and not_found for a missing node', async () => {
    const { pool, schema } = db();
    const job = await newJob(db());
    const r = await transitionNode(pool, schema, {
      jobId: job.job_id,
      nodeId: 'work',
      from: ['ready'],
      to: 'dispatched',
    });
    expect(r).toMatchObject({
      kind: 'conflict',
      current: { node_id: 'work', status: 'pending', version: 1 },
    });
    const v = await transitionNode(pool, schema, {
      jobId: job.job_id,
      nodeId: 'work',
      from: ['pending'],
      to: 'ready',
      expectedVersion: 7,
    });
    expect(v.kind).toBe('conflict');
    expect(
      await transitionNode(pool, schema, {
        jobId: job.job_id,
        nodeId: 'ghost',
        from: ['pending'],
        to: 'ready',
      }),
    ).toEqual({
      kind: 'not_found',
    });
    const ev = await listEvents(pool, schema, job.job_id, { nodeId: 'work' });
    expect(ev.items).toHaveLength(0);
  });

  it('two pools racing on the same transition: exactly one wins, the other gets a conflict', async () => {
    const { pool, url, schema } = db();
    const other = new pg.Pool({ connectionString: url, max: 8 });
    try {
      const job = await newJob(db(), {
        nodes: Array.from({ length: 30 }, (_, i) => ({ nodeId: `n${i}`, nodeType: 'task' as const })),
      });
      const races = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          Promise.all(
            [pool, other].map((p) =>
              transitionNode(p, schema, {
                jobId: job.job_id,
                nodeId: `n${i}`,
                from: ['pending'],
                to: 'ready',
                expectedVersion: 1,
              }),
            ),
          ),
        ),
      );
      for (const pair of races) {
        expect(pair.map((r) => r.kind).sort()).toEqual(['applied', 'conflict']);
        const loser = pair.find((r) => r.kind === 'conflict');
        expect(loser).toMatchObject({ current: { status: 'ready', version: 2 } });
      }
      const ev = await pool.query(
        `SELECT count(*)::int AS n FROM "${schema}".dag_job_events WHERE event_type = 'node_ready'`,
      );
      expect(ev.rows[0].n).toBe(30);
    } finally {
      await other.end();
    }
  });

  it('guards by task id so an older attempt cannot move the node', async () => {
    const { pool, schema } = db();
    const job = await newJob(db());
    await transitionNode(pool, schema, {
      jobId: job.job_id,
      nodeId: 'work',
      from: ['pending'],
      to: 'dispatched',
    });
    const wrong = await transitionNode(pool, schema, {
      jobId: job.job_id,
      nodeId: 'work',
      from: ['dispatched'],
      to: 'running',
      expectedTaskId: `${job.job_id}_work_9`,
    });
    expect(wrong.kind).toBe('conflict');
    const right = await transitionNode(pool, schema, {
      jobId: job.job_id,
      nodeId: 'work',
      from: ['dispatched'],
      to: 'running',
      expectedTaskId: `${job.job_id}_work_0`,
    });
    expect(right.kind).toBe('applied');
  });

  it('refuses transitions out of completed as a programming error', async () => {
    const { pool, schema } = db();
    const job = await newJob(db());
    await expect(
      transitionNode(pool, schema, { jobId: job.job_id, nodeId: 'work', from: ['completed'], to: 'ready' }),
    ).rejects.toMatchObject({ code: 'INVALID_TRANSITION' });
  });

  it('skips with a reason and clears it when the node comes back', async () => {
    const { pool, schema } = db();
    const job = await newJob(db());
    const s = await transitionNode(pool, schema, {
      jobId: job.job_id,
      nodeId: 'end',
      from: ['pending'],
      to: 'skipped',
      set: { skipReason: 'branch_not_taken' },
    });
    expect(s).toMatchObject({
      kind: 'applied',
      node: { status: 'skipped', skip_reason: 'branch_not_taken' },
    });
    const back = await transitionNode(pool, schema, {
      jobId: job.job_id,
      nodeId: 'end',
      from: ['skipped'],
      to: 'pending',
    });
    expect(back).toMatchObject({
      kind: 'applied',
      node: { status: 'pending', skip_reason: null, completed_at: null },
    });
  });
});

describe('applyNodeTransitions (batch)', () => {
  it('applies many transitions in one statement and reports applied / conflict / not_found per row', async () => {
    const { pool, schema } = db();
    const job = await newJob(db());
    const id = job.job_id;
    const r = await applyNodeTransitions(pool, schema, [
      { jobId: id, nodeId: 'start', from: ['ready'], to: 'completed', set: { output: { started: true } } },
      { jobId: id, nodeId: 'work', from: ['pending'], to: 'ready' },
      { jobId: id, nodeId: 'fan', from: ['ready'], to: 'dispatched' }, // conflict: it is pending
      { jobId: id, nodeId: 'nope', from: ['pending'], to: 'ready' },
      {
        jobId: id,
        nodeId: 'end',
        from: ['pending'],
        to: 'skipped',
        set: { skipReason: 'branch_not_taken' },
        event: { data: { by: 'cond' } },
      },
      { jobId: id, nodeId: 'gather', from: ['pending'], to: 'ready', event: false },
    ]);
    expect(r.results.map((x) => x.kind)).toEqual([
      'applied',
      'applied',
      'conflict',
      'not_found',
      'applied',
      'applied',
    ]);
    expect([r.applied, r.conflicts, r.notFound]).toEqual([4, 1, 1]);
    expect(r.results[0]).toMatchObject({ node: { output: { started: true }, status: 'completed' } });
    expect(r.results[2]).toMatchObject({ current: { node_id: 'fan', status: 'pending' } });
    const ev = await listEvents(pool, schema, id);
    expect(ev.items.map((e) => `${e.node_id ?? ''}:${e.event_type}`)).toEqual([
      ':job_created',
      'start:node_completed',
      'work:node_ready',
      'end:node_skipped',
    ]);
    expect(ev.items[3]!.event_data).toMatchObject({ by: 'cond', skip_reason: 'branch_not_taken' });
  });

  it('rejects the same node twice in one batch', async () => {
    const { pool, schema } = db();
    const job = await newJob(db());
    await expect(
      applyNodeTransitions(pool, schema, [
        { jobId: job.job_id, nodeId: 'work', from: ['pending'], to: 'ready' },
        { jobId: job.job_id, nodeId: 'work', from: ['ready'], to: 'dispatched' },
      ]),
    ).rejects.toBeInstanceOf(DbValidationError);
  });

  it('concurrent overlapping batches from two pools do not deadlock and each node moves once', async () => {
    const { pool, url, schema } = db();
    const other = new pg.Pool({ connectionString: url, max: 4 });
    try {
      const n = 200;
      const job = await newJob(db(), {
        nodes: Array.from({ length: n }, (_, i) => ({ nodeId: `n${i}`, nodeType: 'task' as const })),
      });
      const batch = (order: number[]) =>
        order.map((i) => ({
          jobId: job.job_id,
          nodeId: `n${i}`,
          from: ['pending' as const],
          to: 'ready' as const,
        }));
      const fwd = Array.from({ length: n }, (_, i) => i);
      const rev = [...fwd].reverse();
      const [a, b] = await Promise.all([
        applyNodeTransitions(pool, schema, batch(fwd)),
        applyNodeTransitions(other, schema, batch(rev)),
      ]);
      expect(a.applied + b.applied).toBe(n);
      expect(a.conflicts + b.conflicts).toBe(n);
    } finally {
      await other.end();
    }
  });
});

describe('fan-out children', () => {
  it('inserts children in one statement, idempotently, and reads them back in index order', async () => {
    const { pool, schema } = db();
    const job = await newJob(db());
    const children = Array.from({ length: 25 }, (_, i) => ({
      index: i,
      inputParams: i % 2 ? [i, { nested: [i] }] : { item: `x${i}` },
    }));
    const r1 = await insertFanOutChildren(pool, schema, {
      jobId: job.job_id,
      parentNodeId: 'fan',
      children,
      maxRetries: 4,
    });
    expect(r1).toEqual({ inserted: 25, existing: 0 });
    const r2 = await insertFanOutChildren(pool, schema, {
      jobId: job.job_id,
      parentNodeId: 'fan',
      children,
      maxRetries: 4,
    });
    expect(r2).toEqual({ inserted: 0, existing: 25 });
    const ev = await listEvents(pool, schema, job.job_id, { type: 'fan_out_expanded' });
    expect(ev.items).toHaveLength(1);
    const c3 = await getNode(pool, schema, job.job_id, 'fan__3');
    expect(c3).toMatchObject({
      node_type: 'child',
      parent_node_id: 'fan',
      fan_out_index: 3,
      max_retries: 4,
      input_params: [3, { nested: [3] }],
    });
    // Arrays, objects and strings stay JSON (never a Postgres array).
    const c4 = await getNode(pool, schema, job.job_id, 'fan__4');
    expect(c4!.input_params).toEqual({ item: 'x4' });

    const page1 = await readChildOutputs(pool, schema, { jobId: job.job_id, parentNodeId: 'fan', limit: 10 });
    expect(page1.children.map((c) => c.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(page1.nextAfterIndex).toBe(9);
    const pages: number[][] = [];
    for await (const page of streamChildOutputs(pool, schema, {
      jobId: job.job_id,
      parentNodeId: 'fan',
      pageSize: 7,
    }))
      pages.push(page.map((c) => c.index));
    expect(pages.map((p) => p.length)).toEqual([7, 7, 7, 4]);
    expect(pages.flat()).toEqual(Array.from({ length: 25 }, (_, i) => i));

    const nodes = await listNodes(pool, schema, job.job_id, { parentNodeId: 'fan', limit: 10 });
    expect(nodes.items.map((n) => n.fan_out_index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const next = await listNodes(pool, schema, job.job_id, {
      parentNodeId: 'fan',
      limit: 10,
      cursor: nodes.nextCursor!,
    });
    expect(next.items[0]!.fan_out_index).toBe(10);
    const statics = await listNodes(pool, schema, job.job_id, { parentNodeId: null });
    expect(statics.items).toHaveLength(5);
  });

  it('summarizes children and names the first failed ones', async () => {
    const { pool, schema } = db();
    const job = await newJob(db());
    const children = Array.from({ length: 12 }, (_, i) => ({ index: i, inputParams: { i } }));
    await insertFanOutChildren(pool, schema, {
      jobId: job.job_id,
      parentNodeId: 'fan',
      children,
      maxRetries: 0,
      status: 'ready',
    });
    await applyNodeTransitions(
      pool,
      schema,
      [11, 10, 9, 8, 7, 6, 2].map((i) => ({
        jobId: job.job_id,
        nodeId: `fan__${i}`,
        from: ['ready' as const],
        to: 'failed' as const,
      })),
    );
    const s = await childSummary(pool, schema, { jobId: job.job_id, parentNodeId: 'fan' });
    expect(s.total).toBe(12);
    expect(s.byStatus).toMatchObject({ ready: 5, failed: 7 });
    expect(s.failedNodeIds).toEqual(['fan__2', 'fan__6', 'fan__7', 'fan__8', 'fan__9']);
    expect(s.failedIndexes).toEqual([2, 6, 7, 8, 9]);
  });

  it('rejects bad children before the database', async () => {
    const { pool, schema } = db();
    const job = await newJob(db());
    await expect(
      insertFanOutChildren(pool, schema, {
        jobId: job.job_id,
        parentNodeId: 'fan',
        children: [{ index: -1, inputParams: {} }],
        maxRetries: 0,
      }),
    ).rejects.toBeInstanceOf(DbValidationError);
    await expect(
      insertFanOutChildren(pool, schema, {
        jobId: job.job_id,
        parentNodeId: 'fan',
        children: [{ index: 0, inputParams: { s: 'a\u0000b' } }],
        maxRetries: 0,
      }),
    ).rejects.toBeInstanceOf(DbValidationError);
  });
});

describe('node outputs', () => {
  it('returns status and output for the requested nodes only', async () => {
    const { pool, schema } = db();
    const job = await newJob(db());
    await transitionNode(pool, schema, {
      jobId: job.job_id,
      nodeId: 'start',
      from: ['ready'],
      to: 'completed',
      set: { output: ['a', 'b'] },
    });
    const out = await getNodeOutputs(pool, schema, job.job_id, ['start', 'work', 'missing']);
    expect(out).toEqual({
      start: { status: 'completed', output: ['a', 'b'] },
      work: { status: 'pending', output: null },
    });
  });
});
