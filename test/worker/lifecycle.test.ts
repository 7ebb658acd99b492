// The worker's lifecycle against real Azurite and Postgres: cancel of a running task (a real child
// process is stopped), poison messages, the lease on a task longer than the visibility timeout,
// shutdown handing a task back and another worker resuming it from its checkpoint, the probes.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TEST_DATABASE_URL } from '../support/pg';
import { ContainerResultMessageSchema } from '../../lib/containerMessages';
import { requestCancel } from '../../db';
import { encodeQueueMessage } from '../../container-worker';
import {
  approximateCount,
  dispatchTask,
  events,
  isAlive,
  nodeRow,
  peekAll,
  pids,
  runs,
  send,
  useWorkerSetup,
  waitFor,
} from './support';

const setup = useWorkerSetup();

describe('cancel', () => {
  it('a cancelled job stops its running task (the child process is killed) and fails the attempt, not retryable', async () => {
    const s = await setup();
    const t = await dispatchTask(s.pool, s.schema, {
      handler: 'test_process',
      params: { seconds: 120 },
      resultQueue: s.resultQueue,
    });
    await send(s.tasks, t.message);
    const w = await s.start();
    const pid = await waitFor('child process started', () => pids.get(t.taskId));
    expect(isAlive(pid)).toBe(true);
    const cancelledAt = Date.now();
    expect((await requestCancel(s.pool, s.schema, { jobId: t.jobId })).kind).toBe('requested');
    const n = await waitFor('node failed', async () => {
      const r = await nodeRow(s.pool, s.schema, t.jobId, t.nodeId);
      return r.status === 'failed' ? r : undefined;
    });
    // Reported, not asserted (shared machine): the worker polls every cancelPollIntervalMs.
    console.log(`cancel → task stopped in ${Date.now() - cancelledAt} ms`);
    expect(isAlive(pid)).toBe(false);
    expect(n.error_message).toBe('The job was cancelled while the task was running');
    const [msg] = await waitFor('result message', async () => {
      const all = await peekAll(s.results);
      return all.length ? all : undefined;
    });
    expect(ContainerResultMessageSchema.parse(msg)).toMatchObject({ status: 'failed', retryable: false });
    expect(w.stats().cancelled).toBe(1);
    await waitFor('message deleted', async () => (await approximateCount(s.tasks)) === 0);
  });

  it('a task of a job cancelled before it started is not run', async () => {
    const s = await setup();
    const t = await dispatchTask(s.pool, s.schema, { handler: 'test_slow', resultQueue: s.resultQueue });
    await requestCancel(s.pool, s.schema, { jobId: t.jobId });
    await send(s.tasks, t.message);
    const w = await s.start();
    await waitFor('dropped', () => w.stats().dropped === 1);
    expect(runs.get(t.taskId)).toBeUndefined();
    const n = await nodeRow(s.pool, s.schema, t.jobId, t.nodeId);
    expect(n).toMatchObject({
      status: 'failed',
      error_message: 'The job was cancelled before the task started',
    });
  });
});

