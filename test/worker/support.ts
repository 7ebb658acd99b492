// Support for the worker tests: Azurite per file, jobs with dispatched task nodes written through
// the db/ repositories (as the enqueue activity does), task messages on a queue, and a registry of
// test-only handlers that count their runs.
import { QueueServiceClient, type QueueClient } from '@azure/storage-queue';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type pg from 'pg';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { z } from 'zod';
import { expect } from 'vitest';
import { canonicalOutcome } from '../../activities/settleAttempts';
import type { ContainerResultMessage, ContainerTaskMessage } from '../../lib/containerMessages';
import { resultSignatureMatches } from '../../lib/io/resultSignature';
import { createJob, loadResultKeys, readRecordedResults, startAttempt } from '../../db';
import { TEST_DATABASE_URL, useTestSchema } from '../support/pg';
import { launchAzurite, type AzuriteInstance } from '../../devhost';
import { abortableSleep } from '../../handlers/abortableSleep';
import { createLogger } from '../../handlers/createLogger';
import { defaultRegistry, type HandlerRegistry } from '../../handlers/handlerRegistry';
import type { HandlerDefinition } from '../../handlers/handlerTypes';
import {
  decodeQueueJson,
  encodeQueueMessage,
  runProcess,
  startContainerWorker,
  type ContainerWorker,
  type ContainerWorkerOptions,
} from '../../container-worker';

/** Starts Azurite for the test file; the getter gives it inside tests. */
export function useAzurite(): () => AzuriteInstance {
  let azurite: AzuriteInstance | undefined;
  beforeAll(async () => {
    azurite = await launchAzurite();
  }, 60_000);
  afterAll(async () => {
    await azurite?.stop();
  });
  return () => {
    if (!azurite) throw new Error('useAzurite(): Azurite is not running');
    return azurite;
  };
}

export const uniqueQueue = (prefix = 'tasks') => `${prefix}-${randomBytes(4).toString('hex')}`;

/** Worker logs in tests: errors only unless LOG_LEVEL says otherwise. */
export const testLogger = () =>
  createLogger({ app: 'container-worker' }, { LOG_LEVEL: process.env.LOG_LEVEL ?? 'error' });

/** Runs of the test handlers, by task id. */
export const runs = new Map<string, number>();
const count = (taskId: string) => runs.set(taskId, (runs.get(taskId) ?? 0) + 1);

const slow: HandlerDefinition<{ ms: number; save_at?: number[] }> = {
  name: 'test_slow',
  description: 'Counts its runs; sleeps ms (abortable).',
  runners: ['container'],
  defaultRunner: 'container',
  params: z.looseObject({ ms: z.number().default(0) }),
  async run(p, ctx) {
    count(ctx.taskId);
    await abortableSleep(p.ms, ctx.signal);
    return { slept: p.ms, task_id: ctx.taskId };
  },
};

/** Ignores its signal (a handler that does not cooperate): the worker still moves on. */
const stubborn: HandlerDefinition<{ ms: number }> = {
  name: 'test_stubborn',
  description: 'Counts its runs; sleeps ms ignoring the signal.',
  runners: ['container'],
  defaultRunner: 'container',
  params: z.looseObject({ ms: z.number().default(0) }),
  async run(p, ctx) {
    count(ctx.taskId);
    await new Promise((r) => setTimeout(r, p.ms));
    return { slept: p.ms };
  },
};

/** Pids of the OS processes started by test_process, by task id. */
export const pids = new Map<string, number>();

/** Runs `sleep <seconds>` as a real child process through runProcess (GDAL-like). */
const proc: HandlerDefinition<{ seconds: number }> = {
  name: 'test_process',
  description: 'Runs sleep(1) as a child process for `seconds`.',
  runners: ['container'],
  defaultRunner: 'container',
  params: z.looseObject({ seconds: z.number().default(60) }),
  async run(p, ctx) {
    count(ctx.taskId);
    const child = runProcess('sh', ['-c', 'echo $$; exec sleep "$1"', 'sh', String(p.seconds)], {
      signal: ctx.signal,
      killGraceMs: 1000,
      onStdout: (line) => {
        if (/^\d+$/.test(line)) pids.set(ctx.taskId, Number(line));
      },
    });
    const r = await child;
    return { code: r.code };
  },
};

