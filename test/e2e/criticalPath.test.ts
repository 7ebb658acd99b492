// What one task node costs on the critical path of a job (issue 19), counted by the dev host
// (activity invocations per function, orchestration episodes, history events) and by a counter of
// the app's Postgres round trips. The marginal cost of a node — (cost of an 8-node chain − cost of
// a 3-node chain) / 5 — leaves the job's fixed costs (start, end, the job row) out. Fails when a
// light node goes back above one activity invocation or one Postgres round trip, or a container node
// above one enqueue and two app Postgres round trips.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACTIVITY, jobInstanceId } from '../../activities/contracts';
import { startContainerWorker, type ContainerWorker } from '../../container-worker';
import { installPgCounter, pgCounts } from '../support/pgCounter';
import { testLogger } from '../worker/support';
import { markingFailure, startStack, type Stack } from './stack';

/** The app's pool (DAG_DB_APPLICATION_NAME default); the dev host's own store says "devhost". */
const APP = 'rmhdagmaster';
/** The container worker's pool. */
const WORKER = 'dag-container-worker';
const CONTAINER_QUEUE = 'cp-container';

let stack: Stack;
let worker: ContainerWorker | undefined;
let failed = false;
beforeAll(async () => {
  installPgCounter();
  stack = await startStack({ shippedWorkflows: false });
  // Chains of echo tasks: light ones (n0, n1, …), and container ones (c0, …: each node's message goes
  // to the worker and back).
  const chain = (id: string, n: number, prefix: string, task: Record<string, unknown>) => {
    const nodes: Record<string, unknown> = {
      start: { type: 'start', next: `${prefix}0` },
      end: { type: 'end' },
    };
    for (let i = 0; i < n; i++)
      nodes[`${prefix}${i}`] = { ...task, params: { i }, next: i < n - 1 ? `${prefix}${i + 1}` : 'end' };
    stack.writeWorkflow({ workflow_id: id, name: `${id}: a chain of ${n}`, nodes });
  };
  for (const n of [3, 8]) {
    chain(`cp_chain${n}`, n, 'n', { type: 'task', handler: 'echo' });
    chain(`cp_container${n}`, n, 'c', { type: 'task', handler: 'echo', queue: CONTAINER_QUEUE });
  }
  // Parallel light nodes: none can ride along with another, so each costs its own runner call.
  for (const n of [3, 8]) {
    const ids = Array.from({ length: n }, (_, i) => `p${i}`);
    const nodes: Record<string, unknown> = { start: { type: 'start', next: ids }, end: { type: 'end' } };
    for (const [i, id] of ids.entries())
      nodes[id] = { type: 'task', handler: 'echo', params: { i }, next: 'end' };
    stack.writeWorkflow({ workflow_id: `cp_par${n}`, name: `${n} in parallel`, nodes });
  }
  // Fan-outs of echo children: 250 unbounded, and 16 with max_parallel 8.
  const fan = (id: string, n: number, maxParallel?: number) =>
    stack.writeWorkflow({
      workflow_id: id,
      name: `fan-out of ${n}`,
      nodes: {
        start: { type: 'start', next: 'split' },
        split: {
          type: 'fan_out',
          source: `{{ range(0, ${n}) }}`,
          ...(maxParallel ? { max_parallel: maxParallel } : {}),
          task: { handler: 'echo', params: { i: '{{ index }}' } },
          next: 'join',
        },
        join: { type: 'fan_in', aggregation: 'collect', next: 'end' },
        end: { type: 'end' },
      },
    });
  fan('cp_fan250', 250);
  fan('cp_fan16_mp8', 16, 8);
  // A chain the runner cannot take in one call: b reads a's output, b2 reads b's, c is not light
  // (sleep: taken along within the chain budget), d fails with one retry, e never runs.
  stack.writeWorkflow({
    workflow_id: 'cp_mixed',
    name: 'mixed chain',
    nodes: {
      start: { type: 'start', next: 'a' },
      a: { type: 'task', handler: 'echo', params: { v: 'x' }, next: 'b' },
      b: {
        type: 'task',
        handler: 'echo',
        params: { from_a: '{{ nodes.a.output.echoed_params.v }}' },
        next: 'b2',
      },
      // Reads b, which ran in the same call and is recorded first.
      b2: {
        type: 'task',
        handler: 'echo',
        params: { from_b: '{{ nodes.b.output.echoed_params.from_a }}!' },
        next: 'c',
      },
      c: { type: 'task', handler: 'sleep', params: { duration_seconds: 0.01 }, next: 'd' },
      d: {
        type: 'task',
        handler: 'fail',
        params: { error_message: 'planned' },
        retry: { max_attempts: 1, backoff: 'fixed', initial_delay_seconds: 1, max_delay_seconds: 1 },
        next: 'e',
      },
      e: { type: 'task', handler: 'echo', params: {}, next: 'end' },
      end: { type: 'end' },
    },
  });
}, 120_000);
afterAll(async () => {
  await worker?.stop();
  await stack?.stop(failed);
});

