// The container worker beside the full local stack (dev host running the Function App, Azurite,
// Postgres): the seed workflows of the original system run unchanged, cancel stops a running
// container task, a worker SIGKILLed mid-task is resumed from its checkpoint by another, and a
// handler that crashes its process ends in the poison queue with the job failed.
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runProcess, startContainerWorker, type ContainerWorker } from '../../container-worker';
import { defaultRegistry, HandlerRegistry } from '../../handlers/handlerRegistry';
import type { HandlerContext, HandlerDefinition } from '../../handlers/handlerTypes';
import { sleep as sleepHandler } from '../../handlers/builtinHandlers';
import { jobInstanceId } from '../../activities/contracts';
import { nodeOf, ROOT, startStack, type Stack } from '../e2e/stack';
import {
  approximateCount,
  events,
  isAlive,
  queueClient,
  send,
  spawnWorkerProcess,
  testLogger,
  waitFor,
} from './support';

const SEEDS = path.join(ROOT, '..', 'shared', 'fixtures', 'seed-workflows');

let stack: Stack;
let worker: ContainerWorker;
let failed = false;
/** Pids of the `sleep` processes started by the process-based sleep handler, by task id. */
const sleepPids = new Map<string, number>();

/** The built-in handlers, with `sleep` done by a child process (as GDAL tools run). */
function processRegistry(): HandlerRegistry {
  const base = defaultRegistry();
  const r = new HandlerRegistry();
  for (const name of base.names()) if (name !== 'sleep') r.register(base.get(name)!);
  r.register({
    ...sleepHandler,
    async run(p: { duration_seconds: number }, ctx: HandlerContext) {
      const child = runProcess('sh', ['-c', 'echo $$; exec sleep "$1"', 'sh', String(p.duration_seconds)], {
        signal: ctx.signal,
        onStdout: (line) => /^\d+$/.test(line) && sleepPids.set(ctx.taskId, Number(line)),
      });
      await child;
      return { slept_for: p.duration_seconds };
    },
  } as unknown as HandlerDefinition<never>);
  return r;
}

function seed(file: string): string {
  const p = path.join(SEEDS, file);
  // CI lays shared/ beside the clone; the shipped copies are byte-identical (test/unit checks it).
  return readFileSync(existsSync(p) ? p : path.join(ROOT, 'workflows', file), 'utf8');
}

const children: ChildProcess[] = [];

/** A worker as its own process (the container entry point), on the given queue. */
function spawnWorker(entry: string, env: Record<string, string>): ChildProcess {
  const child = spawnWorkerProcess(entry, {
    schema: stack.schema.schema,
    databaseUrl: stack.schema.url,
    storage: stack.azurite.connectionString,
    env,
  });
  children.push(child);
  return child;
}

const exited = (c: ChildProcess) =>
  new Promise<number | null>((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) resolve(c.exitCode);
    else c.once('exit', (code) => resolve(code));
  });

beforeAll(async () => {
  stack = await startStack({ shippedWorkflows: false });
  for (const f of ['hello_world.yaml', 'echo_test.yaml', 'fan_out_test.yaml'])
    stack.writeWorkflow(seed(f), f);
  worker = await startContainerWorker({
    queues: ['dag-worker-tasks', 'container-tasks'],
    storageConnectionString: stack.azurite.connectionString,
    databaseUrl: stack.schema.url,
    schema: stack.schema.schema,
    registry: processRegistry(),
    maxConcurrent: 8,
    visibilityTimeoutSeconds: 10,
    pollIntervalMs: 200,
    cancelPollIntervalMs: 500,
    logger: testLogger(),
  });
}, 120_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await worker?.stop();
  await stack?.stop(failed);
});

const track = <T>(p: Promise<T>) =>
  p.catch((err: unknown) => {
    failed = true;
    throw err;
  });

