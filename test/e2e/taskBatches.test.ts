// The enqueue activity packs a fan-out's container children into task messages of up to
// DAG_TASKS_PER_MESSAGE tasks on the queues of the product's workers (DAG_WORKER_QUEUES), one task per
// message elsewhere (workers outside the product read single messages); the whole product runs them
// (docs/messages.md "Batches of tasks"). A batch message lost from its queue is found and each of its
// tasks sent again.
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { startContainerWorker, type ContainerWorker } from '../../container-worker';
import { jobHistory } from '../support/jobHistory';
import { queueClient, testLogger, waitFor } from '../worker/support';
import { startStack, type Stack } from './stack';

let stack: Stack;
let failed = false;
const workers: ContainerWorker[] = [];

beforeAll(async () => {
  stack = await startStack({
    env: {
      DAG_WORKER_QUEUES: 'batch-tasks',
      DAG_TASKS_PER_MESSAGE: '16',
      DAG_WORKER_HEARTBEAT_SECONDS: '1',
      DAG_STRANDED_AFTER_HEARTBEATS: '2',
    },
  });
  const fan = (queue: string, n: string) => ({
    type: 'fan_out',
    source: `{{ range(0, inputs.${n}) }}`,
    task: { handler: 'echo', queue, params: { i: '{{ index }}' }, retry: { max_attempts: 0 } },
  });
  stack.writeWorkflow({
    workflow_id: 'batched_fan',
    name: 'container children, batched and not',
    inputs: { many: { type: 'integer' }, few: { type: 'integer' } },
    nodes: {
      start: { type: 'start', next: ['many', 'few'] },
      many: { ...fan('batch-tasks', 'many'), next: 'join_many' },
      join_many: { type: 'fan_in', next: 'end' },
      few: { ...fan('single-tasks', 'few'), next: 'join_few' },
      join_few: { type: 'fan_in', next: 'end' },
      end: { type: 'end' },
    },
  });
}, 120_000);

afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  await stack?.stop(failed);
});

const startWorker = async () => {
  const w = await startContainerWorker({
    queues: ['batch-tasks', 'single-tasks'],
    storageConnectionString: stack.azurite.connectionString,
    databaseUrl: stack.schema.url,
    schema: stack.schema.schema,
    visibilityTimeoutSeconds: 3,
    pollIntervalMs: 100,
    cancelPollIntervalMs: 300,
    maxConcurrent: 16,
    logger: testLogger(),
  });
  workers.push(w);
  return w;
};

const historyOf = (jobId: string) => jobHistory(stack.schema.adminPool, `${stack.schema.schema}_dh`, jobId);
const EVENT_RAISED = 15;

/** The task messages sent for a job: tasks per message, by queue. */
async function messagesOf(jobId: string) {
  const r = await stack.schema.pool.query<{ queue: string; message_id: string; tasks: number }>(
    `SELECT queue, message_id, count(*)::int AS tasks FROM "${stack.schema.schema}".dag_task_messages
     WHERE job_id = $1 GROUP BY queue, message_id ORDER BY queue, tasks DESC`,
    [jobId],
  );
  return r.rows;
}

describe('task messages carrying several tasks', () => {
  it('a fan-out of 40 goes in messages of up to 16 tasks on a worker queue, one per message elsewhere; all run once', async () => {
    onTestFailed(() => {
      failed = true;
    });
    const w = await startWorker();
    const jobId = await stack.submit('batched_fan', { many: 40, few: 5 });
    const d = await stack.waitForJob(jobId, 60_000);
    expect(d.job.status, d.job.error_message ?? '').toBe('completed');
    const children = d.nodes.filter((n) => n.parent_node_id === 'many');
    expect(children).toHaveLength(40);
    expect(children.every((n) => n.status === 'completed' && n.attempt === 0)).toBe(true);
    const many = d.nodes.find((n) => n.node_id === 'join_many')!.output as {
      results: Array<{ echoed_params: { i: number } }>;
    };
    expect(many.results.map((r) => r.echoed_params.i)).toEqual([...Array(40).keys()]);
    const sent = await messagesOf(jobId);
    const batched = sent.filter((m) => m.queue === 'batch-tasks');
    const single = sent.filter((m) => m.queue === 'single-tasks');
    // 16 + 16 + 8 from the enqueue (and any put back by a worker short of slots, recorded too).
    expect(batched.filter((m) => m.tasks === 16).length).toBeGreaterThanOrEqual(2);
    expect(Math.max(...batched.map((m) => m.tasks))).toBe(16);
    expect(batched.reduce((n, m) => n + m.tasks, 0)).toBe(40 + w.stats().spilled);
    expect(single).toHaveLength(5);
    expect(single.every((m) => m.tasks === 1)).toBe(true);
    const st = w.stats();
    expect(st.messages).toBeLessThan(st.received);
    expect(st).toMatchObject({ completed: 45, poisoned: 0 });
    // Results: the 40 batched children's come several per external event (scheduler version 4, each
    // event named after the first of its tasks), the 5 others' one per event.
    const raised = (await historyOf(jobId)).filter((e) => e.EventType === EVENT_RAISED);
    const carried = raised.map((e) => {
      const input = JSON.parse(e.Input ?? 'null') as { results?: Array<{ task_id: string }> };
      return input?.results?.map((r) => r.task_id) ?? [e.Name];
    });
    const taskIds = new Set(d.nodes.filter((n) => n.parent_node_id).map((n) => n.task_id));
    expect(new Set(carried.flat())).toEqual(taskIds);
    expect(carried.flat()).toHaveLength(45);
    for (const [k, e] of raised.entries()) expect(e.Name).toBe(carried[k]![0]);
    expect(raised.length).toBeLessThan(45);
    expect(carried.filter((ids) => ids.length > 1).length).toBeGreaterThanOrEqual(1);
    // The queue outside DAG_WORKER_QUEUES: its workers need not copy results_event, so one per event.
    const few = new Set(d.nodes.filter((n) => n.parent_node_id === 'few').map((n) => n.task_id));
    for (const ids of carried) if (ids.some((id) => few.has(id!))) expect(ids).toHaveLength(1);
  }, 90_000);

  it('a batch message lost from its queue: every task in it is found stranded and sent again', async () => {
    onTestFailed(() => {
      failed = true;
    });
    for (const w of workers.splice(0)) await w.stop();
    const jobId = await stack.submit('batched_fan', { many: 6, few: 0 });
    const q = queueClient(stack.azurite.connectionString, 'batch-tasks');
    const got = await waitFor('the batch message', async () => {
      const r = await q.receiveMessages({ numberOfMessages: 1, visibilityTimeout: 30 });
      return r.receivedMessageItems[0];
    });
    await q.deleteMessage(got.messageId, got.popReceipt);
    expect((await messagesOf(jobId)).map((m) => m.tasks)).toEqual([6]);
    await startWorker();
    // Quiet past the threshold (2 s), the message gone: stranded; the reconciler sends them again.
    await new Promise((r) => setTimeout(r, 2500));
    await stack.host.runTimer('reconcileJobs');
    const d = await stack.waitForJob(jobId, 30_000);
    expect(d.job.status, d.job.error_message ?? '').toBe('completed');
    const children = d.nodes.filter((n) => n.parent_node_id === 'many');
    expect(children.map((n) => n.attempt)).toEqual([0, 0, 0, 0, 0, 0]);
    const evs = await stack.schema.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM "${stack.schema.schema}".dag_job_events WHERE job_id = $1 AND event_type = 'node_requeued'`,
      [jobId],
    );
    expect(evs.rows[0]!.n).toBe(6);
  }, 90_000);
});
