// Task messages that carry several tasks ({v: 1, tasks: […]}, docs/messages.md "Batches of tasks"),
// against real Azurite and Postgres: the tasks share the message's lease; the message goes when all
// are done, or comes back holding only the tasks that need it; an invalid task is poisoned alone;
// tasks beyond the free slots go back to the queue instead of waiting in a worker.
import { describe, expect, it } from 'vitest';
import { markTaskStarted } from '../../db';
import {
  approximateCount,
  dispatchTask,
  nodeRow,
  peekAll,
  runs,
  send,
  useWorkerSetup,
  waitFor,
  type DispatchedTask,
} from './support';

const setup = useWorkerSetup();

type Setup = Awaited<ReturnType<typeof setup>>;

async function dispatchMany(s: Setup, n: number, params: Record<string, unknown>, handler = 'test_slow') {
  const tasks: DispatchedTask[] = [];
  for (let i = 0; i < n; i++)
    tasks.push(await dispatchTask(s.pool, s.schema, { handler, params, resultQueue: s.resultQueue }));
  return tasks;
}

const allCompleted = (s: Setup, tasks: DispatchedTask[]) =>
  waitFor('every task completed', async () => {
    const rows = await Promise.all(tasks.map((t) => nodeRow(s.pool, s.schema, t.jobId, t.nodeId)));
    return rows.every((r) => r.status === 'completed');
  });

