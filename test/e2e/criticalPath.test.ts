// What one light task node costs on the critical path of a job (issue 19), counted by the dev host
// (activity invocations per function, orchestration episodes, history events) and by a counter of
// the app's Postgres round trips. The marginal cost of a node — (cost of an 8-node chain − cost of
// a 3-node chain) / 5 — leaves the job's fixed costs (start, end, the job row) out. Fails when a
// light node goes back above one activity invocation or one Postgres round trip.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACTIVITY, jobInstanceId } from '../../activities/contracts';
import { installPgCounter, pgCounts } from '../support/pgCounter';
import { startStack, type Stack } from './stack';

/** The app's pool (DAG_DB_APPLICATION_NAME default); the dev host's own store says "devhost". */
const APP = 'rmhdagmaster';

let stack: Stack;
let failed = false;
beforeAll(async () => {
  installPgCounter();
  stack = await startStack({ shippedWorkflows: false });
  for (const n of [3, 8]) {
    const nodes: Record<string, unknown> = { start: { type: 'start', next: 'n0' }, end: { type: 'end' } };
    for (let i = 0; i < n; i++)
      nodes[`n${i}`] = { type: 'task', handler: 'echo', params: { i }, next: i < n - 1 ? `n${i + 1}` : 'end' };
    stack.writeWorkflow({ workflow_id: `cp_chain${n}`, name: `chain of ${n}`, nodes });
  }
}, 120_000);
afterAll(async () => {
  await stack?.stop(failed);
});

interface Cost {
  activities: Record<string, number>;
  episodes: number;
  historyEvents: number;
  appRoundTrips: number;
}

/** Runs a chain job and counts what it cost (waiting on the dev host, not on the app's API). */
async function cost(workflowId: string, n: number): Promise<Cost> {
  const before = stack.host.stats();
  const pgBefore = pgCounts()[APP] ?? 0;
  const jobId = await stack.submit(workflowId);
  const instance = jobInstanceId(jobId, 1);
  const status = await stack.host.waitForCompletion(instance, 60_000);
  const pgAfter = pgCounts()[APP] ?? 0;
  const after = stack.host.stats();
  expect(status.runtimeStatus).toBe('Completed');
  const job = await stack.schema.pool.query(
    `SELECT status FROM "${stack.schema.schema}".dag_jobs WHERE job_id = $1`,
    [jobId],
  );
  expect(job.rows[0]?.status).toBe('completed');
  const nodes = await stack.schema.pool.query(
    `SELECT count(*)::int AS c FROM "${stack.schema.schema}".dag_node_states WHERE job_id = $1 AND node_id LIKE 'n%' AND status = 'completed'`,
    [jobId],
  );
  expect(nodes.rows[0]?.c).toBe(n);
  const activities: Record<string, number> = {};
  for (const [k, v] of Object.entries(after.activities.byFunction))
    activities[k] = v - (before.activities.byFunction[k] ?? 0);
  return {
    activities,
    episodes: after.orchestrations.episodes - before.orchestrations.episodes,
    historyEvents: (await stack.host.getHistory(instance)).length,
    appRoundTrips: pgAfter - pgBefore,
  };
}

describe('the critical path of a light task node', () => {
  it('costs one activity invocation, one episode, four history events and one Postgres round trip', async () => {
    try {
      await cost('cp_chain3', 3); // warm-up: the job's workflow is compiled and cached per process
      const small = await cost('cp_chain3', 3);
      const large = await cost('cp_chain8', 8);
      const perNode = (f: (c: Cost) => number) => (f(large) - f(small)) / 5;
      const invocations = (c: Cost) => Object.values(c.activities).reduce((a, b) => a + b, 0);
      // Every node runs in exactly one runner call, and nothing else is called per node.
      expect(perNode((c) => c.activities[ACTIVITY.runTasks] ?? 0)).toBe(1);
      expect(perNode(invocations)).toBeLessThanOrEqual(1);
      expect(perNode((c) => c.episodes)).toBeLessThanOrEqual(1);
      // TaskScheduled, TaskCompleted and the episode's OrchestratorStarted/OrchestratorCompleted.
      expect(perNode((c) => c.historyEvents)).toBeLessThanOrEqual(4);
      expect(perNode((c) => c.appRoundTrips)).toBeLessThanOrEqual(1);
    } catch (e) {
      failed = true;
      throw e;
    }
  }, 120_000);
});
