// A straight chain of activity tasks that are not light runs in one runner call while the call is
// within the job's chain budget (DAG_CHAIN_BUDGET_MS, issue 19): each node is recorded as a
// dispatched attempt would be (same events, same rows), its timeout counts from its own start, a
// cancel stops it, and past the budget the orchestration dispatches the rest itself. With the budget
// at 0 (or for a job pinned to scheduler version 2) every node is its own runner call, as before.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACTIVITY, jobInstanceId } from '../../activities/contracts';
import { markingFailure, startStack, type Stack } from './stack';

/** A chain n0 → … of sleep tasks (not light: each would otherwise cost its own runner call). */
function sleepChain(stack: Stack, id: string, seconds: number[], timeouts: number[] = []): void {
  const nodes: Record<string, unknown> = { start: { type: 'start', next: 'n0' }, end: { type: 'end' } };
  seconds.forEach((s, i) => {
    nodes[`n${i}`] = {
      type: 'task',
      handler: 'sleep',
      params: { duration_seconds: s },
      ...(timeouts[i] ? { timeout_seconds: timeouts[i] } : {}),
      next: i < seconds.length - 1 ? `n${i + 1}` : 'end',
    };
  });
  stack.writeWorkflow({ workflow_id: id, name: id, nodes });
}

const runnerCalls = (stack: Stack) => stack.host.stats().activities.byFunction[ACTIVITY.runTasks] ?? 0;

/** Runs a workflow and answers its runner calls and each node's event types, in order. */
async function runCounted(stack: Stack, workflowId: string) {
  const before = runnerCalls(stack);
  const jobId = await stack.submit(workflowId);
  const d = await stack.waitForJob(jobId, 60_000);
  const ev = await stack.schema.pool.query<{ node_id: string; event_type: string }>(
    `SELECT node_id, event_type FROM "${stack.schema.schema}".dag_job_events WHERE job_id = $1 AND node_id NOT IN ('start', 'end') ORDER BY event_id`,
    [jobId],
  );
  const events: Record<string, string[]> = {};
  for (const r of ev.rows) (events[r.node_id] ??= []).push(r.event_type);
  return { jobId, d, calls: runnerCalls(stack) - before, events };
}

const EIGHT = Array.from({ length: 8 }, () => 0);

