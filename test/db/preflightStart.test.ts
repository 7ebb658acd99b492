// The container worker's preflight with `start`: the read and the start of the attempt in one
// statement. Its SQL guard must be exactly decideMessage's way to 'start' (the worker throws if they
// disagree), and what it writes must be what markTaskStarted writes.
import { describe, expect, it } from 'vitest';
import {
  listEvents,
  markTaskStarted,
  preflightTask,
  preflightTasks,
  recordTaskResult,
  requestCancel,
  setJobStatus,
  type Preflight,
} from '../../db';
import { decideMessage } from '../../container-worker/decideMessage';
import type { ContainerTaskMessage } from '../../lib/containerMessages';
import { dispatchedWork as dispatched, newJob, useDeployedSchema } from './helpers';
import type { TestSchema } from '../support/pg';

const db = useDeployedSchema();
const LIMITS = { queue: 'q', maxDequeueCount: 5, staleAfterMs: 60_000 };

const message = (jobId: string, taskId: string, nodeId = 'work') =>
  ({ job_id: jobId, node_id: nodeId, task_id: taskId, attempt: 0 }) as ContainerTaskMessage;

async function look(
  t: TestSchema,
  m: ContainerTaskMessage,
  dequeueCount: number,
  workerId = 'w1',
): Promise<{ pre: Preflight; decision: string }> {
  const pre = await preflightTask(t.pool, t.schema, {
    jobId: m.job_id,
    nodeId: m.node_id,
    taskId: m.task_id,
    withParams: true,
    start: { workerId, sourceApp: 'worker-test', mayRun: dequeueCount <= LIMITS.maxDequeueCount },
  });
  return { pre, decision: decideMessage(pre, m, dequeueCount, pre.checkedAt.getTime(), LIMITS).kind };
}

async function nodeRow(t: TestSchema, jobId: string) {
  const r = await t.pool.query(
    `SELECT status::text, worker_id, version, attempt, task_id, started_at IS NOT NULL AS started
     FROM dag_node_states WHERE job_id = $1 AND node_id = 'work'`,
    [jobId],
  );
  return r.rows[0] as Record<string, unknown>;
}

