// recordLightAttempts (issue 19): the start and the result of a light attempt in one statement,
// applied only while the attempt is current; otherwise nothing is written.
import { describe, expect, it } from 'vitest';
import {
  getNode,
  listEvents,
  listTaskResults,
  recordLightAttempts,
  requestCancel,
  transitionNode,
  type LightAttemptInput,
} from '../../db';
import { runningJob, useDeployedSchema } from './helpers';
import { type TestSchema } from '../support/pg';

const db = useDeployedSchema();

const attempt = (jobId: string, over: Partial<LightAttemptInput> = {}): LightAttemptInput => ({
  jobId,
  nodeId: 'work',
  taskId: `${jobId}_work_${over.attempt ?? 0}`,
  attempt: 0,
  startedAt: new Date(Date.now() - 5),
  inputParams: { i: 1 },
  handler: 'echo',
  status: 'completed',
  output: { echoed: 1 },
  durationMs: 3,
  ...over,
});

async function eventTypes(t: TestSchema, jobId: string): Promise<string[]> {
  const ev = await listEvents(t.pool, t.schema, jobId, { nodeId: 'work' });
  return ev.items.map((e) => e.event_type);
}

describe('recordLightAttempts', () => {
  it('completes a pending node in one statement: row, result, and the events of start and result in order', async () => {
    const t = db();
    const jobId = await runningJob(t);
    const a = attempt(jobId);
    expect(await recordLightAttempts(t.pool, t.schema, [a], { sourceApp: 'test' })).toEqual([
      { applied: true, nodeStatus: 'completed' },
    ]);
    const node = await getNode(t.pool, t.schema, jobId, 'work');
    expect(node).toMatchObject({
      status: 'completed',
      task_id: a.taskId,
      attempt: 0,
      output: { echoed: 1 },
      input_params: { i: 1 },
      deadline_at: null,
      error_message: null,
    });
    expect(node!.started_at!.getTime()).toBe(a.startedAt.getTime());
    expect(node!.completed_at!.getTime()).toBeGreaterThanOrEqual(node!.started_at!.getTime());
    expect(await listTaskResults(t.pool, t.schema, { jobId, nodeId: 'work' })).toMatchObject([
      {
        task_id: a.taskId,
        status: 'completed',
        disposition: 'applied',
        duration_ms: 3,
        output: { echoed: 1 },
      },
    ]);
    expect(await eventTypes(t, jobId)).toEqual([
      'node_ready',
      'node_dispatched',
      'node_started',
      'node_completed',
    ]);
  });

  it('a retryable failure with retries left: ready at the next attempt after the policy delay of this retry', async () => {
    const t = db();
    const jobId = await runningJob(t);
    const [r0] = await recordLightAttempts(t.pool, t.schema, [
      attempt(jobId, { status: 'failed', errorMessage: 'boom', retryDelaysMs: [60_000, 3_600_000] }),
    ]);
    expect(r0).toEqual({ applied: true, nodeStatus: 'ready' });
    let node = await getNode(t.pool, t.schema, jobId, 'work');
    expect(node).toMatchObject({ status: 'ready', attempt: 1, task_id: null, error_message: 'boom' });
    const wait0 = node!.retry_at!.getTime() - Date.now();
    expect(wait0).toBeGreaterThan(50_000);
    expect(wait0).toBeLessThan(70_000);
    // The second retry uses the second delay (retry number = attempt − first_attempt).
    const [r1] = await recordLightAttempts(t.pool, t.schema, [
      attempt(jobId, {
        attempt: 1,
        status: 'failed',
        errorMessage: 'boom',
        retryDelaysMs: [60_000, 3_600_000],
      }),
    ]);
    expect(r1).toEqual({ applied: true, nodeStatus: 'ready' });
    node = await getNode(t.pool, t.schema, jobId, 'work');
    expect(node!.attempt).toBe(2);
    expect(node!.retry_at!.getTime() - Date.now()).toBeGreaterThan(3_500_000);
    // Retries exhausted (max 2): failed.
    const [r2] = await recordLightAttempts(t.pool, t.schema, [
      attempt(jobId, { attempt: 2, status: 'failed', errorMessage: 'last', timedOut: true }),
    ]);
    expect(r2).toEqual({ applied: true, nodeStatus: 'failed' });
    node = await getNode(t.pool, t.schema, jobId, 'work');
    expect(node).toMatchObject({ status: 'failed', attempt: 2, error_message: 'last' });
    const types = await eventTypes(t, jobId);
    expect(types.filter((x) => x === 'node_retry')).toHaveLength(2);
    expect(types.slice(-2)).toEqual(['node_timeout', 'node_failed']);
    expect(await listTaskResults(t.pool, t.schema, { jobId, nodeId: 'work' })).toHaveLength(3);
  });

  it('a non-retryable failure fails the node at once', async () => {
    const t = db();
    const jobId = await runningJob(t);
    const [r] = await recordLightAttempts(t.pool, t.schema, [
      attempt(jobId, { status: 'failed', errorMessage: 'bad params', retryable: false }),
    ]);
    expect(r).toEqual({ applied: true, nodeStatus: 'failed' });
  });

  it('writes nothing when the attempt is not current: redelivery, another attempt, a started node, a cancel', async () => {
    const t = db();
    const jobId = await runningJob(t);
    await recordLightAttempts(t.pool, t.schema, [attempt(jobId)]);
    const eventsBefore = (await eventTypes(t, jobId)).length;
    // The same attempt again (a redelivered activity): the node is completed already.
    expect(
      await recordLightAttempts(t.pool, t.schema, [attempt(jobId, { output: { other: true } })]),
    ).toEqual([{ applied: false }]);
    expect((await getNode(t.pool, t.schema, jobId, 'work'))!.output).toEqual({ echoed: 1 });
    expect((await eventTypes(t, jobId)).length).toBe(eventsBefore);

    const other = await runningJob(t);
    // Wrong attempt number.
    expect(await recordLightAttempts(t.pool, t.schema, [attempt(other, { attempt: 1 })])).toEqual([
      { applied: false },
    ]);
    // Started the normal way meanwhile (running): not taken over.
    await transitionNode(t.pool, t.schema, {
      jobId: other,
      nodeId: 'work',
      from: ['pending'],
      to: 'dispatched',
    });
    expect(await recordLightAttempts(t.pool, t.schema, [attempt(other)])).toEqual([{ applied: false }]);
    expect(await listTaskResults(t.pool, t.schema, { jobId: other, nodeId: 'work' })).toEqual([]);

    const cancelled = await runningJob(t);
    await requestCancel(t.pool, t.schema, { jobId: cancelled });
    expect(await recordLightAttempts(t.pool, t.schema, [attempt(cancelled)])).toEqual([{ applied: false }]);
    expect((await getNode(t.pool, t.schema, cancelled, 'work'))!.status).toBe('pending');
  });

  it('records a batch in one statement, each attempt on its own', async () => {
    const t = db();
    const a = await runningJob(t);
    const b = await runningJob(t);
    await requestCancel(t.pool, t.schema, { jobId: b });
    const out = await recordLightAttempts(t.pool, t.schema, [attempt(b), attempt(a)]);
    expect(out).toEqual([{ applied: false }, { applied: true, nodeStatus: 'completed' }]);
  });

  it('allOrNothing: a chain is recorded whole or not at all; completedAt keeps the times it really ran', async () => {
    const t = db();
    const jobId = await runningJob(t);
    const first = attempt(jobId, { nodeId: 'work', taskId: `${jobId}_work_0` });
    // `gather` is not at attempt 3: nothing of the chain is written.
    const stale = attempt(jobId, { nodeId: 'gather', taskId: `${jobId}_gather_3`, attempt: 3 });
    expect(await recordLightAttempts(t.pool, t.schema, [first, stale], { allOrNothing: true })).toEqual([
      { applied: false },
      { applied: false },
    ]);
    expect((await getNode(t.pool, t.schema, jobId, 'work'))!.status).toBe('pending');
    const ranAt = new Date(Date.now() - 60_000);
    const endedAt = new Date(Date.now() - 59_000);
    const second = attempt(jobId, { nodeId: 'gather', taskId: `${jobId}_gather_0`, startedAt: endedAt });
    const out = await recordLightAttempts(
      t.pool,
      t.schema,
      [
        { ...first, startedAt: ranAt, completedAt: endedAt },
        { ...second, completedAt: new Date(endedAt.getTime() + 5) },
      ],
      { allOrNothing: true },
    );
    expect(out).toEqual([
      { applied: true, nodeStatus: 'completed' },
      { applied: true, nodeStatus: 'completed' },
    ]);
    const work = await getNode(t.pool, t.schema, jobId, 'work');
    const gather = await getNode(t.pool, t.schema, jobId, 'gather');
    expect(work!.started_at!.getTime()).toBe(ranAt.getTime());
    expect(work!.completed_at!.getTime()).toBe(endedAt.getTime());
    expect(gather!.started_at!.getTime()).toBe(endedAt.getTime());
    expect(gather!.completed_at!.getTime()).toBe(endedAt.getTime() + 5);
  });
});