describe('seed workflows through the container worker', () => {
  it('hello_world completes (an activity node)', () =>
    track(
      (async () => {
        const id = await stack.submit('hello_world', {});
        const d = await stack.waitForJob(id);
        expect(d.job.status).toBe('completed');
        expect(nodeOf(d, 'hello').output).toEqual({ message: 'Hello from DAG!' });
      })(),
    ));

  it('echo_test completes on the dag-worker-tasks queue with the echoed params', () =>
    track(
      (async () => {
        const before = worker.stats().completed;
        const id = await stack.submit('echo_test', { message: 'from the worker' });
        const d = await stack.waitForJob(id);
        expect(d.job.status).toBe('completed');
        const n = nodeOf(d, 'echo_handler');
        expect(n.output).toEqual({
          echoed_params: { message: 'from the worker', count: 1 },
          handler: 'echo',
          task_id: n.task_id,
        });
        expect(d.job.result_data?.echo_handler).toEqual(n.output);
        expect(worker.stats().completed).toBe(before + 1);
      })(),
    ));

  it('result messages for a finished job or an unknown instance are consumed and dropped, never poisoned', () =>
    track(
      (async () => {
        const id = await stack.submit('echo_test', { message: 'late results' });
        const d = await stack.waitForJob(id);
        expect(d.job.status).toBe('completed');
        const n = nodeOf(d, 'echo_handler');
        const results = queueClient(stack.azurite.connectionString, stack.env.DAG_RESULT_QUEUE!);
        const poison = queueClient(stack.azurite.connectionString, `${stack.env.DAG_RESULT_QUEUE!}-poison`);
        const base = {
          v: 1,
          task_id: n.task_id,
          job_id: id,
          node_id: 'echo_handler',
          attempt: n.attempt,
          status: 'completed',
          reported_at: new Date().toISOString(),
        };
        // The applied result again (its orchestration has completed), and one naming no instance.
        await send(results, { ...base, reply_to: jobInstanceId(id, 1) });
        await send(results, { ...base, reply_to: 'no-such-instance' });
        await waitFor(
          'the result queue to drain',
          async () => (await approximateCount(results)) === 0,
          20_000,
        );
        expect(await approximateCount(poison)).toBe(0);
        const after = await stack.waitForJob(id);
        expect(after.job.status).toBe('completed');
        expect(nodeOf(after, 'echo_handler').output).toEqual(n.output);
      })(),
    ));

  it('fan_out_test with 3 items aggregates 3 results in index order', () =>
    track(
      (async () => {
        const items = ['alpha', 'bravo', 'charlie'];
        const id = await stack.submit('fan_out_test', { item_list: items });
        const d = await stack.waitForJob(id, 90_000);
        expect(d.job.status).toBe('completed');
        const agg = nodeOf(d, 'aggregate').output as {
          results: Array<{ echoed_params: unknown }>;
          count: number;
        };
        expect(agg.count).toBe(3);
        expect(agg.results.map((r) => r.echoed_params)).toEqual(
          items.map((item, index) => ({ item_value: item, item_index: index })),
        );
        expect(nodeOf(d, 'prepare').output).toMatchObject({ echoed_params: { item_list: items } });
      })(),
    ));
});

describe('cancel', () => {
  it('cancelling a job during a long container task stops its process and the job is cancelled', () =>
    track(
      (async () => {
        stack.writeWorkflow({
          workflow_id: 'long_container',
          name: 'long container task',
          nodes: {
            start: { type: 'start', next: 'nap' },
            nap: {
              type: 'task',
              handler: 'sleep',
              queue: 'container-tasks',
              params: { duration_seconds: 300 },
              timeout_seconds: 600,
              next: 'end',
            },
            end: { type: 'end' },
          },
        });
        const id = await stack.submit('long_container', {});
        const pid = await waitFor('sleep process running', () => sleepPids.get(`${id}_nap_0`), 60_000);
        const r = await stack.api('POST', `/api/jobs/${id}/cancel`, {});
        expect([200, 202]).toContain(r.status);
        const at = Date.now();
        await waitFor('process stopped', () => !isAlive(pid), 30_000);
        console.log(`cancel → container task process stopped in ${Date.now() - at} ms`);
        const d = await stack.waitForJob(id);
        expect(d.job.status).toBe('cancelled');
        expect(worker.stats().cancelled).toBeGreaterThanOrEqual(1);
      })(),
    ));
});

