// Finished work stays finished (issue 22.1): the Function App is SIGKILLed while a container task
// runs, stays down until after the task's deadline, and starts again. The worker recorded its result
// in Postgres meanwhile; the orchestration's deadline timer fires first on restart, and must apply
// that result — not fail the attempt, retry it, have the retry refused as stale and fail the job.
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { startContainerWorker, type ContainerWorker } from '../../container-worker';
import { launchAzurite, type AzuriteInstance } from '../../devhost';
import type { HostProcess } from '../devhost/devHostProcess';
import { createTestSchema, type TestSchema } from '../support/pg';
import { queueClient, testLogger, waitFor } from '../worker/support';
import {
  api,
  dropSchemas,
  killHard,
  removeDir,
  startAppProcess,
  waitForJobEnd,
  workflowsDirWith,
} from './appProcess';
import { nodeOf } from './stack';

const RESULTS = 'results-fa-crash';
const WF = {
  workflow_id: 'fa_crash',
  name: 'container task across a Function App crash',
  nodes: {
    start: { type: 'start', next: 'nap' },
    nap: {
      type: 'task',
      handler: 'sleep',
      queue: 'container-tasks',
      params: { duration_seconds: 3 },
      timeout_seconds: 8,
      retry: { max_attempts: 2, initial_delay_seconds: 0 },
      next: 'after',
    },
    after: {
      type: 'task',
      handler: 'echo',
      params: { slept: '{{ nodes.nap.output.slept_for }}' },
      next: 'end',
    },
    end: { type: 'end' },
  },
};

let schema: TestSchema;
let azurite: AzuriteInstance;
let worker: ContainerWorker;
let workflowsDir: string;
let failed = false;
const hosts: HostProcess[] = [];

beforeAll(async () => {
  schema = await createTestSchema('facrash');
  await schema.migrate();
  azurite = await launchAzurite();
  workflowsDir = workflowsDirWith([WF]);
  worker = await startContainerWorker({
    queues: ['container-tasks'],
    storageConnectionString: azurite.connectionString,
    databaseUrl: schema.url,
    schema: schema.schema,
    visibilityTimeoutSeconds: 5,
    pollIntervalMs: 100,
    cancelPollIntervalMs: 500,
    logger: testLogger(),
  });
}, 120_000);

afterAll(async () => {
  for (const h of hosts) await killHard(h);
  await worker?.stop();
  await azurite?.stop().catch(() => undefined);
  removeDir(workflowsDir);
  if (schema) await dropSchemas(schema, failed);
});

const start = async () => {
  const h = await startAppProcess({
    schema,
    storage: azurite.connectionString,
    workflowsDir,
    taskHub: 'facrash',
    resultQueue: RESULTS,
  });
  hosts.push(h);
  return h;
};

async function nodeRow(jobId: string, nodeId: string) {
  const r = await schema.pool.query<{ status: string; attempt: number; deadline_at: Date | null }>(
    `SELECT status::text AS status, attempt, deadline_at FROM "${schema.schema}".dag_node_states
     WHERE job_id = $1 AND node_id = $2`,
    [jobId, nodeId],
  );
  return r.rows[0]!;
}

/**
 * Submits, kills the app while `nap` runs on the worker, waits for the worker's result in Postgres
 * and for the attempt's deadline to pass, runs `whileDown`, starts the app again and returns the job.
 */
async function crashAcrossDeadline(whileDown: () => Promise<void> = async () => undefined) {
  const first = await start();
  const submit = await api<{ job_id: string }>(first.url, 'POST', '/api/jobs', { workflow_id: 'fa_crash' });
  expect(submit.status).toBe(202);
  const jobId = submit.body.job_id;
  const running = await waitFor('nap running on the worker', async () => {
    const n = await nodeRow(jobId, 'nap');
    return n.status === 'running' ? n : undefined;
  });
  await killHard(first);
  hosts.splice(hosts.indexOf(first), 1);
  await waitFor('the worker recorded its result', async () =>
    (await nodeRow(jobId, 'nap')).status === 'completed' ? true : undefined,
  );
  // Down until well past the attempt's deadline: its timer is due the moment the app is back.
  const deadline = running.deadline_at!.getTime();
  await new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now()) + 1500));
  await whileDown();
  const second = await start();
  const d = await waitForJobEnd(second.url, jobId, 60_000).catch(async (err: unknown) => {
    const st = await api(
      second.url,
      'GET',
      `/runtime/webhooks/durabletask/instances/${jobId}?showHistory=true`,
    );
    console.error(JSON.stringify(st.body).slice(0, 6000), second.output().slice(-4000));
    throw err;
  });
  await killHard(second);
  hosts.splice(hosts.indexOf(second), 1);
  const events = await schema.pool.query<{ node_id: string; event_type: string }>(
    `SELECT node_id, event_type::text FROM "${schema.schema}".dag_job_events WHERE job_id = $1`,
    [jobId],
  );
  return { jobId, d, events: events.rows };
}

function expectWorkersResult(r: Awaited<ReturnType<typeof crashAcrossDeadline>>) {
  expect(r.d.job.status, r.d.job.error_message ?? '').toBe('completed');
  expect(nodeOf(r.d, 'nap')).toMatchObject({
    status: 'completed',
    attempt: 0,
    task_id: `${r.jobId}_nap_0`,
    output: { slept_for: 3 },
  });
  expect(nodeOf(r.d, 'after')).toMatchObject({
    status: 'completed',
    output: { echoed_params: { slept: 3 } },
  });
  const nap = r.events.filter((e) => e.node_id === 'nap').map((e) => e.event_type);
  expect(nap.filter((t) => t === 'node_completed')).toHaveLength(1);
  expect(nap).not.toContain('node_retry');
  expect(nap).not.toContain('node_timeout');
  expect(nap).not.toContain('node_failed');
}

describe('a container result recorded while the Function App is down, past the deadline', () => {
  it('SIGKILL, down past the timeout, restart: the job completes with the worker’s result', async () => {
    onTestFailed(() => {
      failed = true;
    });
    expectWorkersResult(await crashAcrossDeadline());
  }, 120_000);

  it('the result message held by a crashed instance (never raised): the deadline finds the result in Postgres', async () => {
    onTestFailed(() => {
      failed = true;
    });
    const held = await crashAcrossDeadline(async () => {
      // A Function App instance that took the message and died holds it invisible for its lease.
      const q = queueClient(azurite.connectionString, RESULTS);
      const got = await q.receiveMessages({ numberOfMessages: 32, visibilityTimeout: 600 });
      expect(got.receivedMessageItems.length).toBeGreaterThan(0);
    });
    expectWorkersResult(held);
  }, 120_000);
});
