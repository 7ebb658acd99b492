import pg from 'pg';
import { describe, expect, it } from 'vitest';
import {
  getNode,
  listEvents,
  listTaskResults,
  markTaskStarted,
  readRecordedResults,
  recordHeartbeat,
  recordTaskResult,
  recordTaskResults,
  setJobStatus,
  transitionNode,
  type TaskResultInput,
} from '../../db';
import { dispatchedWork as dispatched, newJob, useDeployedSchema } from './helpers';
import { type TestSchema } from '../support/pg';

const db = useDeployedSchema();

const completion = (jobId: string, taskId: string, over: Partial<TaskResultInput> = {}): TaskResultInput => ({
  taskId,
  jobId,
  nodeId: 'work',
  attempt: 0,
  status: 'completed',
  output: { rows: [1, 2, 3] },
  workerId: 'worker-1',
  durationMs: 1234,
  ...over,
});

async function countEvents(t: TestSchema, jobId: string, type: string): Promise<number> {
  const r = await t.pool.query(
    `SELECT count(*)::int AS n FROM "${t.schema}".dag_job_events WHERE job_id = $1 AND event_type = $2`,
    [jobId, type],
  );
  return r.rows[0].n;
}

describe('recordTaskResult', () => {
  it('applies a completion: node completed with its output, result row, node_completed event', async () => {
    const t = db();
    const { jobId, taskId } = await dispatched(t);
    const r = await recordTaskResult(t.pool, t.schema, completion(jobId, taskId));
    expect(r).toMatchObject({
      kind: 'applied',
      outcome: 'completed',
      node: { status: 'completed', worker_id: 'worker-1', version: 3 },
    });
    // The applied node comes back without its params and output (the fan-out's hot path); they are stored.
    const keys = Object.keys(r.kind === 'applied' ? r.node : {});
    expect(keys).toContain('task_id');
    expect(keys).not.toContain('output');
    expect(keys).not.toContain('input_params');
    expect(await getNode(t.pool, t.schema, jobId, 'work')).toMatchObject({ output: { rows: [1, 2, 3] } });
    const results = await listTaskResults(t.pool, t.schema, { jobId, nodeId: 'work' });
    expect(results).toMatchObject([
      { task_id: taskId, disposition: 'applied', status: 'completed', duration_ms: 1234 },
    ]);
    const ev = await listEvents(t.pool, t.schema, jobId, { type: 'node_completed' });
    expect(ev.items).toMatchObject([{ task_id: taskId, event_status: 'success', duration_ms: 1234 }]);
  });

  it('the same completion delivered twice: one state change, one event, the second reports duplicate', async () => {
    const t = db();
    const { jobId, taskId } = await dispatched(t);
    const first = await recordTaskResult(t.pool, t.schema, completion(jobId, taskId));
    const second = await recordTaskResult(
      t.pool,
      t.schema,
      completion(jobId, taskId, { output: { different: true } }),
    );
    expect(first.kind).toBe('applied');
    expect(second).toMatchObject({
      kind: 'duplicate',
      existing: { task_id: taskId, disposition: 'applied' },
    });
    const node = await getNode(t.pool, t.schema, jobId, 'work');
    expect(node).toMatchObject({ output: { rows: [1, 2, 3] }, version: 3 }); // 1 created, 2 dispatched, 3 completed
    expect(await countEvents(t, jobId, 'node_completed')).toBe(1);
    expect((await listTaskResults(t.pool, t.schema, { jobId, nodeId: 'work' })).length).toBe(1);
  });

  it('concurrent duplicate deliveries from two pools: exactly one applies', async () => {
    const t = db();
    const other = new pg.Pool({ connectionString: t.url, max: 8 });
    try {
      const { jobId, taskId } = await dispatched(t);
      const rs = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          recordTaskResult(i % 2 ? t.pool : other, t.schema, completion(jobId, taskId)),
        ),
      );
      expect(rs.filter((r) => r.kind === 'applied')).toHaveLength(1);
      expect(rs.filter((r) => r.kind === 'duplicate')).toHaveLength(9);
      expect(await countEvents(t, jobId, 'node_completed')).toBe(1);
      expect((await getNode(t.pool, t.schema, jobId, 'work'))!.version).toBe(3);
    } finally {
      await other.end();
    }
  });

  it('schedules a retry on a failure with retries left, then fails after the last attempt', async () => {
    const t = db();
    const { jobId, taskId } = await dispatched(t); // work has max_retries 2: attempts 0, 1, 2
    const r0 = await recordTaskResult(t.pool, t.schema, {
      ...completion(jobId, taskId, { status: 'failed', errorMessage: 'disk full', output: undefined }),
      retryDelayMs: 60_000,
    });
    expect(r0).toMatchObject({
      kind: 'applied',
      outcome: 'retry_scheduled',
      node: { status: 'ready', attempt: 1, task_id: null, error_message: 'disk full' },
    });
    if (r0.kind === 'applied') expect(r0.node.retry_at!.getTime()).toBeGreaterThan(Date.now() + 30_000);
    // A late result of attempt 0 is now stale... and a duplicate, since attempt 0 already reported.
    expect((await recordTaskResult(t.pool, t.schema, completion(jobId, taskId))).kind).toBe('duplicate');

    let attempt = 1;
    let last;
    for (; attempt <= 2; attempt++) {
      const d = await transitionNode(t.pool, t.schema, {
        jobId,
        nodeId: 'work',
        from: ['ready'],
        to: 'dispatched',
      });
      if (d.kind !== 'applied') throw new Error('dispatch');
      expect(d.node.task_id).toBe(`${jobId}_work_${attempt}`);
      last = await recordTaskResult(t.pool, t.schema, {
        ...completion(jobId, d.node.task_id!, {
          status: 'failed',
          attempt,
          errorMessage: `fail ${attempt}`,
          output: undefined,
        }),
        timedOut: attempt === 2,
      });
    }
    expect(last).toMatchObject({
      kind: 'applied',
      outcome: 'failed',
      node: { status: 'failed', attempt: 2, error_message: 'fail 2' },
    });
    const types = (await listEvents(t.pool, t.schema, jobId, { nodeId: 'work' })).items.map(
      (e) => e.event_type,
    );
    expect(types).toEqual([
      'node_dispatched',
      'node_retry',
      'node_dispatched',
      'node_retry',
      'node_dispatched',
      'node_timeout',
      'node_failed',
    ]);
  });

  it('does not retry a non-retryable failure', async () => {
    const t = db();
    const { jobId, taskId } = await dispatched(t);
    const r = await recordTaskResult(t.pool, t.schema, {
      ...completion(jobId, taskId, { status: 'failed', errorMessage: 'Template resolution error: x' }),
      retryable: false,
    });
    expect(r).toMatchObject({ kind: 'applied', outcome: 'failed' });
  });

  it('records and ignores a result from an older attempt (stale)', async () => {
    const t = db();
    const { jobId, taskId } = await dispatched(t);
    await recordTaskResult(
      t.pool,
      t.schema,
      completion(jobId, taskId, { status: 'failed', errorMessage: 'x' }),
    );
    await transitionNode(t.pool, t.schema, { jobId, nodeId: 'work', from: ['ready'], to: 'dispatched' });
    // A result for attempt 5 that never existed, while attempt 1 runs.
    const r = await recordTaskResult(t.pool, t.schema, completion(jobId, `${jobId}_work_5`, { attempt: 5 }));
    expect(r).toMatchObject({ kind: 'stale', nodeStatus: 'dispatched', currentTaskId: `${jobId}_work_1` });
    const node = await getNode(t.pool, t.schema, jobId, 'work');
    expect(node).toMatchObject({ status: 'dispatched', output: null });
    const results = await listTaskResults(t.pool, t.schema, { jobId, nodeId: 'work' });
    expect(results.map((x) => x.disposition)).toEqual(['applied', 'stale']);
    expect(await countEvents(t, jobId, 'result_ignored')).toBe(1);
  });

  it('records and ignores a result arriving after the job ended', async () => {
    const t = db();
    const { jobId, taskId } = await dispatched(t);
    await setJobStatus(t.pool, t.schema, { jobId, from: ['running'], to: 'cancelled' });
    const r = await recordTaskResult(t.pool, t.schema, completion(jobId, taskId));
    expect(r).toEqual({ kind: 'ignored_job_terminal' });
    expect((await getNode(t.pool, t.schema, jobId, 'work'))!.status).toBe('dispatched');
    expect((await listTaskResults(t.pool, t.schema, { jobId, nodeId: 'work' }))[0]!.disposition).toBe(
      'ignored_job_terminal',
    );
  });

  it('reports not_found for an unknown node without writing anything', async () => {
    const t = db();
    const { jobId } = await dispatched(t);
    expect(await recordTaskResult(t.pool, t.schema, completion(jobId, 'x_y_0', { nodeId: 'ghost' }))).toEqual(
      { kind: 'not_found' },
    );
    expect(await recordTaskResult(t.pool, t.schema, completion('no-job', 'x_y_0'))).toEqual({
      kind: 'not_found',
    });
  });

  it('records a batch in one statement, with in-batch duplicates reported', async () => {
    const t = db();
    const job = await newJob(t, {
      nodes: Array.from({ length: 20 }, (_, i) => ({ nodeId: `n${i}`, nodeType: 'task' as const })),
    });
    const d = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        transitionNode(t.pool, t.schema, {
          jobId: job.job_id,
          nodeId: `n${i}`,
          from: ['pending'],
          to: 'dispatched',
        }),
      ),
    );
    const inputs = d.map((r, i) => {
      if (r.kind !== 'applied') throw new Error('setup');
      return {
        taskId: r.node.task_id!,
        jobId: job.job_id,
        nodeId: `n${i}`,
        attempt: 0,
        status: 'completed' as const,
        output: i,
      };
    });
    const rs = await recordTaskResults(t.pool, t.schema, [...inputs, inputs[3]!]);
    expect(rs.slice(0, 20).every((r) => r.kind === 'applied')).toBe(true);
    expect(rs[20]).toMatchObject({ kind: 'duplicate' });
    expect(await countEvents(t, job.job_id, 'node_completed')).toBe(20);
    expect((await getNode(t.pool, t.schema, job.job_id, 'n7'))!.output).toBe(7);
  });
});