describe('worker processes', () => {
  it('a worker SIGKILLed mid-task: the message reappears, another worker resumes from the checkpoint, the job completes', () =>
    track(
      (async () => {
        stack.writeWorkflow({
          workflow_id: 'resume_after_kill',
          name: 'resume after kill',
          nodes: {
            start: { type: 'start', next: 'steps' },
            steps: {
              type: 'task',
              handler: 'echo',
              queue: 'resume-tasks',
              params: { steps: 8, step_delay: 0.5 },
              timeout_seconds: 300,
              next: 'end',
            },
            end: { type: 'end' },
          },
        });
        const env = { DAG_WORKER_QUEUES: 'resume-tasks' };
        const first = spawnWorker('container-worker/main.ts', { ...env, DAG_WORKER_ID: 'first' });
        const id = await stack.submit('resume_after_kill', {});
        await waitFor(
          'three steps checkpointed',
          async () =>
            (await events(stack.schema.pool, stack.schema.schema, id)).filter(
              (e) => e.type === 'checkpoint_saved',
            ).length >= 3,
          60_000,
        );
        first.kill('SIGKILL');
        await exited(first);
        spawnWorker('container-worker/main.ts', { ...env, DAG_WORKER_ID: 'second' });
        const d = await stack.waitForJob(id, 90_000);
        expect(d.job.status).toBe('completed');
        const out = nodeOf(d, 'steps').output as { steps_completed: number; resumed_from_step: number };
        expect(out.steps_completed).toBe(8);
        expect(out.resumed_from_step).toBeGreaterThanOrEqual(4);
        const ev = await events(stack.schema.pool, stack.schema.schema, id);
        const phases = ev.filter((e) => e.type === 'checkpoint_saved').map((e) => e.event_data.phase_name);
        expect(phases).toEqual(Array.from({ length: 8 }, (_, i) => `step_${i + 1}`));
        const saver = ev.filter((e) => e.type === 'node_completed' && e.node_id === 'steps');
        expect(saver).toHaveLength(1);
        expect(saver[0]!.event_data.worker_id).toBe('second');
      })(),
    ));

  it('a handler that always crashes its process: poison queue after the limit, node failed, job failed', () =>
    track(
      (async () => {
        stack.writeWorkflow({
          workflow_id: 'crashing_handler',
          name: 'crashing handler',
          nodes: {
            start: { type: 'start', next: 'boom' },
            boom: {
              type: 'task',
              handler: 'echo',
              queue: 'crash-tasks',
              params: { crash_process: true },
              timeout_seconds: 600,
              next: 'end',
            },
            end: { type: 'end' },
          },
        });
        const id = await stack.submit('crashing_handler', {});
        const env = { DAG_WORKER_QUEUES: 'crash-tasks', DAG_WORKER_MAX_DEQUEUE_COUNT: '3' };
        // The supervisor: restart the worker whenever it dies, as Container Apps restarts a replica.
        const exits: Array<number | null> = [];
        let done = false;
        let current: ChildProcess | undefined;
        const supervisor = (async () => {
          while (!done && exits.length < 10) {
            current = spawnWorker('test/worker/fixtures/crashingWorker.ts', env);
            exits.push(await exited(current));
          }
        })();
        const d = await stack.waitForJob(id, 120_000);
        done = true;
        current?.kill('SIGTERM');
        await supervisor;
        expect(d.job.status).toBe('failed');
        const boom = nodeOf(d, 'boom');
        expect(boom.status).toBe('failed');
        expect(boom.error_message).toBe(
          `Task message for ${id}_boom_0 was delivered 3 times without completing (the worker crashed or was killed each time); moved to crash-tasks-poison`,
        );
        expect(d.job.error_message).toContain('moved to crash-tasks-poison');
        // Three crashed workers (killed by SIGKILL: exit code null), then the one that poisoned it.
        expect(exits.slice(0, 3)).toEqual([null, null, null]);
        const poison = queueClient(stack.azurite.connectionString, 'crash-tasks-poison');
        expect(await approximateCount(poison)).toBe(1);
      })(),
    ));
});