export function testRegistry(): HandlerRegistry {
  return defaultRegistry()
    .register(slow as unknown as HandlerDefinition<never>)
    .register(stubborn as unknown as HandlerDefinition<never>)
    .register(proc as unknown as HandlerDefinition<never>);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface TaskSpec {
  handler: string;
  params?: Record<string, unknown>;
  nodeId?: string;
  timeoutSeconds?: number;
  retry?: Record<string, unknown>;
  maxRetries?: number;
  resultQueue: string;
  paramsInDb?: boolean;
}

export interface DispatchedTask {
  jobId: string;
  nodeId: string;
  taskId: string;
  message: ContainerTaskMessage;
}

/** A job with one task node, dispatched (attempt 0) as the enqueue activity does; returns its message. */
export async function dispatchTask(pool: pg.Pool, schema: string, s: TaskSpec): Promise<DispatchedTask> {
  const nodeId = s.nodeId ?? 'work';
  const snapshot = {
    workflow_id: 'worker_test',
    name: 'worker test',
    version: 1,
    nodes: {
      start: { type: 'start', next: nodeId },
      [nodeId]: {
        type: 'task',
        handler: s.handler,
        queue: 'container-tasks',
        params: s.params ?? {},
        timeout_seconds: s.timeoutSeconds ?? 300,
        ...(s.retry ? { retry: s.retry } : {}),
        next: 'end',
      },
      end: { type: 'end' },
    },
  };
  const { job } = await createJob(pool, schema, {
    workflowId: 'worker_test',
    workflowVersion: 1,
    workflowSnapshot: snapshot,
    nodes: [
      { nodeId: 'start', nodeType: 'start', status: 'ready' },
      { nodeId, nodeType: 'task', maxRetries: s.maxRetries ?? 3 },
      { nodeId: 'end', nodeType: 'end' },
    ],
  });
  await pool.query(`UPDATE "${schema}".dag_jobs SET status = 'running' WHERE job_id = $1`, [job.job_id]);
  return dispatchAttempt(pool, schema, job.job_id, nodeId, 0, s);
}

/** Dispatches the given attempt of an existing node and builds its task message. */
export async function dispatchAttempt(
  pool: pg.Pool,
  schema: string,
  jobId: string,
  nodeId: string,
  attempt: number,
  s: TaskSpec,
): Promise<DispatchedTask> {
  const taskId = `${jobId}_${nodeId}_${attempt}`;
  const timeoutSeconds = s.timeoutSeconds ?? 300;
  const deadline = new Date(Date.now() + timeoutSeconds * 1000);
  const r = await startAttempt(pool, schema, {
    jobId,
    nodeId,
    taskId,
    attempt,
    to: 'dispatched',
    deadlineAt: deadline,
    inputParams: s.params ?? {},
    handler: s.handler,
    queue: 'test',
  });
  if (r.kind !== 'started') throw new Error(`dispatchAttempt: ${r.kind}`);
  return {
    jobId,
    nodeId,
    taskId,
    message: {
      v: 1,
      task_id: taskId,
      job_id: jobId,
      node_id: nodeId,
      attempt,
      handler: s.handler,
      ...(s.paramsInDb ? {} : { params: s.params ?? {} }),
      params_in_db: !!s.paramsInDb,
      timeout_seconds: timeoutSeconds,
      deadline: deadline.toISOString(),
      dispatched_at: new Date().toISOString(),
      correlation_id: null,
      reply_to: `instance-${jobId}`,
      result_queue: s.resultQueue,
    },
  };
}

export function queueClient(connectionString: string, name: string): QueueClient {
  return QueueServiceClient.fromConnectionString(connectionString).getQueueClient(name);
}

export async function send(q: QueueClient, message: unknown): Promise<void> {
  await q.createIfNotExists();
  await q.sendMessage(typeof message === 'string' ? message : encodeQueueMessage(message));
}

/** Every message on a queue (peeked, decoded). */
export async function peekAll(q: QueueClient): Promise<unknown[]> {
  if (!(await q.exists())) return [];
  const r = await q.peekMessages({ numberOfMessages: 32 });
  return r.peekedMessageItems.map((m) => {
    const d = decodeQueueJson(m.messageText);
    return d.ok ? d.value : m.messageText;
  });
}

export async function approximateCount(q: QueueClient): Promise<number> {
  if (!(await q.exists())) return 0;
  return (await q.getProperties()).approximateMessagesCount ?? 0;
}

/** Polls until `fn` returns a truthy value (no timing assertion: only a generous bound). */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T> | T,
  timeoutMs = 30_000,
): Promise<NonNullable<T>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function nodeRow(pool: pg.Pool, schema: string, jobId: string, nodeId: string) {
  const r = await pool.query(`SELECT * FROM "${schema}".dag_node_states WHERE job_id = $1 AND node_id = $2`, [
    jobId,
    nodeId,
  ]);
  return r.rows[0] as Record<string, unknown> & { status: string; attempt: number; task_id: string | null };
}