describe('preflightTask with start: one statement, decideMessage’s guard', () => {
  // Each case: a state, the message's dequeue count, and the decision decideMessage makes on it.
  const cases: Array<{
    name: string;
    decision: string;
    dequeueCount?: number;
    setup: (t: TestSchema) => Promise<ContainerTaskMessage>;
  }> = [
    {
      name: 'dispatched, job running',
      decision: 'start',
      setup: async (t) => {
        const { jobId, taskId } = await dispatched(t);
        return message(jobId, taskId);
      },
    },
    {
      name: 'dispatched, job still pending',
      decision: 'start',
      setup: async (t) => {
        const { jobId, taskId } = await dispatched(t, { pending: true });
        return message(jobId, taskId);
      },
    },
    {
      name: 'delivered once too often',
      decision: 'poison',
      dequeueCount: LIMITS.maxDequeueCount + 1,
      setup: async (t) => {
        const { jobId, taskId } = await dispatched(t);
        return message(jobId, taskId);
      },
    },
    {
      name: 'the message of an older attempt',
      decision: 'record',
      setup: async (t) => {
        const { jobId } = await dispatched(t);
        return message(jobId, `${jobId}_work_older`);
      },
    },
    {
      name: 'running at another worker (fresh heartbeat)',
      decision: 'defer',
      setup: async (t) => {
        const { jobId, taskId } = await dispatched(t);
        await markTaskStarted(t.pool, t.schema, { jobId, nodeId: 'work', taskId, workerId: 'other' });
        return message(jobId, taskId);
      },
    },
    {
      name: 'running, handed back (no holder)',
      decision: 'take-over',
      setup: async (t) => {
        const { jobId, taskId } = await dispatched(t);
        await markTaskStarted(t.pool, t.schema, { jobId, nodeId: 'work', taskId, workerId: 'other' });
        await t.pool.query(
          `UPDATE dag_node_states SET worker_id = NULL, heartbeat_at = NULL WHERE job_id = $1`,
          [jobId],
        );
        return message(jobId, taskId);
      },
    },
    {
      name: 'cancel requested',
      decision: 'record',
      setup: async (t) => {
        const { jobId, taskId } = await dispatched(t);
        await requestCancel(t.pool, t.schema, { jobId });
        return message(jobId, taskId);
      },
    },
    {
      name: 'job failed',
      decision: 'record',
      setup: async (t) => {
        const { jobId, taskId } = await dispatched(t);
        await setJobStatus(t.pool, t.schema, { jobId, from: ['running'], to: 'failed' });
        return message(jobId, taskId);
      },
    },
    {
      name: 'result recorded (node completed)',
      decision: 'acknowledge',
      setup: async (t) => {
        const { jobId, taskId } = await dispatched(t);
        await recordTaskResult(t.pool, t.schema, {
          taskId,
          jobId,
          nodeId: 'work',
          attempt: 0,
          status: 'completed',
          output: {},
          workerId: 'other',
        });
        return message(jobId, taskId);
      },
    },
    {
      name: 'result row while the node is still dispatched',
      decision: 'acknowledge',
      setup: async (t) => {
        const { jobId, taskId } = await dispatched(t);
        await t.adminPool.query(
          `INSERT INTO "${t.schema}".dag_task_results (task_id, job_id, node_id, attempt, status, disposition)
           VALUES ($1, $2, 'work', 0, 'failed', 'applied')`,
          [taskId, jobId],
        );
        return message(jobId, taskId);
      },
    },
    {
      name: 'node not dispatched yet (pending)',
      decision: 'record',
      setup: async (t) => {
        const job = await newJob(t);
        return message(job.job_id, `${job.job_id}_work_0`);
      },
    },
    {
      name: 'no such node',
      decision: 'drop',
      setup: async (t) => {
        const { jobId, taskId } = await dispatched(t);
        return message(jobId, taskId, 'nope');
      },
    },
    {
      name: 'no such job',
      decision: 'drop',
      setup: async () => message('no-such-job', 'no-such-job_work_0'),
    },
  ];

  for (const c of cases) {
    it(`${c.name}: decision ${c.decision}, started only on start`, async () => {
      const t = db();
      const m = await c.setup(t);
      const before = await nodeRow(t, m.job_id);
      const { pre, decision } = await look(t, m, c.dequeueCount ?? 1);
      expect(decision).toBe(c.decision);
      expect(pre.started).toBe(decision === 'start');
      const after = await nodeRow(t, m.job_id);
      if (decision === 'start') {
        expect(after).toMatchObject({ status: 'running', worker_id: 'w1', started: true });
        expect(after!.version).toBe((before!.version as number) + 1);
        // What it read is the row before the start (decideMessage judged it).
        expect(pre.node).toMatchObject({ status: 'dispatched', taskId: m.task_id, inputParams: null });
      } else expect(after).toEqual(before);
    });
  }

  it('writes what markTaskStarted writes: the node row and its node_started event', async () => {
    const t = db();
    const a = await dispatched(t);
    const b = await dispatched(t);
    await look(t, message(a.jobId, a.taskId), 1, 'w1');
    await markTaskStarted(
      t.pool,
      t.schema,
      { jobId: b.jobId, nodeId: 'work', taskId: b.taskId, workerId: 'w1' },
      { sourceApp: 'worker-test' },
    );
    const strip = (r: Record<string, unknown>) => ({ ...r, task_id: undefined });
    expect(strip(await nodeRow(t, a.jobId))).toEqual(strip(await nodeRow(t, b.jobId)));
    const started = async (jobId: string) =>
      (await listEvents(t.pool, t.schema, jobId, { type: 'node_started' })).items.map((e) => ({
        node_id: e.node_id,
        event_status: e.event_status,
        event_data: e.event_data,
        source_app: e.source_app,
      }));
    const ea = await started(a.jobId);
    expect(ea).toEqual(await started(b.jobId));
    expect(ea).toMatchObject([{ event_data: { from: 'dispatched', to: 'running', worker_id: 'w1' } }]);
  });

  it('two workers at once: one starts the attempt, the other is told it did not', async () => {
    const t = db();
    const { jobId, taskId } = await dispatched(t);
    const m = message(jobId, taskId);
    const [x, y] = await Promise.all([look(t, m, 1, 'w1'), look(t, m, 1, 'w2')]);
    expect([x.pre.started, y.pre.started].filter(Boolean)).toHaveLength(1);
    const winner = x.pre.started ? 'w1' : 'w2';
    expect(await nodeRow(t, jobId)).toMatchObject({ status: 'running', worker_id: winner });
    // The loser's fallback (what the worker does when not started) finds it running: it defers.
    const loser = await markTaskStarted(t.pool, t.schema, {
      jobId,
      nodeId: 'work',
      taskId,
      workerId: winner === 'w1' ? 'w2' : 'w1',
    });
    expect(loser.kind).toBe('already_running');
  });

  it('every case at once in one statement (preflightTasks): the same answers, in input order', async () => {
    const t = db();
    const ms: ContainerTaskMessage[] = [];
    for (const c of cases) ms.push(await c.setup(t));
    const before = await Promise.all(ms.map((m) => nodeRow(t, m.job_id)));
    const counts = cases.map((c) => c.dequeueCount ?? 1);
    const pres = await preflightTasks(
      t.pool,
      t.schema,
      ms.map((m, i) => ({
        jobId: m.job_id,
        nodeId: m.node_id,
        taskId: m.task_id,
        withParams: i % 2 === 0,
        start: { workerId: 'w1', sourceApp: 'worker-test', mayRun: counts[i]! <= LIMITS.maxDequeueCount },
      })),
    );
    expect(pres).toHaveLength(cases.length);
    for (const [i, pre] of pres.entries()) {
      const decision = decideMessage(pre, ms[i]!, counts[i]!, pre.checkedAt.getTime(), LIMITS).kind;
      expect({ case: cases[i]!.name, decision }).toEqual({
        case: cases[i]!.name,
        decision: cases[i]!.decision,
      });
      expect(pre.started).toBe(decision === 'start');
      const after = await nodeRow(t, ms[i]!.job_id);
      if (decision === 'start') expect(after).toMatchObject({ status: 'running', worker_id: 'w1' });
      else expect(after).toEqual(before[i]);
    }
  });

  it('one statement does not start one node twice, nor for two source apps', async () => {
    const t = db();
    const a = await dispatched(t);
    const b = await dispatched(t);
    const input = (jobId: string, taskId: string, sourceApp = 'worker-test') => ({
      jobId,
      nodeId: 'work',
      taskId,
      withParams: false,
      start: { workerId: 'w1', sourceApp, mayRun: true },
    });
    await expect(
      preflightTasks(t.pool, t.schema, [input(a.jobId, a.taskId), input(a.jobId, `${a.jobId}_work_older`)]),
    ).rejects.toThrow(/appears twice/);
    await expect(
      preflightTasks(t.pool, t.schema, [input(a.jobId, a.taskId), input(b.jobId, b.taskId, 'other-app')]),
    ).rejects.toThrow(/one source app/);
    expect(await nodeRow(t, a.jobId)).toMatchObject({ status: 'dispatched' });
  });
});
