// Nothing waits for its deadline on work nobody is doing (issue 22.2): a container task message lost
// from its queue — before any worker took it, or after its worker died — is found by the reconciler
// (no sign of life for N heartbeats, and the message is gone from the queue), reported in
// /api/health, and sent again as the same attempt, long before the attempt's one-hour timeout. A
// message that merely waits in a backlog is left alone.
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { startContainerWorker, type ContainerWorker } from '../../container-worker';
import { approximateCount, queueClient, spawnWorkerProcess, testLogger, waitFor } from '../worker/support';
import { nodeOf, startStack, type Stack } from './stack';

const QUEUE = 'stranded-tasks';
let stack: Stack;
let failed = false;
const workers: ContainerWorker[] = [];
const children: ChildProcess[] = [];

beforeAll(async () => {
  stack = await startStack({
    env: {
      // 1 s heartbeats, 2 silent beats: an attempt is looked for after 2 s without a sign of life.
      DAG_WORKER_HEARTBEAT_SECONDS: '1',
      DAG_STRANDED_AFTER_HEARTBEATS: '2',
    },
  });
  stack.writeWorkflow({
    workflow_id: 'lost_task',
    name: 'a container task whose message gets lost',
    inputs: { seconds: { type: 'number', required: false, default: 1 } },
    nodes: {
      start: { type: 'start', next: 'work' },
      work: {
        type: 'task',
        handler: 'sleep',
        queue: QUEUE,
        params: { duration_seconds: '{{ inputs.seconds }}' },
        timeout_seconds: 3600,
        retry: { max_attempts: 0 },
        next: 'end',
      },
      end: { type: 'end' },
    },
  });
}, 120_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await Promise.all(workers.map((w) => w.stop()));
  await stack?.stop(failed);
});

const startWorker = async () => {
  const w = await startContainerWorker({
    queues: [QUEUE],
    storageConnectionString: stack.azurite.connectionString,
    databaseUrl: stack.schema.url,
    schema: stack.schema.schema,
    visibilityTimeoutSeconds: 3,
    pollIntervalMs: 100,
    cancelPollIntervalMs: 300,
    logger: testLogger(),
  });
  workers.push(w);
  return w;
};

async function node(jobId: string) {
  const r = await stack.schema.pool.query<{ status: string; worker_id: string | null }>(
    `SELECT status::text AS status, worker_id FROM "${stack.schema.schema}".dag_node_states
     WHERE job_id = $1 AND node_id = 'work'`,
    [jobId],
  );
  return r.rows[0]!;
}

interface Health {
  status: string;
  checks: {
    attempts: {
      status: string;
      details: {
        waiting_in_queue: number;
        stranded: Array<{ task_id: string; status: string; reason: string }>;
      };
    };
  };
}
const health = async () => (await stack.api<Health>('GET', '/api/health')).body.checks.attempts;

/** Takes the visible task message off the queue for good, as a queue that lost it would. */
async function loseTheMessage(): Promise<void> {
  const q = queueClient(stack.azurite.connectionString, QUEUE);
  const got = await waitFor('the task message', async () => {
    const r = await q.receiveMessages({ numberOfMessages: 1, visibilityTimeout: 30 });
    return r.receivedMessageItems[0];
  });
  await q.deleteMessage(got.messageId, got.popReceipt);
}

async function requeuedEvents(jobId: string) {
  const r = await stack.schema.pool.query<{ event_type: string; event_data: Record<string, unknown> }>(
    `SELECT event_type::text, event_data FROM "${stack.schema.schema}".dag_job_events
     WHERE job_id = $1 AND node_id = 'work' ORDER BY event_id`,
    [jobId],
  );
  return r.rows;
}

describe('stranded container attempts', () => {
  it('a task message lost before any worker took it: reported, sent again, done long before the timeout', async () => {
    onTestFailed(() => {
      failed = true;
    });
    const jobId = await stack.submit('lost_task');
    await waitFor('dispatched', async () => (await node(jobId)).status === 'dispatched');
    // Quiet past the threshold, but the message waits in the queue (no worker yet): not stranded.
    await new Promise((r) => setTimeout(r, 2500));
    const waiting = await health();
    expect(waiting.status).toBe('healthy');
    expect(waiting.details.stranded).toEqual([]);
    expect(waiting.details.waiting_in_queue).toBeGreaterThanOrEqual(1);
    await stack.host.runTimer('reconcileJobs');
    expect(await approximateCount(queueClient(stack.azurite.connectionString, QUEUE))).toBe(1);

    await loseTheMessage();
    await new Promise((r) => setTimeout(r, 2500));
    const lost = await health();
    expect(lost.status).toBe('degraded');
    expect(lost.details.stranded).toEqual([
      expect.objectContaining({ task_id: `${jobId}_work_0`, status: 'dispatched' }),
    ]);
    expect(lost.details.stranded[0]!.reason).toMatch(/never started.*no longer in queue "stranded-tasks"/);

    await startWorker();
    const t0 = Date.now();
    await stack.host.runTimer('reconcileJobs');
    const d = await stack.waitForJob(jobId, 30_000);
    expect(d.job.status, d.job.error_message ?? '').toBe('completed');
    expect(Date.now() - t0).toBeLessThan(30_000); // the attempt's timeout is 3600 s
    // The same attempt, sent once more: no retry spent on a message the queue lost.
    expect(nodeOf(d, 'work')).toMatchObject({ status: 'completed', attempt: 0, task_id: `${jobId}_work_0` });
    const evs = await requeuedEvents(jobId);
    expect(evs.filter((e) => e.event_type === 'node_requeued')).toHaveLength(1);
    expect(evs.filter((e) => e.event_type === 'node_completed')).toHaveLength(1);
    expect((await health()).details.stranded).toEqual([]);
  }, 90_000);

  it('a worker that died holding the task, and the message lost: taken over and finished', async () => {
    onTestFailed(() => {
      failed = true;
    });
    // A worker process that will be SIGKILLed mid-task (1 s heartbeats with a 3 s lease).
    const dying = spawnWorkerProcess('container-worker/main.ts', {
      schema: stack.schema.schema,
      storage: stack.azurite.connectionString,
      env: {
        DAG_WORKER_QUEUES: QUEUE,
        DAG_WORKER_POLL_INTERVAL_MS: '100',
        DAG_WORKER_ID: 'doomed',
        LOG_LEVEL: 'error',
      },
      quiet: true,
    });
    children.push(dying);
    for (const w of workers.splice(0)) await w.stop();
    const jobId = await stack.submit('lost_task', { seconds: 4 });
    await waitFor('running on the doomed worker', async () => {
      const n = await node(jobId);
      return n.status === 'running' && n.worker_id === 'doomed';
    });
    dying.kill('SIGKILL');
    // Its lease ends and the message reappears; the queue loses it then.
    await loseTheMessage();
    await new Promise((r) => setTimeout(r, 2500));
    const lost = await health();
    expect(lost.details.stranded).toEqual([
      expect.objectContaining({ task_id: `${jobId}_work_0`, status: 'running' }),
    ]);
    expect(lost.details.stranded[0]!.reason).toMatch(/no heartbeat from worker doomed/);

    await startWorker();
    await stack.host.runTimer('reconcileJobs');
    const d = await stack.waitForJob(jobId, 30_000);
    expect(d.job.status, d.job.error_message ?? '').toBe('completed');
    expect(nodeOf(d, 'work')).toMatchObject({ status: 'completed', attempt: 0, output: { slept_for: 4 } });
    expect((await requeuedEvents(jobId)).filter((e) => e.event_type === 'node_requeued')).toHaveLength(1);
  }, 90_000);
});