interface Cost {
  activities: Record<string, number>;
  episodes: number;
  historyEvents: number;
  appRoundTrips: number;
  workerRoundTrips: number;
}

/** Runs a chain job and counts what it cost (waiting on the dev host, not on the app's API). */
async function cost(workflowId: string, n: number, prefix = 'n'): Promise<Cost> {
  const before = stack.host.stats();
  const pgBefore = pgCounts()[APP] ?? 0;
  const workerBefore = pgCounts()[WORKER] ?? 0;
  const jobId = await stack.submit(workflowId);
  const instance = jobInstanceId(jobId, 1);
  const status = await stack.host.waitForCompletion(instance, 60_000);
  const pgAfter = pgCounts()[APP] ?? 0;
  const workerAfter = pgCounts()[WORKER] ?? 0;
  const after = stack.host.stats();
  expect(status.runtimeStatus).toBe('Completed');
  const job = await stack.schema.pool.query(
    `SELECT status FROM "${stack.schema.schema}".dag_jobs WHERE job_id = $1`,
    [jobId],
  );
  expect(job.rows[0]?.status).toBe('completed');
  const nodes = await stack.schema.pool.query(
    `SELECT count(*)::int AS c FROM "${stack.schema.schema}".dag_node_states WHERE job_id = $1 AND node_id LIKE $2 AND status = 'completed'`,
    [jobId, `${prefix}%`],
  );
  expect(nodes.rows[0]?.c).toBe(n);
  const activities: Record<string, number> = {};
  for (const [k, v] of Object.entries(after.activities.byFunction)) {
    const calls = v - (before.activities.byFunction[k] ?? 0);
    if (calls) activities[k] = calls;
  }
  return {
    activities,
    episodes: after.orchestrations.episodes - before.orchestrations.episodes,
    historyEvents: (await stack.host.getHistory(instance)).length,
    appRoundTrips: pgAfter - pgBefore,
    workerRoundTrips: workerAfter - workerBefore,
  };
}

describe('a chain run by the runner in one call', () => {
  it(
    'renders from the node before, takes a node that is not light along, stops after a failure, and retries as usual',
    tracked(async () => {
      const before = stack.host.stats().activities.byFunction[ACTIVITY.runTasks] ?? 0;
      const jobId = await stack.submit('cp_mixed');
      const d = await stack.waitForJob(jobId, 60_000);
      expect(d.job.status).toBe('failed');
      const node = (id: string) => d.nodes.find((n) => n.node_id === id)!;
      expect(node('a')).toMatchObject({ status: 'completed', attempt: 0 });
      expect(node('b')).toMatchObject({ status: 'completed', output: { echoed_params: { from_a: 'x' } } });
      expect(node('b2')).toMatchObject({ status: 'completed', output: { echoed_params: { from_b: 'x!' } } });
      expect(node('c')).toMatchObject({ status: 'completed' });
      expect(node('d')).toMatchObject({ status: 'failed', attempt: 1, error_message: 'planned' });
      expect(node('e')).toMatchObject({ status: 'skipped' });
      // a, b, b2, c (not light, within the default 1 s chain budget) and d's first attempt in one
      // call; d's retry alone. test/e2e/chainBudget.test.ts runs chains past the budget and without one.
      expect((stack.host.stats().activities.byFunction[ACTIVITY.runTasks] ?? 0) - before).toBe(2);
      const events = await stack.schema.pool.query(
        `SELECT node_id, event_type FROM "${stack.schema.schema}".dag_job_events WHERE job_id = $1 AND node_id = 'd' ORDER BY event_id`,
        [jobId],
      );
      expect(events.rows.map((r) => r.event_type)).toEqual([
        'node_ready',
        'node_dispatched',
        'node_started',
        'node_retry',
        'node_dispatched',
        'node_started',
        'node_failed',
      ]);
    }),
    120_000,
  );
});

const tracked = markingFailure(() => {
  failed = true;
});

/**
 * The marginal cost of a node: after a warm-up run of the small job (the workflow compiled and
 * cached, the result keys read), (cost of the 8-node job − cost of the 3-node job) / 5.
 */
async function perNodeCost(
  small: string,
  large: string,
  prefix = 'n',
): Promise<(f: (c: Cost) => number) => number> {
  await cost(small, 3, prefix);
  const s = await cost(small, 3, prefix);
  const l = await cost(large, 8, prefix);
  return (f) => (f(l) - f(s)) / 5;
}

