// The runner (dagRunTasks) against Postgres, where the dev host cannot reach: a call whose chain fails
// after some of it was recorded (Postgres stops answering while a chained task's result is recorded)
// still reports its attempt and what the chain recorded, and leaves the rest to the orchestration
// (failing the call would fail an attempt that succeeded); a redelivered attempt runs only for what
// is left of the deadline its first start recorded.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { ActivityDeps } from '../../activities/activityDeps';
import { taskIdOf } from '../../dag/jobState';
import type { TaskAttempt } from '../../activities/contracts';
import { runTasks } from '../../activities/runTasks';
import { getNode, setJobStatus, startAttempts, type DbPool } from '../../db';
import { defaultRegistry } from '../../handlers/handlerRegistry';
import type { Logger } from '../../handlers/createLogger';
import { newJob, useDeployedSchema } from './helpers';

const db = useDeployedSchema();

const SLEEP0 = { type: 'task', handler: 'sleep', params: { duration_seconds: 0 } };
const snapshot = {
  workflow_id: 'chain_fault',
  name: 'chain fault',
  nodes: {
    start: { type: 'start', next: 'a' },
    a: { ...SLEEP0, next: 'b' },
    b: { ...SLEEP0, next: 'c' },
    c: { type: 'task', handler: 'trip', params: {}, next: 'd' },
    d: { ...SLEEP0, next: 'end' },
    end: { type: 'end' },
    slow: { type: 'task', handler: 'sleep', params: { duration_seconds: 20 }, next: 'end' },
  },
};

async function setup() {
  const t = db();
  const job = await newJob(t, {
    workflowId: 'chain_fault',
    workflowSnapshot: snapshot,
    nodes: [
      { nodeId: 'start', nodeType: 'start', maxRetries: 0, status: 'ready' },
      ...['a', 'b', 'c', 'd', 'slow'].map((nodeId) => ({ nodeId, nodeType: 'task' as const, maxRetries: 0 })),
      { nodeId: 'end', nodeType: 'end', maxRetries: 0 },
    ],
  });
  await setJobStatus(t.pool, t.schema, { jobId: job.job_id, from: ['pending'], to: 'running' });

  // Once `trip` has run, every statement fails: c's result cannot be recorded.
  let tripped = false;
  const failing =
    (fn: (...a: never[]) => unknown) =>
    (...a: never[]) => {
      if (tripped) return Promise.reject(new Error('connection terminated unexpectedly'));
      return fn(...a);
    };
  const pool = new Proxy(t.pool, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if ((prop === 'query' || prop === 'connect') && typeof v === 'function')
        return failing((v as (...a: never[]) => unknown).bind(target));
      return v;
    },
  }) as DbPool;
  const registry = defaultRegistry().register({
    name: 'trip',
    description: 'test: Postgres stops answering after it ran',
    runners: ['activity'],
    defaultRunner: 'activity',
    params: z.looseObject({}),
    run() {
      tripped = true;
      return Promise.resolve({});
    },
  } as never);
  const errors: string[] = [];
  const log: Logger = {
    debug: () => undefined,
    info: () => undefined,
    warn: () => undefined,
    error: (m) => void errors.push(m),
    child: () => log,
  };
  const deps: ActivityDeps = {
    pool,
    schema: t.schema,
    registry,
    queueConfig: { activityQueues: ['functionapp-tasks'], defaultContainerQueue: 'container-tasks' },
    chunkSize: 500,
    activityBatchSize: 100,
    resultQueue: 'results',
    sendToQueue: () => Promise.reject(new Error('no queue in this test')),
    probeQueueMessage: () => Promise.reject(new Error('no queue in this test')),
    log,
    sourceApp: 'test',
  };
  const attempt = (node: string): TaskAttempt => ({
    jobId: job.job_id,
    key: node,
    node,
    attempt: 0,
    taskId: taskIdOf(job.job_id, node, 0),
    timeoutSeconds: 60,
    deadline: Date.now() + 60_000,
    instanceId: 'test-instance',
  });

  return { t, job, deps, attempt, errors, trip: (on: boolean) => (tripped = on) };
}

describe('runTasks', () => {
  it('reports the attempt and the chain recorded so far when the chain then fails', async () => {
    const { t, job, deps, attempt, errors, trip } = await setup();
    const out = await runTasks(deps, {
      attempts: [attempt('a')],
      then: [attempt('b'), attempt('c'), attempt('d')],
      budgetMs: 10_000,
    });
    expect(out).toEqual({ results: [{ ok: true }], chained: [{ ok: true }] });
    expect(errors).toEqual([
      'running the chain after an attempt failed; the orchestration dispatches the rest',
    ]);
    trip(false);
    const status = async (id: string) => (await getNode(t.pool, t.schema, job.job_id, id))?.status;
    expect([await status('a'), await status('b'), await status('c'), await status('d')]).toEqual([
      'completed',
      'completed',
      // Started, its result not recorded: the orchestration dispatches it again and it resumes.
      'running',
      'pending',
    ]);
  });

  it('gives a redelivered attempt what is left of the deadline its first start recorded', async () => {
    const { t, job, deps, attempt } = await setup();
    const slow = attempt('slow');
    // The first delivery started it with 300 ms to go, then its host crashed.
    await startAttempts(t.pool, t.schema, [
      {
        jobId: job.job_id,
        nodeId: 'slow',
        taskId: slow.taskId,
        attempt: 0,
        to: 'running',
        deadlineAt: new Date(Date.now() + 300),
        handler: 'sleep',
        queue: 'activity',
      },
    ]);
    const out = await runTasks(deps, { attempts: [slow] });
    expect(out.results).toEqual([{ ok: false, error: expect.stringMatching(/timed out/i), retryable: true }]);
  });
});
