// HTTP callbacks for workers outside the product (issue 16): a worker that speaks the original's
// reporter protocol takes a container task from its queue and reports running, progress, a
// checkpoint and the result over /api/v1/callbacks/*; the job goes on. A repeated result is a
// duplicate, a result of an old attempt is stale, an unknown job is 404. Local stack, no product worker.
import { QueueClient } from '@azure/storage-queue';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { startStack, type Stack } from '../e2e/stack';

let stack: Stack;
let failed = false;
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const QUEUE = 'external-tasks';

beforeAll(async () => {
  stack = await startStack({ env: { DAG_WORKER_QUEUES: `container-tasks,${QUEUE}` } });
  stack.writeWorkflow({
    workflow_id: 'compat_external',
    name: 'a task for an outside worker',
    nodes: {
      start: { type: 'start', next: 'work' },
      work: {
        type: 'task',
        handler: 'echo',
        queue: QUEUE,
        params: { n: 1 },
        retry: { max_attempts: 1, backoff: 'fixed', initial_delay_seconds: 0.1 },
        next: 'end',
      },
      end: { type: 'end' },
    },
  });
}, 120_000);

afterAll(async () => {
  await stack?.stop(failed);
});

/** The external worker: waits for the next task message on its queue. */
async function takeTask(): Promise<Json> {
  const q = new QueueClient(stack.azurite.connectionString, QUEUE);
  for (;;) {
    if (await q.exists()) {
      const r = await q.receiveMessages({ numberOfMessages: 1, visibilityTimeout: 300 });
      const m = r.receivedMessageItems[0];
      if (m) {
        await q.deleteMessage(m.messageId, m.popReceipt);
        const text = Buffer.from(m.messageText, 'base64').toString('utf8');
        return JSON.parse(text.startsWith('{') ? text : m.messageText) as Json;
      }
    }
    await new Promise((res) => setTimeout(res, 100));
  }
}

const post = (route: string, body: unknown) => stack.api<Json>('POST', `/api/v1/callbacks/${route}`, body);

describe('HTTP callbacks of the original worker protocol', () => {
  it('running, progress, checkpoint, a failure that retries, then the result: the job completes', async () => {
    onTestFailed(() => void (failed = true));
    const r = await stack.api<Json>('POST', '/api/v1/jobs', {
      workflow_id: 'compat_external',
      input_params: {},
    });
    expect(r.status).toBe(201);
    const jobId = r.body.job_id;
    const t1 = await takeTask();
    // The original's field names are there for a worker outside the product (retry_count = attempt).
    expect(t1).toMatchObject({ job_id: jobId, node_id: 'work', handler: 'echo', attempt: 0, retry_count: 0 });
    const ids = { task_id: t1.task_id, job_id: jobId, node_id: 'work' };
    const running = await post('task-result', { ...ids, status: 'running', worker_id: 'py-worker-1' });
    expect(running.status).toBe(202);
    expect(running.body).toMatchObject({ status: 'accepted', task_id: t1.task_id });
    const progress = await post('task-progress', {
      ...ids,
      progress_current: 1,
      progress_total: 2,
      progress_message: 'half',
    });
    expect(progress.body.disposition).toBe('applied');
    const cp = await post('checkpoint', { ...ids, phase_name: 'phase_1', state_data: { done: 1 } });
    expect(cp.status).toBe(202);
    expect(cp.body).toMatchObject({
      status: 'accepted',
      task_id: t1.task_id,
      checkpoint_id: expect.any(String),
    });
    const node = (await stack.api<Json>('GET', `/api/jobs/${jobId}/nodes`)).body.nodes.find(
      (n: Json) => n.node_id === 'work',
    );
    expect(node).toMatchObject({
      status: 'running',
      worker_id: 'py-worker-1',
      progress: { current: 1, total: 2, message: 'half' },
    });

    const fail = await post('task-result', { ...ids, status: 'failed', error_message: 'disk full' });
    expect(fail.body).toMatchObject({ disposition: 'applied', delivered: true });
    // The retry goes to the queue again with the next attempt; the old attempt's result is stale now.
    const t2 = await takeTask();
    expect(t2).toMatchObject({ job_id: jobId, node_id: 'work', attempt: 1, retry_count: 1 });
    expect(t2.task_id).not.toBe(t1.task_id);
    const late = await post('task-result', { ...ids, status: 'completed', output: { late: true } });
    expect(late.body.disposition).toBe('duplicate');
    const ok = await post('task-result', {
      task_id: t2.task_id,
      job_id: jobId,
      node_id: 'work',
      status: 'completed',
      output: { echoed_params: { n: 1 }, handler: 'echo' },
      execution_duration_ms: 12,
    });
    expect(ok.body).toMatchObject({ disposition: 'applied', delivered: true });
    const again = await post('task-result', {
      task_id: t2.task_id,
      job_id: jobId,
      node_id: 'work',
      status: 'completed',
      output: {},
    });
    expect(again.body.disposition).toBe('duplicate');
    const d = await stack.waitForJob(jobId);
    expect(d.job.status).toBe('completed');
    expect(d.nodes.find((n) => n.node_id === 'work')!.output).toEqual({
      echoed_params: { n: 1 },
      handler: 'echo',
    });
    // After the end: a checkpoint of an old attempt is refused; an unknown job is 404.
    expect((await post('checkpoint', { ...ids, phase_name: 'x' })).status).toBe(409);
    expect((await post('task-result', { ...ids, job_id: 'nope', status: 'completed' })).status).toBe(404);
    expect((await post('task-result', { ...ids, status: 'weird' })).status).toBe(400);
  });
});