describe('with the default chain budget (1 s)', () => {
  let stack: Stack;
  let failed = false;
  beforeAll(async () => {
    stack = await startStack({ shippedWorkflows: false });
    sleepChain(stack, 'sleep8', EIGHT);
    // n1 would time out if its 1 s ran from when the orchestration dispatched n0.
    sleepChain(stack, 'own_clock', [0.5, 0.7], [5, 1]);
    sleepChain(stack, 'long_second', [0, 60]);
    // b rides along after a and outlives a's 2 s timeout; p ends meanwhile and wakes the orchestration,
    // which must not take a for timed out (and dispatch b a second time) while the call runs.
    stack.writeWorkflow({
      workflow_id: 'outlive',
      name: 'outlive',
      nodes: {
        start: { type: 'start', next: ['a', 'p'] },
        a: { type: 'task', handler: 'sleep', params: { duration_seconds: 0 }, timeout_seconds: 2, next: 'b' },
        b: { type: 'task', handler: 'sleep', params: { duration_seconds: 5 }, next: 'end' },
        p: { type: 'task', handler: 'sleep', params: { duration_seconds: 3.5 }, next: 'end' },
        end: { type: 'end' },
      },
    });
  }, 120_000);
  afterAll(async () => {
    await stack?.stop(failed);
  });
  const guard = markingFailure(() => {
    failed = true;
  });

  it(
    'runs eight sleep tasks in one runner call, each recorded as a dispatched attempt',
    guard(async () => {
      const r = await runCounted(stack, 'sleep8');
      expect(r.d.job.status).toBe('completed');
      expect(r.calls).toBe(1);
      for (let i = 0; i < 8; i++) {
        expect(r.d.nodes.find((n) => n.node_id === `n${i}`)).toMatchObject({
          status: 'completed',
          attempt: 0,
        });
        expect(r.events[`n${i}`]).toEqual([
          'node_ready',
          'node_dispatched',
          'node_started',
          'node_completed',
        ]);
      }
    }),
    120_000,
  );

  it(
    "counts a chained task's timeout from its own start",
    guard(async () => {
      const r = await runCounted(stack, 'own_clock');
      expect(r.calls).toBe(1);
      expect(r.d.job.status).toBe('completed');
      expect(r.d.nodes.find((n) => n.node_id === 'n1')).toMatchObject({ status: 'completed', attempt: 0 });
    }),
    120_000,
  );

  it(
    'stops a chained task when the job is cancelled',
    guard(async () => {
      const jobId = await stack.submit('long_second');
      // n1 runs in the call that ran n0: wait until it has started.
      for (let t = Date.now(); ;) {
        const r = await stack.schema.pool.query(
          `SELECT status FROM "${stack.schema.schema}".dag_node_states WHERE job_id = $1 AND node_id = 'n1'`,
          [jobId],
        );
        if (r.rows[0]?.status === 'running') break;
        if (Date.now() - t > 30_000) throw new Error(`n1 never started (${r.rows[0]?.status})`);
        await new Promise((res) => setTimeout(res, 50));
      }
      expect((await stack.api('POST', `/api/jobs/${jobId}/cancel`)).status).toBe(202);
      const d = await stack.waitForJob(jobId, 20_000);
      expect(d.job.status).toBe('cancelled');
      expect(d.nodes.find((n) => n.node_id === 'n1')?.status).not.toBe('completed');
      // The orchestration completes once the runner call returns: the cancel watch stopped n1's 60 s
      // sleep (without it this would wait for the sleep).
      const status = await stack.host.waitForCompletion(jobInstanceId(jobId, 1), 30_000);
      expect(status.runtimeStatus).toBe('Completed');
    }),
    120_000,
  );

  it(
    "does not dispatch a chained task again when its call outlives the first attempt's timeout",
    guard(async () => {
      const r = await runCounted(stack, 'outlive');
      expect(r.d.job.status).toBe('completed');
      expect(r.events.b?.filter((e) => e === 'node_started')).toEqual(['node_started']);
      // a with b, and p.
      expect(r.calls).toBe(2);
    }),
    120_000,
  );
});

describe('with the chain budget at 0.5 s, at 0, and on scheduler version 2', () => {
  it('past the budget the orchestration dispatches the rest; at 0 every node is its own call, with the same events', async () => {
    let stack: Stack | undefined;
    let failed = false;
    const start = async (env: Record<string, string>) => {
      stack = await startStack({ shippedWorkflows: false, env });
      return stack;
    };
    const stop = async () => {
      const s = stack;
      stack = undefined;
      await s?.stop(failed);
    };
    try {
      const budgeted = await start({ DAG_CHAIN_BUDGET_MS: '500' });
      sleepChain(budgeted, 'slow6', [0.3, 0.3, 0.3, 0.3, 0.3, 0.3]);
      sleepChain(budgeted, 'sleep8', EIGHT);
      const slow = await runCounted(budgeted, 'slow6');
      expect(slow.d.job.status).toBe('completed');
      // A call starts a node that is not light only before 0.5 s: after two 0.3 s nodes it stops.
      expect(slow.calls).toBeGreaterThanOrEqual(3);
      const chained = await runCounted(budgeted, 'sleep8');
      expect(chained.calls).toBeLessThan(8);
      await stop();

      // Budget 0, or a job pinned to scheduler version 2 (an older build must be able to replay it).
      const unchained: Record<string, string>[] = [
        { DAG_CHAIN_BUDGET_MS: '0' },
        { DAG_SCHEDULER_VERSION: '2' },
      ];
      for (const env of unchained) {
        const s = await start(env);
        sleepChain(s, 'sleep8', EIGHT);
        const alone = await runCounted(s, 'sleep8');
        expect(alone.d.job.status).toBe('completed');
        expect(alone.calls).toBe(8);
        expect(alone.events).toEqual(chained.events);
        await stop();
      }
    } catch (e) {
      failed = true;
      throw e;
    } finally {
      await stop();
    }
  }, 180_000);
});
