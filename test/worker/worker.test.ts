// The container worker against real Azurite and real Postgres, without the orchestration: jobs and
// dispatched nodes are written through the db/ repositories exactly as the enqueue activity writes
// them, task messages are put on a queue, and the test reads Postgres and the result queue.
import { describe, expect, it } from 'vitest';
import { decodeQueueJson } from '../../container-worker/taskMessageCodec';
import {
  ContainerResultMessageSchema,
  ResultQueueMessageSchema,
  resultsOf,
} from '../../lib/containerMessages';
import { markTaskStarted, recordTaskResult, transitionNode } from '../../db';
import { createLogger } from '../../handlers/createLogger';
import { countStatements } from '../support/pgCounter';
import {
  approximateCount,
  dispatchAttempt,
  dispatchTask,
  events,
  expectSignedAsRecorded,
  nodeRow,
  peekAll,
  runs,
  send,
  useWorkerSetup,
  waitFor,
} from './support';

const setup = useWorkerSetup();

describe('container worker: one attempt', () => {
  it('runs a task: node running then completed, result in Postgres before the result message, message deleted', async () => {
    const s = await setup();
    const t = await dispatchTask(s.pool, s.schema, {
      handler: 'echo',
      params: { message: 'hi', count: 2 },
      resultQueue: s.resultQueue,
    });
    await send(s.tasks, t.message);
    const w = await s.start({ workerId: 'worker-a' });
    const n = await waitFor('node completed', async () => {
      const r = await nodeRow(s.pool, s.schema, t.jobId, t.nodeId);
      return r.status === 'completed' ? r : undefined;
    });
    expect(n.output).toEqual({
      echoed_params: { message: 'hi', count: 2 },
      handler: 'echo',
      task_id: t.taskId,
    });
    expect(n.worker_id).toBe('worker-a');
    const results = await waitFor('result message', async () => {
      const all = await peekAll(s.results);
      return all.length ? all : undefined;
    });
    const msg = ContainerResultMessageSchema.parse(results[0]);
    expect(msg).toMatchObject({
      task_id: t.taskId,
      job_id: t.jobId,
      node_id: t.nodeId,
      attempt: 0,
      status: 'completed',
      reply_to: t.message.reply_to,
      worker_id: 'worker-a',
      outcome: { ok: true },
    });
    await expectSignedAsRecorded(s.pool, s.schema, msg);
    const row = await s.pool.query(
      `SELECT disposition::text AS d FROM "${s.schema}".dag_task_results WHERE task_id = $1`,
      [t.taskId],
    );
    expect(row.rows[0].d).toBe('applied');
    await waitFor('task message deleted', async () => (await approximateCount(s.tasks)) === 0);
    const ev = await events(s.pool, s.schema, t.jobId);
    const started = ev.find((e) => e.type === 'node_started' && e.node_id === t.nodeId);
    expect(started?.event_data.worker_id).toBe('worker-a');
    expect(ev.filter((e) => e.type === 'node_completed')).toHaveLength(1);
    expect(w.stats()).toMatchObject({ received: 1, started: 1, completed: 1, resultsSent: 1 });
  });

  it('reads params from the node row when params_in_db is set', async () => {
    const s = await setup();
    const big = { blob: 'x'.repeat(1000), n: 7 };
    const t = await dispatchTask(s.pool, s.schema, {
      handler: 'echo',
      params: big,
      paramsInDb: true,
      resultQueue: s.resultQueue,
    });
    expect(t.message.params).toBeUndefined();
    await send(s.tasks, t.message);
    await s.start();
    const n = await waitFor('node completed', async () => {
      const r = await nodeRow(s.pool, s.schema, t.jobId, t.nodeId);
      return r.status === 'completed' ? r : undefined;
    });
    expect((n.output as { echoed_params: unknown }).echoed_params).toEqual(big);
  });

  it('a failed attempt schedules the retry with the backoff of the pinned workflow and reports retryable', async () => {
    const s = await setup();
    const t = await dispatchTask(s.pool, s.schema, {
      handler: 'fail',
      params: { error_message: 'boom' },
      retry: { max_attempts: 2, backoff: 'fixed', initial_delay_seconds: 42 },
      maxRetries: 2,
      resultQueue: s.resultQueue,
    });
    await send(s.tasks, t.message);
    await s.start();
    const n = await waitFor('retry scheduled', async () => {
      const r = await nodeRow(s.pool, s.schema, t.jobId, t.nodeId);
      return r.status === 'ready' ? r : undefined;
    });
    expect(n.attempt).toBe(1);
    expect(n.error_message).toBe('boom');
    const delay = await s.pool.query(
      `SELECT extract(epoch FROM retry_at - updated_at)::float AS d FROM "${s.schema}".dag_node_states WHERE job_id = $1 AND node_id = $2`,
      [t.jobId, t.nodeId],
    );
    expect(delay.rows[0].d).toBeCloseTo(42, 3);
    const [msg] = await waitFor('result', async () => {
      const all = await peekAll(s.results);
      return all.length ? all : undefined;
    });
    const parsed = ContainerResultMessageSchema.parse(msg);
    expect(parsed).toMatchObject({
      status: 'failed',
      error_message: 'boom',
      retryable: true,
      outcome: { ok: false, error: 'boom', retryable: true },
    });
    await expectSignedAsRecorded(s.pool, s.schema, parsed);
  });

  it('a long error is signed as Postgres stores it (cut at 2,000 characters, never inside a character)', async () => {
    const s = await setup();
    // A surrogate pair straddles the cut: the stored error drops it whole.
    const long = `${'e'.repeat(1999)}😀${'x'.repeat(500)}`;
    const t = await dispatchTask(s.pool, s.schema, {
      handler: 'fail',
      params: { error_message: long },
      resultQueue: s.resultQueue,
    });
    await send(s.tasks, t.message);
    await s.start();
    const [msg] = await waitFor('result', async () => {
      const all = await peekAll(s.results);
      return all.length ? all : undefined;
    });
    const parsed = ContainerResultMessageSchema.parse(msg);
    expect(parsed.outcome).toMatchObject({ ok: false, error: 'e'.repeat(1999) });
    await expectSignedAsRecorded(s.pool, s.schema, parsed);
  });

  it('an unknown handler fails the node without retrying', async () => {
    const s = await setup();
    const t = await dispatchTask(s.pool, s.schema, {
      handler: 'no_such_handler',
      resultQueue: s.resultQueue,
    });
    await send(s.tasks, t.message);
    await s.start();
    const n = await waitFor('node failed', async () => {
      const r = await nodeRow(s.pool, s.schema, t.jobId, t.nodeId);
      return r.status === 'failed' ? r : undefined;
    });
    expect(n.error_message).toBe('Handler not found: no_such_handler');
    const [msg] = await waitFor('result', async () => {
      const all = await peekAll(s.results);
      return all.length ? all : undefined;
    });
    const parsed = ContainerResultMessageSchema.parse(msg);
    // No retry follows: the outcome the trigger raises says so.
    expect(parsed.outcome).toEqual({
      ok: false,
      error: 'Handler not found: no_such_handler',
      retryable: false,
    });
    await expectSignedAsRecorded(s.pool, s.schema, parsed);
  });
});

