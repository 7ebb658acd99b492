// startAttempts: a batch of attempts started in one statement, one outcome per input in order. A
// started attempt reports its new row; one that did not start reports the row as it is, which says
// why (a redelivery, a recorded result, an ended job, another attempt, no such node).
import { describe, expect, it } from 'vitest';
import {
  recordTaskResult,
  requestCancel,
  setJobStatus,
  startAttempts,
  type StartAttemptInput,
} from '../../db';
import { runningJob, useDeployedSchema } from './helpers';

const db = useDeployedSchema();

const attempt = (jobId: string, over: Partial<StartAttemptInput> = {}): StartAttemptInput => ({
  jobId,
  nodeId: 'work',
  taskId: `${jobId}_work_0`,
  attempt: 0,
  to: 'running',
  deadlineAt: new Date(Date.now() + 60_000),
  inputParams: { message: 'hi' },
  handler: 'echo',
  queue: 'functionapp-tasks',
  sourceApp: 'test',
  ...over,
});

describe('startAttempts', () => {
  it('starts a batch in one statement and reports each new row, in input order', async () => {
    const t = db();
    const a = await runningJob(t);
    const b = await runningJob(t);
    const out = await startAttempts(t.pool, t.schema, [attempt(b), attempt(a, { to: 'dispatched' })]);
    expect(out.map((o) => o.kind)).toEqual(['started', 'started']);
    const [sb, sa] = out as Array<Extract<(typeof out)[number], { kind: 'started' }>>;
    expect(sb!.node).toMatchObject({ job_id: b, node_id: 'work', status: 'running', task_id: `${b}_work_0` });
    expect(sb!.node.started_at).toBeInstanceOf(Date);
    expect(sb!.node.input_params).toEqual({ message: 'hi' });
    expect(sa!.node).toMatchObject({ job_id: a, status: 'dispatched', started_at: null });
    // Only what the runners use: the whole row of 100 children per call cost a tenth of a fan-out.
    expect(Object.keys(sb!.node).sort()).toEqual([
      'attempt',
      'deadline_at',
      'first_attempt',
      'input_params',
      'job_id',
      'node_id',
      'started_at',
      'status',
      'task_id',
    ]);
    expect(sb!.node.deadline_at).toBeInstanceOf(Date);
  });

  it('a redelivered start is already_started, with the row as it is', async () => {
    const t = db();
    const j = await runningJob(t);
    const [first] = await startAttempts(t.pool, t.schema, [attempt(j)]);
    const [again] = await startAttempts(t.pool, t.schema, [attempt(j)]);
    expect(first!.kind).toBe('started');
    if (first?.kind !== 'started') throw new Error('the first start did not apply');
    // Nothing applied twice: the row is the one the first start left (a start returns the columns
    // of StartedNode; a redelivery the whole row).
    expect(again?.kind).toBe('already_started');
    expect(again && 'node' in again ? again.node : undefined).toMatchObject(first.node);
  });

  it('an attempt with a recorded result is finished, with the node it left', async () => {
    const t = db();
    const j = await runningJob(t);
    const a = attempt(j);
    await startAttempts(t.pool, t.schema, [a]);
    await recordTaskResult(t.pool, t.schema, {
      taskId: a.taskId,
      jobId: j,
      nodeId: 'work',
      attempt: 0,
      status: 'completed',
      output: { ok: true },
    });
    const [again] = await startAttempts(t.pool, t.schema, [a]);
    expect(again).toMatchObject({
      kind: 'finished',
      resultStatus: 'completed',
      node: { status: 'completed', output: { ok: true } },
      retryable: false,
    });
  });

  it('an ended job or a requested cancel starts nothing', async () => {
    const t = db();
    const failed = await runningJob(t);
    await setJobStatus(t.pool, t.schema, { jobId: failed, from: ['running'], to: 'failed' });
    const cancelled = await runningJob(t);
    await requestCancel(t.pool, t.schema, { jobId: cancelled, requestedBy: 'test' });
    const out = await startAttempts(t.pool, t.schema, [attempt(failed), attempt(cancelled)]);
    expect(out).toEqual([
      { kind: 'job_closed', jobStatus: 'failed', cancelRequested: false },
      { kind: 'job_closed', jobStatus: 'running', cancelRequested: true },
    ]);
    const rows = await t.pool.query(`SELECT status::text FROM dag_node_states WHERE node_id = 'work'`);
    expect(rows.rows.map((r) => r.status)).toEqual(['pending', 'pending']);
  });

  it('another attempt of the node is stale; a node that does not exist is not_found', async () => {
    const t = db();
    const j = await runningJob(t);
    await startAttempts(t.pool, t.schema, [attempt(j)]);
    const out = await startAttempts(t.pool, t.schema, [
      attempt(j, { taskId: `${j}_work_1`, attempt: 1 }),
      attempt(j, { nodeId: 'nosuch', taskId: `${j}_nosuch_0` }),
    ]);
    expect(out[0]).toMatchObject({ kind: 'stale', node: { status: 'running', task_id: `${j}_work_0` } });
    expect(out[1]).toEqual({ kind: 'not_found' });
  });
});