const invocations = (c: Cost) => Object.values(c.activities).reduce((a, b) => a + b, 0);

describe('the critical path of a light task node', () => {
  it(
    'alone (not in a chain): one runner call and one Postgres round trip',
    tracked(async () => {
      const perNode = await perNodeCost('cp_par3', 'cp_par8', 'p');
      expect(perNode((c) => c.activities[ACTIVITY.runTasks] ?? 0)).toBe(1);
      expect(perNode(invocations)).toBe(1);
      expect(perNode((c) => c.appRoundTrips)).toBeLessThanOrEqual(1);
      // TaskScheduled and TaskCompleted; parallel results may share episodes.
      expect(perNode((c) => c.historyEvents)).toBeLessThanOrEqual(4);
    }),
    120_000,
  );

  it(
    'costs at most one activity invocation, one episode, four history events and one Postgres round trip',
    tracked(async () => {
      const perNode = await perNodeCost('cp_chain3', 'cp_chain8');
      // At most one runner call per node (a straight chain of light nodes shares calls), and
      // nothing else is called per node.
      expect(perNode(invocations)).toBeLessThanOrEqual(1);
      expect(perNode((c) => c.activities[ACTIVITY.runTasks] ?? 0)).toBeLessThanOrEqual(1);
      expect(perNode((c) => c.episodes)).toBeLessThanOrEqual(1);
      // TaskScheduled, TaskCompleted and the episode's OrchestratorStarted/OrchestratorCompleted.
      expect(perNode((c) => c.historyEvents)).toBeLessThanOrEqual(4);
      expect(perNode((c) => c.appRoundTrips)).toBeLessThanOrEqual(1);
    }),
    120_000,
  );
});

describe('a container task node', () => {
  it(
    'costs one enqueue, two orchestration episodes and at most two app Postgres round trips (the worker two of its own)',
    tracked(async () => {
      worker = await startContainerWorker({
        queues: [CONTAINER_QUEUE],
        storageConnectionString: stack.azurite.connectionString,
        databaseUrl: stack.schema.url,
        schema: stack.schema.schema,
        pollIntervalMs: 50,
        logger: testLogger(),
      });
      const perNode = await perNodeCost('cp_container3', 'cp_container8', 'c');
      expect(perNode((c) => c.activities[ACTIVITY.enqueueContainerTasks] ?? 0)).toBe(1);
      expect(perNode(invocations)).toBe(1);
      expect(perNode((c) => c.episodes)).toBeLessThanOrEqual(2);
      // The dispatch and the sent message's receipt; the result trigger reads nothing for a signed
      // result (measured 2; 3 when it reads). Background work that happens to fall in the longer
      // job (a timer trigger's sweep here, the worker's cancel watch every 2 s there) may add one or
      // two statements: up to 0.4 per node.
      expect(perNode((c) => c.appRoundTrips)).toBeLessThanOrEqual(2.5);
      // The claim with the start, and the result record (measured 2–2.2).
      expect(perNode((c) => c.workerRoundTrips)).toBeLessThanOrEqual(2.5);
    }),
    120_000,
  );
});

describe("a job's fixed calls", () => {
  it(
    'the structural steps share recording calls: job start with the start node, the end node with the job end',
    tracked(async () => {
      const c = await cost('cp_chain3', 3);
      // Load; record (job started, start passed) before the runner call that takes the whole chain;
      // record (end passed, job completed). One recording call per step made it 6 calls, 7 episodes.
      expect(c.activities).toEqual({
        [ACTIVITY.loadJob]: 1,
        [ACTIVITY.recordTransitions]: 2,
        [ACTIVITY.runTasks]: 1,
      });
      expect(c.episodes).toBe(5);
    }),
    120_000,
  );
});

describe("a fan-out's children per runner call", () => {
  const runnerCalls = async (workflowId: string) => {
    const before = stack.host.stats().activities.byFunction[ACTIVITY.runTasks] ?? 0;
    const jobId = await stack.submit(workflowId);
    const d = await stack.waitForJob(jobId, 60_000);
    expect(d.job.status).toBe('completed');
    return (stack.host.stats().activities.byFunction[ACTIVITY.runTasks] ?? 0) - before;
  };

  it.each([
    // 100 + 100 + 50.
    ['unbounded: DAG_ACTIVITY_BATCH_SIZE (100) children per call', 'cp_fan250', 3],
    // Windows of 8 in batches of 2: a call's finished children wait only for their one sibling.
    [
      'with max_parallel: a quarter of the window per call, so one slow child holds few slots',
      'cp_fan16_mp8',
      8,
    ],
  ] as const)(
    '%s',
    (_what, workflowId, calls) =>
      tracked(async () => {
        expect(await runnerCalls(workflowId)).toBe(calls);
      })(),
    120_000,
  );
});