describe('container worker: duplicates and stale deliveries', () => {
  it('the same message delivered twice at once runs once: the copy is deferred, then acknowledged', async () => {
    const s = await setup();
    const t = await dispatchTask(s.pool, s.schema, {
      handler: 'test_slow',
      params: { ms: 1500 },
      resultQueue: s.resultQueue,
    });
    await send(s.tasks, t.message);
    await send(s.tasks, t.message);
    const w = await s.start();
    await waitFor(
      'node completed',
      async () => (await nodeRow(s.pool, s.schema, t.jobId, t.nodeId)).status === 'completed',
    );
    await waitFor('both copies gone', async () => (await approximateCount(s.tasks)) === 0);
    expect(runs.get(t.taskId)).toBe(1);
    expect(w.stats().deferred + w.stats().duplicates).toBeGreaterThanOrEqual(1);
    const ev = await events(s.pool, s.schema, t.jobId);
    expect(ev.filter((e) => e.type === 'node_completed')).toHaveLength(1);
    expect(ev.filter((e) => e.type === 'node_started')).toHaveLength(1);
  });

  it('two workers receiving copies of one task: one runs it, the other defers its copy', async () => {
    const s = await setup();
    const t = await dispatchTask(s.pool, s.schema, {
      handler: 'test_slow',
      params: { ms: 1500 },
      resultQueue: s.resultQueue,
    });
    await send(s.tasks, t.message);
    await send(s.tasks, t.message);
    const a = await s.start({ workerId: 'a', maxConcurrent: 1 });
    const b = await s.start({ workerId: 'b', maxConcurrent: 1 });
    await waitFor(
      'node completed',
      async () => (await nodeRow(s.pool, s.schema, t.jobId, t.nodeId)).status === 'completed',
    );
    await waitFor('both copies gone', async () => (await approximateCount(s.tasks)) === 0);
    expect(runs.get(t.taskId)).toBe(1);
    expect(a.stats().started + b.stats().started).toBe(1);
    expect((await events(s.pool, s.schema, t.jobId)).filter((e) => e.type === 'node_completed')).toHaveLength(
      1,
    );
  });

  it('an attempt whose worker died is taken over once, even when two workers find it at the same time', async () => {
    const s = await setup();
    const t = await dispatchTask(s.pool, s.schema, {
      handler: 'test_slow',
      params: { ms: 800 },
      resultQueue: s.resultQueue,
    });
    // A worker started it and died an hour ago (no heartbeat since).
    expect((await markTaskStarted(s.pool, s.schema, { ...ids(t), workerId: 'dead' })).kind).toBe('applied');
    await s.pool.query(
      `UPDATE "${s.schema}".dag_node_states SET started_at = now() - interval '1 hour' WHERE job_id = $1 AND node_id = $2`,
      [t.jobId, t.nodeId],
    );
    await send(s.tasks, t.message);
    await send(s.tasks, t.message);
    const a = await s.start({ workerId: 'a', maxConcurrent: 1 });
    const b = await s.start({ workerId: 'b', maxConcurrent: 1 });
    await waitFor(
      'completed',
      async () => (await nodeRow(s.pool, s.schema, t.jobId, t.nodeId)).status === 'completed',
    );
    await waitFor('both copies gone', async () => (await approximateCount(s.tasks)) === 0);
    expect(runs.get(t.taskId)).toBe(1);
    expect(a.stats().resumed + b.stats().resumed).toBe(1);
  });

  it('a redelivery after completion is acknowledged without running again (its result is sent again)', async () => {
    const s = await setup();
    const t = await dispatchTask(s.pool, s.schema, {
      handler: 'test_slow',
      params: { ms: 0 },
      resultQueue: s.resultQueue,
    });
    await send(s.tasks, t.message);
    const w = await s.start();
    await waitFor(
      'node completed',
      async () => (await nodeRow(s.pool, s.schema, t.jobId, t.nodeId)).status === 'completed',
    );
    await send(s.tasks, t.message);
    await waitFor('acknowledged', () => w.stats().duplicates === 1);
    await waitFor('queue empty', async () => (await approximateCount(s.tasks)) === 0);
    expect(runs.get(t.taskId)).toBe(1);
    const results = await peekAll(s.results);
    expect(results).toHaveLength(2);
    expect(results.map((r) => ContainerResultMessageSchema.parse(r).status)).toEqual([
      'completed',
      'completed',
    ]);
  });

  it('a redelivery whose result cannot be sent again is not deleted: it comes back and is tried again', async () => {
    const s = await setup();
    const t = await dispatchTask(s.pool, s.schema, {
      handler: 'test_slow',
      params: { ms: 0 },
      resultQueue: s.resultQueue,
    });
    await send(s.tasks, t.message);
    // A lease longer than the send's retries (≈ 4 s): only a message left undeleted comes back.
    const w = await s.start({ visibilityTimeoutSeconds: 20 });
    await waitFor(
      'node completed',
      async () => (await nodeRow(s.pool, s.schema, t.jobId, t.nodeId)).status === 'completed',
    );
    await waitFor('queue empty', async () => (await approximateCount(s.tasks)) === 0);
    // A copy whose result queue the storage account refuses (an invalid name): the send fails.
    await send(s.tasks, { ...t.message, result_queue: 'Not_A_Valid_Queue' });
    await waitFor('acknowledged twice (it came back)', () => w.stats().duplicates >= 2, 45_000);
    expect(runs.get(t.taskId)).toBe(1);
  });

  it('a message for an attempt that is no longer current is recorded (result_ignored) and dropped', async () => {
    const s = await setup();
    const t0 = await dispatchTask(s.pool, s.schema, { handler: 'test_slow', resultQueue: s.resultQueue });
    // The orchestration moved the node on to attempt 1 (e.g. the enqueue of attempt 0 was redone).
    const moved = await transitionNode(s.pool, s.schema, {
      jobId: t0.jobId,
      nodeId: t0.nodeId,
      from: ['dispatched'],
      to: 'ready',
      set: { attempt: 1, taskId: null },
    });
    expect(moved.kind).toBe('applied');
    const t1 = await dispatchAttempt(s.pool, s.schema, t0.jobId, t0.nodeId, 1, {
      handler: 'test_slow',
      resultQueue: s.resultQueue,
    });
    await send(s.tasks, t0.message);
    const w = await s.start();
    await waitFor('dropped', () => w.stats().stale === 1);
    expect(runs.get(t0.taskId)).toBeUndefined();
    const n = await nodeRow(s.pool, s.schema, t0.jobId, t0.nodeId);
    expect(n).toMatchObject({ status: 'dispatched', task_id: t1.taskId, attempt: 1 });
    const ignored = (await events(s.pool, s.schema, t0.jobId)).filter((e) => e.type === 'result_ignored');
    expect(ignored).toHaveLength(1);
    expect(ignored[0]!.task_id).toBe(t0.taskId);
    expect(ignored[0]!.error_message).toMatch(/arrived after the node moved on/);
    expect(await peekAll(s.results)).toEqual([]);
    await waitFor('queue empty', async () => (await approximateCount(s.tasks)) === 0);
  });

  it('a late result of an old attempt is ignored: the orchestration timed it out, the worker stops it', async () => {
    const s = await setup();
    const t = await dispatchTask(s.pool, s.schema, {
      handler: 'test_stubborn',
      params: { ms: 2500 },
      resultQueue: s.resultQueue,
    });
    await send(s.tasks, t.message);
    const w = await s.start();
    await waitFor(
      'running',
      async () => (await nodeRow(s.pool, s.schema, t.jobId, t.nodeId)).status === 'running',
    );
    // What the orchestration records when the attempt's deadline passes first.
    const timedOut = await recordTaskResult(s.pool, s.schema, {
      taskId: t.taskId,
      jobId: t.jobId,
      nodeId: t.nodeId,
      attempt: 0,
      status: 'failed',
      errorMessage: 'Task timed out after 300s',
      timedOut: true,
    });
    expect(timedOut.kind).toBe('applied');
    await waitFor('the worker moved on', () => w.stats().superseded === 1);
    await waitFor('queue empty', async () => (await approximateCount(s.tasks)) === 0);
    const n = await nodeRow(s.pool, s.schema, t.jobId, t.nodeId);
    expect(n).toMatchObject({ status: 'ready', attempt: 1 });
    const r = await s.pool.query(
      `SELECT error_message, worker_id FROM "${s.schema}".dag_task_results WHERE task_id = $1`,
      [t.taskId],
    );
    expect(r.rows).toEqual([{ error_message: 'Task timed out after 300s', worker_id: null }]);
    expect(await peekAll(s.results)).toEqual([]);
  });
});