describe('markTaskStarted and recordHeartbeat', () => {
  it('moves dispatched → running once, then heartbeats without bumping the version', async () => {
    const t = db();
    const { jobId, taskId } = await dispatched(t);
    const s1 = await markTaskStarted(t.pool, t.schema, { taskId, jobId, nodeId: 'work', workerId: 'w-9' });
    expect(s1).toMatchObject({ kind: 'applied', node: { status: 'running', worker_id: 'w-9' } });
    const s2 = await markTaskStarted(t.pool, t.schema, { taskId, jobId, nodeId: 'work', workerId: 'w-9' });
    expect(s2.kind).toBe('already_running');
    expect((await markTaskStarted(t.pool, t.schema, { taskId: 'other', jobId, nodeId: 'work' })).kind).toBe(
      'stale',
    );
    const before = (await getNode(t.pool, t.schema, jobId, 'work'))!;
    expect(
      await recordHeartbeat(t.pool, t.schema, { taskId, jobId, nodeId: 'work', progress: { pct: 40 } }),
    ).toEqual({ kind: 'applied' });
    const after = (await getNode(t.pool, t.schema, jobId, 'work'))!;
    expect(after.version).toBe(before.version);
    expect(after.progress).toEqual({ pct: 40 });
    expect(after.heartbeat_at).toBeInstanceOf(Date);
    expect(await recordHeartbeat(t.pool, t.schema, { taskId: 'old', jobId, nodeId: 'work' })).toEqual({
      kind: 'stale',
    });
  });
});

describe('readRecordedResults', () => {
  it('reads the results of many task ids in one statement: recorded ones with their node and job, others absent', async () => {
    const t = db();
    const a = await dispatched(t);
    const b = await dispatched(t);
    await recordTaskResult(t.pool, t.schema, completion(a.jobId, a.taskId));
    await recordTaskResult(
      t.pool,
      t.schema,
      completion(b.jobId, b.taskId, {
        status: 'failed',
        output: undefined,
        errorMessage: 'boom',
        retryable: false,
      }),
    );
    const r = await readRecordedResults(t.pool, t.schema, [a.taskId, 'never-recorded', b.taskId, a.taskId]);
    expect([...r.keys()].sort()).toEqual([a.taskId, b.taskId].sort());
    expect(r.get(a.taskId)).toMatchObject({
      jobId: a.jobId,
      nodeId: 'work',
      attempt: 0,
      state: { node: { status: 'completed' }, result: { status: 'completed', disposition: 'applied' } },
    });
    expect(r.get(b.taskId)).toMatchObject({
      jobId: b.jobId,
      state: { node: { status: 'failed' }, result: { status: 'failed', errorMessage: 'boom' } },
    });
    expect((await readRecordedResults(t.pool, t.schema, [])).size).toBe(0);
  });
});