describe('container worker: batches of tasks in one message', () => {
  it('runs every task of a batch once, renews one lease for all of them, deletes the message when all are done', async () => {
    const s = await setup();
    // 2.5 s tasks under a 3 s lease: each must be renewed (every second) or it would reappear.
    const tasks = await dispatchMany(s, 6, { ms: 2500 });
    await send(s.tasks, { v: 1, tasks: tasks.map((t) => t.message) });
    const w = await s.start({ maxConcurrent: 8 });
    await allCompleted(s, tasks);
    for (const t of tasks) expect(runs.get(t.taskId)).toBe(1);
    await waitFor('message deleted', async () => (await approximateCount(s.tasks)) === 0);
    const st = w.stats();
    expect(st).toMatchObject({ messages: 1, received: 6, started: 6, completed: 6, spilled: 0, deferred: 0 });
    // One renewal per message and period (2–3 here), not one per task (12–18).
    expect(st.leaseRenewals).toBeGreaterThanOrEqual(1);
    expect(st.leaseRenewals).toBeLessThanOrEqual(6);
  });

  it('poisons an invalid task of a batch alone (failing the attempt it names); the others run', async () => {
    const s = await setup();
    const [a, bad, b] = await dispatchMany(s, 3, { ms: 0 });
    const invalid = { ...bad!.message, handler: 7 };
    await send(s.tasks, { v: 1, tasks: [a!.message, invalid, b!.message] });
    const w = await s.start();
    await allCompleted(s, [a!, b!]);
    const failed = await waitFor('the invalid task failed', async () => {
      const r = await nodeRow(s.pool, s.schema, bad!.jobId, bad!.nodeId);
      return r.status === 'failed' ? r : undefined;
    });
    expect(failed.error_message).toMatch(
      /is unreadable: tasks\[1\]: the message is not a valid container task message \(handler/,
    );
    const poisoned = await waitFor('poison message', async () => {
      const all = await peekAll(s.poison);
      return all.length ? all : undefined;
    });
    // The task alone, as it was in the batch: the others are not in the poison queue.
    expect(poisoned).toEqual([invalid]);
    expect(runs.get(bad!.taskId)).toBeUndefined();
    await waitFor('message deleted', async () => (await approximateCount(s.tasks)) === 0);
    expect(w.stats()).toMatchObject({ messages: 1, poisoned: 1, completed: 2 });
  });

  it('a task another worker holds comes back alone: the message is rewritten to it once the others are done', async () => {
    const s = await setup();
    const [a, held, b] = await dispatchMany(s, 3, { ms: 0 });
    // Held by a live worker elsewhere (a fresh start): this worker must defer it, not run it.
    const st = await markTaskStarted(s.pool, s.schema, {
      jobId: held!.jobId,
      nodeId: held!.nodeId,
      taskId: held!.taskId,
      workerId: 'worker-elsewhere',
    });
    expect(st.kind).toBe('applied');
    await send(s.tasks, { v: 1, tasks: [a!.message, held!.message, b!.message] });
    const w = await s.start();
    await allCompleted(s, [a!, b!]);
    await waitFor('deferred', () => w.stats().deferred >= 1);
    await w.stop();
    // Invisible for one lease (3 s), then visible again holding the deferred task only.
    const back = await waitFor(
      'the message back',
      async () => {
        const all = await peekAll(s.tasks);
        return all.length ? all : undefined;
      },
      15_000,
    );
    expect(back).toEqual([held!.message]);
    expect(runs.get(held!.taskId)).toBeUndefined();
  });

  it('tasks beyond the free slots go back to the queue in a new message (recorded); each runs once, never more at once than the slots', async () => {
    const s = await setup();
    const tasks = await dispatchMany(s, 5, { ms: 400 });
    await send(s.tasks, { v: 1, tasks: tasks.map((t) => t.message) });
    const w = await s.start({ maxConcurrent: 2 });
    let most = 0;
    let mostInHand = 0;
    await waitFor('every task completed', async () => {
      most = Math.max(most, w.stats().running);
      mostInHand = Math.max(mostInHand, w.stats().inHand);
      const rows = await Promise.all(tasks.map((t) => nodeRow(s.pool, s.schema, t.jobId, t.nodeId)));
      return rows.every((r) => r.status === 'completed');
    });
    expect(most).toBeLessThanOrEqual(2);
    // Besides those, at most as many again sending their results (their slots given back).
    expect(mostInHand).toBeLessThanOrEqual(4);
    for (const t of tasks) expect(runs.get(t.taskId)).toBe(1);
    const st = w.stats();
    expect(st.spilled).toBeGreaterThanOrEqual(3);
    // Put back with a fresh delivery count: being put back never makes a task poison.
    expect(st.poisoned).toBe(0);
    // The messages they went back in are recorded, so that a lost one is found (strandedAttempts).
    const rows = await s.pool.query<{ task_id: string }>(
      `SELECT DISTINCT task_id FROM "${s.schema}".dag_task_messages`,
    );
    expect(rows.rows.length).toBeGreaterThanOrEqual(3);
    expect(tasks.map((t) => t.taskId)).toEqual(expect.arrayContaining(rows.rows.map((r) => r.task_id)));
    await waitFor('queue empty', async () => (await approximateCount(s.tasks)) === 0);
  });

  it('tasks whose handling failed (Postgres refused the preflight) come back and the same worker runs them', async () => {
    const s = await setup();
    const tasks = await dispatchMany(s, 3, { ms: 0 });
    // The first preflight statement fails, as when Postgres drops a connection.
    let failures = 1;
    const pool = new Proxy(s.pool, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (prop !== 'query' || typeof v !== 'function') return v;
        return (...args: unknown[]) => {
          const q = args[0] as string | { text?: string };
          const text = typeof q === 'string' ? q : (q?.text ?? '');
          if (failures > 0 && text.includes('pre AS (')) {
            failures--;
            return Promise.reject(new Error('Connection terminated unexpectedly'));
          }
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    await send(s.tasks, { v: 1, tasks: tasks.map((t) => t.message) });
    const w = await s.start({ pool });
    await allCompleted(s, tasks);
    for (const t of tasks) expect(runs.get(t.taskId)).toBe(1);
    // Received twice: the second delivery (holding the failed tasks only) is handled afresh, not
    // taken for a message held here.
    const st = w.stats();
    expect(st).toMatchObject({ messages: 2, completed: 3, leaseRecovered: 0 });
    expect(st.errors).toBeGreaterThanOrEqual(1);
    expect(st.received).toBe(3 + st.errors);
  });

  it('a task of a batch that must come back later goes back at once on its own, not after its long sibling', async () => {
    const s = await setup();
    const [long] = await dispatchMany(s, 1, { ms: 5000 });
    const [held] = await dispatchMany(s, 1, { ms: 0 });
    await markTaskStarted(s.pool, s.schema, {
      jobId: held!.jobId,
      nodeId: held!.nodeId,
      taskId: held!.taskId,
      workerId: 'worker-elsewhere',
    });
    await send(s.tasks, { v: 1, tasks: [long!.message, held!.message] });
    const w = await s.start();
    await waitFor('deferred', () => w.stats().deferred >= 1);
    // Put back in a message of its own (recorded for lost-message detection) while its sibling runs.
    const rows = await waitFor('its own message', async () => {
      const r = await s.pool.query(
        `SELECT message_id FROM "${s.schema}".dag_task_messages WHERE task_id = $1`,
        [held!.taskId],
      );
      return r.rows.length ? r.rows : undefined;
    });
    expect(rows).toHaveLength(1);
    expect((await nodeRow(s.pool, s.schema, long!.jobId, long!.nodeId)).status).toBe('running');
  });

  it('a long task in one slot does not idle the others: a later batch runs beside it', async () => {
    const s = await setup();
    const [long, short] = await dispatchMany(s, 2, { ms: 0 });
    await s.pool.query(
      `UPDATE "${s.schema}".dag_node_states SET input_params = '{"ms": 8000}' WHERE job_id = $1`,
      [long!.jobId],
    );
    await send(s.tasks, { v: 1, tasks: [{ ...long!.message, params: { ms: 8000 } }, short!.message] });
    const w = await s.start({ maxConcurrent: 2 });
    await allCompleted(s, [short!]);
    const later = await dispatchMany(s, 2, { ms: 0 });
    await send(s.tasks, { v: 1, tasks: later.map((t) => t.message) });
    // The worker waits for two free slots (its messages carry two tasks) only so long, then takes
    // what is free (and puts the rest back): both finish while the long task still runs.
    await allCompleted(s, later);
    expect((await nodeRow(s.pool, s.schema, long!.jobId, long!.nodeId)).status).toBe('running');
    // Their handlers are done (their slots free once their results are recorded): the long task runs on alone.
    await waitFor('the long task alone', () => w.stats().running === 1);
    expect((await nodeRow(s.pool, s.schema, long!.jobId, long!.nodeId)).status).toBe('running');
  });

  it('a slot is given back once its result is recorded: the next task runs while that result is still being sent', async () => {
    const s = await setup();
    const w = await s.start({ maxConcurrent: 1 });
    const [first] = await dispatchMany(s, 1, { ms: 0 });
    await send(s.tasks, first!.message);
    await waitFor('the first result sent', () => w.stats().resultsSent === 1);
    // The result queue goes away: a send is tried again after 250 ms, 1 s and 3 s (withRetry.ts)
    // before it gives up (and its task comes back later, to be acknowledged as a duplicate): the queue
    // is back within those ~4 s, since b runs at once.
    await s.results.delete();
    const [a, b] = await dispatchMany(s, 2, { ms: 0 });
    await send(s.tasks, a!.message);
    await send(s.tasks, b!.message);
    // One slot: b runs only once a's slot is free — while a's result is still being tried.
    await allCompleted(s, [a!, b!]);
    expect(w.stats()).toMatchObject({ resultsSent: 1, running: 0 });
    await s.results.create();
    await waitFor('both results sent', () => w.stats().resultsSent === 3);
    await waitFor('the task messages deleted', async () => (await approximateCount(s.tasks)) === 0);
    await waitFor('nothing in hand', () => w.stats().inHand === 0);
    // a's send succeeded on a retry: nothing came back to be acknowledged.
    expect(w.stats()).toMatchObject({ duplicates: 0, completed: 3 });
    // Each result once on the new queue.
    const sent = (await peekAll(s.results)).flatMap((m) => {
      const r = m as { task_id?: string; results?: Array<{ task_id: string }> };
      return r.results ? r.results.map((x) => x.task_id) : [r.task_id];
    });
    expect(sent.sort()).toEqual([a!.taskId, b!.taskId].sort());
  });

  it('reads a batch of one and a plain task message alike; an unreadable batch goes to poison whole', async () => {
    const s = await setup();
    const [a, b] = await dispatchMany(s, 2, { ms: 0 });
    await send(s.tasks, { v: 1, tasks: [a!.message] });
    await send(s.tasks, b!.message);
    const notBatch = { v: 1, tasks: [] };
    await send(s.tasks, notBatch);
    const w = await s.start();
    await allCompleted(s, [a!, b!]);
    const poisoned = await waitFor('poison message', async () => {
      const all = await peekAll(s.poison);
      return all.length ? all : undefined;
    });
    expect(poisoned).toEqual([notBatch]);
    expect(w.stats()).toMatchObject({ messages: 3, poisoned: 1, completed: 2 });
  });
});