describe('container worker: logs', () => {
  it('a normal completion is never reported as "stopping a running task" (its own result moves the node on)', async () => {
    const s = await setup();
    const lines: string[] = [];
    const logger = createLogger({ app: 'container-worker' }, { LOG_LEVEL: 'info' }, (line) => {
      lines.push(line);
    });
    const tasks = await Promise.all(
      Array.from({ length: 60 }, () =>
        dispatchTask(s.pool, s.schema, { handler: 'echo', params: {}, resultQueue: s.resultQueue }),
      ),
    );
    for (const t of tasks) await send(s.tasks, t.message);
    // The running tasks are polled as often as the worker allows, to catch the window between
    // recording a result and letting the task go.
    const w = await s.start({ logger, maxConcurrent: 8, cancelPollIntervalMs: 1 });
    await waitFor('all completed', () => w.stats().completed === 60, 60_000);
    await waitFor('queue empty', async () => (await approximateCount(s.tasks)) === 0);
    expect(lines.filter((l) => /stopping a running task/.test(l))).toEqual([]);
    expect(w.stats()).toMatchObject({ completed: 60, superseded: 0, cancelled: 0 });
  });
});

function ids(t: { jobId: string; nodeId: string; taskId: string }) {
  return { jobId: t.jobId, nodeId: t.nodeId, taskId: t.taskId };
}