describe('poison', () => {
  it('a message delivered more than maxDequeueCount times goes to <queue>-poison and its node fails, not retryable', async () => {
    const s = await setup();
    const t = await dispatchTask(s.pool, s.schema, { handler: 'test_slow', resultQueue: s.resultQueue });
    await send(s.tasks, t.message);
    // Five deliveries that never finished (what five crashed workers leave behind).
    for (let i = 0; i < 5; i++) {
      const [m] = (await s.tasks.receiveMessages({ visibilityTimeout: 30 })).receivedMessageItems;
      expect(m?.dequeueCount).toBe(i + 1);
      await s.tasks.updateMessage(m!.messageId, m!.popReceipt, undefined, 0);
    }
    const w = await s.start();
    const n = await waitFor('node failed', async () => {
      const r = await nodeRow(s.pool, s.schema, t.jobId, t.nodeId);
      return r.status === 'failed' ? r : undefined;
    });
    const expected = `Task message for ${t.taskId} was delivered 5 times without completing (the worker crashed or was killed each time); moved to ${s.queue}-poison`;
    expect(n.error_message).toBe(expected);
    expect(runs.get(t.taskId)).toBeUndefined();
    await waitFor('moved', async () => (await approximateCount(s.tasks)) === 0);
    expect(await peekAll(s.poison)).toEqual([JSON.parse(JSON.stringify(t.message))]);
    const [msg] = await peekAll(s.results);
    expect(ContainerResultMessageSchema.parse(msg)).toMatchObject({
      status: 'failed',
      retryable: false,
      error_message: expected,
    });
    expect(w.stats().poisoned).toBe(1);
  });

  it('an unreadable message goes to poison at once; one that names an attempt fails that attempt', async () => {
    const s = await setup();
    const t = await dispatchTask(s.pool, s.schema, { handler: 'test_slow', resultQueue: s.resultQueue });
    await send(s.tasks, 'this is not base64 JSON!');
    const { handler: _h, timeout_seconds: _t, ...broken } = t.message;
    await send(s.tasks, encodeQueueMessage(broken));
    const w = await s.start();
    await waitFor('two poisoned', () => w.stats().poisoned === 2);
    expect(await approximateCount(s.poison)).toBe(2);
    const n = await nodeRow(s.pool, s.schema, t.jobId, t.nodeId);
    expect(n.status).toBe('failed');
    expect(n.error_message).toMatch(
      /is unreadable: the message is not a valid container task message \(handler: .*moved to .*-poison/,
    );
    expect(runs.get(t.taskId)).toBeUndefined();
  });
});

describe('lease and shutdown', () => {
  it('a task longer than the visibility timeout keeps its lease: no other worker receives it', async () => {
    const s = await setup({ visibilityTimeoutSeconds: 2 });
    const t = await dispatchTask(s.pool, s.schema, {
      handler: 'test_slow',
      params: { ms: 5000 },
      resultQueue: s.resultQueue,
    });
    await send(s.tasks, t.message);
    const a = await s.start({ workerId: 'a' });
    await waitFor(
      'running',
      async () => (await nodeRow(s.pool, s.schema, t.jobId, t.nodeId)).status === 'running',
    );
    const b = await s.start({ workerId: 'b' });
    await waitFor(
      'completed',
      async () => (await nodeRow(s.pool, s.schema, t.jobId, t.nodeId)).status === 'completed',
    );
    expect(runs.get(t.taskId)).toBe(1);
    expect(a.stats().leaseRenewals).toBeGreaterThanOrEqual(2);
    expect(b.stats().received).toBe(0);
    const n = await nodeRow(s.pool, s.schema, t.jobId, t.nodeId);
    expect(n.heartbeat_at).not.toBeNull();
  });

  it('stop() hands a running task back (message visible at once, holder cleared); the next worker resumes from the checkpoint', async () => {
    const s = await setup({ shutdownTimeoutSeconds: 3 });
    const t = await dispatchTask(s.pool, s.schema, {
      handler: 'echo',
      params: { steps: 12, step_delay: 0.4 },
      resultQueue: s.resultQueue,
    });
    await send(s.tasks, t.message);
    const a = await s.start({ workerId: 'a' });
    await waitFor('two steps checkpointed', async () => {
      const ev = await events(s.pool, s.schema, t.jobId);
      return ev.filter((e) => e.type === 'checkpoint_saved').length >= 2;
    });
    await a.stop();
    expect(a.stats().handedBack).toBe(1);
    const held = await nodeRow(s.pool, s.schema, t.jobId, t.nodeId);
    expect(held).toMatchObject({ status: 'running', worker_id: null });
    expect(await approximateCount(s.tasks)).toBe(1);
    const b = await s.start({ workerId: 'b' });
    const n = await waitFor('completed', async () => {
      const r = await nodeRow(s.pool, s.schema, t.jobId, t.nodeId);
      return r.status === 'completed' ? r : undefined;
    });
    expect(b.stats().resumed).toBe(1);
    const out = n.output as { steps_completed: number; resumed_from_step: number };
    expect(out.steps_completed).toBe(12);
    expect(out.resumed_from_step).toBeGreaterThan(2);
    const phases = (await events(s.pool, s.schema, t.jobId))
      .filter((e) => e.type === 'checkpoint_saved')
      .map((e) => e.event_data.phase_name);
    // Every step ran exactly once across the two workers.
    expect(phases).toEqual(Array.from({ length: 12 }, (_, i) => `step_${i + 1}`));
  });
});

const ROOT = path.join(__dirname, '..', '..');

/** container-worker/main.ts as a child process; resolves with its exit code and stderr. */
function workerProcess(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'container-worker/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: TEST_DATABASE_URL,
      DAG_WORKER_HEALTH_PORT: 'off',
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (out += b.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exit, output: () => out };
}

describe('the worker process', () => {
  it('SIGTERM: stops receiving, hands the running task back with its checkpoint, exits 0 within the timeout', async () => {
    const s = await setup();
    const t = await dispatchTask(s.pool, s.schema, {
      handler: 'echo',
      params: { steps: 40, step_delay: 0.25 },
      resultQueue: s.resultQueue,
    });
    await send(s.tasks, t.message);
    const w = workerProcess({
      DATABASE_URL: s.url,
      DAG_DB_SCHEMA: s.schema,
      AzureWebJobsStorage: s.conn,
      DAG_WORKER_QUEUES: s.queue,
      DAG_WORKER_SHUTDOWN_TIMEOUT_SEC: '4',
      DAG_WORKER_VISIBILITY_TIMEOUT_SEC: '30',
      DAG_WORKER_ID: 'terminated',
    });
    try {
      await waitFor('a step checkpointed', async () =>
        (await events(s.pool, s.schema, t.jobId)).some((e) => e.type === 'checkpoint_saved'),
      );
      w.child.kill('SIGTERM');
      expect(await w.exit).toBe(0);
    } finally {
      if (w.child.exitCode === null) w.child.kill('SIGKILL');
    }
    expect(w.output()).toMatch(/SIGTERM received: stopping/);
    expect(w.output()).toMatch(/handed back to the queue at shutdown/);
    const n = await nodeRow(s.pool, s.schema, t.jobId, t.nodeId);
    expect(n).toMatchObject({ status: 'running', worker_id: null });
    // Visible at once (not after the 30 s lease) for the next worker.
    expect(await approximateCount(s.tasks)).toBe(1);
    const [m] = (await s.tasks.receiveMessages({ visibilityTimeout: 1 })).receivedMessageItems;
    expect(m?.dequeueCount).toBe(2);
  });

  it('an invalid configuration stops it at start with every problem listed (exit 2)', async () => {
    const w = workerProcess({
      DAG_WORKER_MAX_CONCURRENT: 'lots',
      AzureWebJobsStorage: '',
      DAG_QUEUE_CONNECTION: '',
    });
    expect(await w.exit).toBe(2);
    expect(w.output()).toMatch(/DAG_WORKER_MAX_CONCURRENT must be an integer between 1 and 256, got "lots"/);
  });
});

describe('probes', () => {
  it('serves /livez, /readyz and /health with queues, Postgres and counters', async () => {
    const s = await setup();
    const t = await dispatchTask(s.pool, s.schema, { handler: 'echo', resultQueue: s.resultQueue });
    await send(s.tasks, t.message);
    const w = await s.start({ healthPort: 0 });
    expect(w.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await waitFor('completed', () => w.stats().completed === 1);
    const live = await fetch(`${w.url}/livez`);
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ alive: true });
    const ready = await fetch(`${w.url}/readyz`);
    expect(ready.status).toBe(200);
    // The worker counts a task completed before the queue has taken the message's deletion into its
    // approximate count: ask again until it has (or give the last answer to the assertion).
    let health = await fetch(`${w.url}/health`);
    let body = (await health.json()) as { queues?: Array<{ approximate_messages: number }> };
    for (let i = 0; i < 50 && body.queues?.[0]?.approximate_messages !== 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      health = await fetch(`${w.url}/health`);
      body = (await health.json()) as typeof body;
    }
    expect(health.status).toBe(200);
    expect(body).toMatchObject({
      status: 'healthy',
      ready: true,
      postgres: { ok: true },
      queues: [{ name: s.queue, ok: true, approximate_messages: 0, poison_messages: 0 }],
      stats: { received: 1, completed: 1, resultsSent: 1 },
      running: [],
    });
    expect((await fetch(`${w.url}/nope`)).status).toBe(404);
    await w.stop();
    await expect(fetch(`${w.url}/livez`)).rejects.toThrow();
  });
});