export async function events(pool: pg.Pool, schema: string, jobId: string) {
  const r = await pool.query(
    `SELECT event_type::text AS type, node_id, task_id, event_data, error_message FROM "${schema}".dag_job_events
     WHERE job_id = $1 ORDER BY event_id`,
    [jobId],
  );
  return r.rows as Array<{
    type: string;
    node_id: string | null;
    task_id: string | null;
    event_data: Record<string, unknown>;
    error_message: string | null;
  }>;
}

/**
 * Per test file: Azurite, a Postgres schema per test, and a `setup()` that deploys the schema and
 * gives fresh queues and a `start()` for in-process workers (stopped after each test).
 */
export function useWorkerSetup(defaults: Partial<ContainerWorkerOptions> = {}) {
  const azurite = useAzurite();
  const getSchema = useTestSchema('wk');
  const workers: ContainerWorker[] = [];
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop()));
  });
  return async function setup(extra: Partial<ContainerWorkerOptions> = {}) {
    const { pool, schema } = getSchema();
    await getSchema().migrate();
    const queue = uniqueQueue();
    const resultQueue = uniqueQueue('results');
    const conn = azurite().connectionString;
    const start = async (more: Partial<ContainerWorkerOptions> = {}) => {
      const w = await startContainerWorker({
        queues: [queue],
        storageConnectionString: conn,
        pool,
        schema,
        registry: testRegistry(),
        logger: testLogger(),
        maxConcurrent: 4,
        visibilityTimeoutSeconds: 3,
        pollIntervalMs: 100,
        cancelPollIntervalMs: 300,
        shutdownTimeoutSeconds: 6,
        ...defaults,
        ...extra,
        ...more,
      });
      workers.push(w);
      return w;
    };
    return {
      pool,
      schema,
      /** The app login's connection string, for worker processes. */
      url: getSchema().url,
      queue,
      conn,
      tasks: queueClient(conn, queue),
      results: queueClient(conn, resultQueue),
      poison: queueClient(conn, `${queue}-poison`),
      resultQueue,
      start,
    };
  };
}

/**
 * A container worker as its own process (an entry such as container-worker/main.ts, relative to the
 * repository), on a product schema and a storage account, with a 3 s lease; `env` overrides.
 */
export function spawnWorkerProcess(
  entry: string,
  o: {
    schema: string;
    storage: string;
    /** The worker's connection (default: the test server; pass a test schema's url to connect as its login). */
    databaseUrl?: string;
    env?: Record<string, string>;
    quiet?: boolean;
  },
): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: path.join(__dirname, '..', '..'),
    env: {
      ...process.env,
      DATABASE_URL: o.databaseUrl ?? TEST_DATABASE_URL,
      DAG_DB_SCHEMA: o.schema,
      AzureWebJobsStorage: o.storage,
      DAG_WORKER_HEALTH_PORT: 'off',
      DAG_WORKER_VISIBILITY_TIMEOUT_SEC: '3',
      DAG_WORKER_POLL_INTERVAL_MS: '200',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      ...o.env,
    },
    stdio: o.quiet ? 'ignore' : ['ignore', 'inherit', 'inherit'],
  });
}

/**
 * A result message a worker sent is signed with the schema's newest result key, over the outcome the
 * trigger would otherwise read back from Postgres (functions/queueResults.ts).
 */
export async function expectSignedAsRecorded(
  pool: pg.Pool,
  schema: string,
  m: ContainerResultMessage,
): Promise<void> {
  const [key] = await loadResultKeys(pool, schema);
  expect(m.signature).toMatch(new RegExp(`^${key!.keyId}\\.`));
  expect(m.outcome).toBeDefined();
  expect(resultSignatureMatches(key!, { ...m, outcome: m.outcome! }, m.signature!)).toBe(true);
  const recorded = (await readRecordedResults(pool, schema, [m.task_id])).get(m.task_id)!;
  expect(m.outcome).toEqual(canonicalOutcome(m.attempt, recorded.state, 'failed'));
}