describe('container worker: result messages under load', () => {
  it('tasks received or finishing together share statements and queue messages (group commit); each result is sent exactly once, after Postgres', async () => {
    const s = await setup();
    const tasks = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        dispatchTask(s.pool, s.schema, {
          handler: 'echo',
          params: { i },
          nodeId: `n${i}`,
          resultQueue: s.resultQueue,
        }),
      ),
    );
    await Promise.all(tasks.map((t) => send(s.tasks, t.message)));
    const recordings = countStatements((q) => /INSERT INTO \S*dag_task_results/.test(q.text));
    const preflights = countStatements((q) => q.text.includes('q.may_start'));
    const w = await s.start({ maxConcurrent: 16 });
    await waitFor('every result sent', () => w.stats().resultsSent === 40, 60_000);
    preflights.stop();
    recordings.stop();
    // Results recorded while another recording is in flight share its next statement; so do the
    // preflights of the messages of one receive.
    expect(recordings.count()).toBeGreaterThan(0);
    expect(recordings.count()).toBeLessThan(40);
    expect(preflights.count()).toBeGreaterThan(0);
    expect(preflights.count()).toBeLessThan(40);
    await waitFor('task queue empty', async () => (await approximateCount(s.tasks)) === 0);
    const messages: unknown[] = [];
    for (;;) {
      const got = (await s.results.receiveMessages({ numberOfMessages: 32, visibilityTimeout: 60 }))
        .receivedMessageItems;
      if (!got.length) break;
      for (const m of got) {
        const d = decodeQueueJson(m.messageText);
        messages.push(d.ok ? d.value : m.messageText);
      }
    }
    const results = messages.flatMap((m) => resultsOf(ResultQueueMessageSchema.parse(m)));
    expect(results.map((r) => r.task_id).sort()).toEqual(tasks.map((t) => t.taskId).sort());
    expect(results.every((r) => r.status === 'completed')).toBe(true);
    // 16 tasks finish at about the same time: most results travel with others.
    expect(messages.length).toBeLessThan(40);
    const applied = await s.pool.query(
      `SELECT count(*)::int AS n FROM "${s.schema}".dag_task_results WHERE disposition = 'applied'`,
    );
    expect(applied.rows[0].n).toBe(40);
  });
});
