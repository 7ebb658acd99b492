// 1,000 container `echo` tasks through Azurite and Postgres, end to end: task messages sent to the
// queue while the worker runs, each one received, started (markTaskStarted), run, recorded
// (recordTaskResult), answered on the result queue and deleted. Target: ≥ 200 tasks/s.
// Also: the per-task cost of each phase (from the worker's counters) and the latency of one task
// alone (send → result message on the result queue), i.e. the overhead of the queue round trip.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { QueueServiceClient } from '@azure/storage-queue';
import { createJob, deploySchema, startAttempt } from '../db';
import type { ContainerTaskMessage } from '../dag/containerMessages';
import { launchAzurite } from '../devhost';
import { encodeQueueMessage, startContainerWorker } from '../container-worker';
import { createLogger } from '../handlers/createLogger';
import { median, record } from './lib/record';

const DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const N = Number(process.env.BENCH_TASKS ?? 1000);
const SERIAL = 50;
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);

function shmDir(): { location?: string } {
  const base = '/dev/shm';
  if (!existsSync(base)) return {};
  return { location: mkdtempSync(path.join(base, 'bench-azurite-')) };
}

async function pool(fn: number, tasks: Array<() => Promise<unknown>>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: fn }, async () => {
      while (i < tasks.length) await tasks[i++]!();
    }),
  );
}

async function main(): Promise<void> {
  const schema = `bench_wk_${randomBytes(4).toString('hex')}`;
  const db = new pg.Pool({ connectionString: DATABASE_URL, max: 12 });
  await deploySchema(db, schema);
  // On a memory-backed directory when there is one: Azurite fsyncs every queue write, and the
  // machine's disk, not the worker, would be measured.
  const azuriteDir = shmDir();
  const azurite = await launchAzurite(azuriteDir);
  const svc = QueueServiceClient.fromConnectionString(azurite.connectionString);
  const queue = svc.getQueueClient('bench-tasks');
  const results = svc.getQueueClient('bench-results');
  await queue.createIfNotExists();
  await results.createIfNotExists();
  try {
    const makeJob = async (count: number, prefix: string): Promise<ContainerTaskMessage[]> => {
      const nodes = Array.from({ length: count }, (_, i) => `${prefix}${i}`);
      const { job } = await createJob(db, schema, {
        workflowId: 'bench',
        workflowVersion: 1,
        workflowSnapshot: { workflow_id: 'bench', nodes: {} },
        nodes: nodes.map((nodeId) => ({ nodeId, nodeType: 'task' as const })),
      });
      const deadline = new Date(Date.now() + 3600_000);
      const messages: ContainerTaskMessage[] = [];
      await pool(
        8,
        nodes.map((nodeId) => async () => {
          const taskId = `${job.job_id}_${nodeId}_0`;
          await startAttempt(db, schema, {
            jobId: job.job_id,
            nodeId,
            taskId,
            attempt: 0,
            to: 'dispatched',
            deadlineAt: deadline,
            inputParams: { i: nodeId },
            handler: 'echo',
            queue: 'bench-tasks',
          });
          messages.push({
            v: 1,
            task_id: taskId,
            job_id: job.job_id,
            node_id: nodeId,
            attempt: 0,
            handler: 'echo',
            params: { i: nodeId },
            params_in_db: false,
            timeout_seconds: 3600,
            deadline: deadline.toISOString(),
            dispatched_at: new Date().toISOString(),
            reply_to: 'bench',
            result_queue: 'bench-results',
          });
        }),
      );
      return messages;
    };
    const countResults = async () =>
      Number(
        (
          await db.query(
            `SELECT count(*)::int AS n FROM "${schema}".dag_task_results WHERE disposition = 'applied'`,
          )
        ).rows[0].n,
      );

    const bulk = await makeJob(N, 'n');
    const serial = await makeJob(SERIAL, 's');
    // The producer's side (the Function App's enqueue activity) is measured on its own.
    const p0 = performance.now();
    await pool(
      16,
      bulk.map((m) => () => queue.sendMessage(encodeQueueMessage(m))),
    );
    const sentMs = performance.now() - p0;

    // 1) Throughput: a worker drains the 1,000 queued tasks; done when every result is recorded in
    // Postgres and every result message is on the result queue.
    const t0 = performance.now();
    const worker = await startContainerWorker({
      queues: ['bench-tasks'],
      storageConnectionString: azurite.connectionString,
      databaseUrl: DATABASE_URL,
      schema,
      maxConcurrent: CONCURRENCY,
      visibilityTimeoutSeconds: 60,
      pollIntervalMs: 50,
      logger: createLogger({}, { LOG_LEVEL: 'warn' }),
    });
    while (worker.stats().resultsSent < N || (await countResults()) < N)
      await new Promise((r) => setTimeout(r, 10));
    const e2eMs = performance.now() - t0;
    const stats = worker.stats();
    const perTask = Object.fromEntries(
      Object.entries(stats.phaseMs).map(([k, v]) => [
        k,
        v.count ? Math.round((v.total / v.count) * 100) / 100 : 0,
      ]),
    );
    const resultCount = (await results.getProperties()).approximateMessagesCount ?? 0;

    // 2) One task at a time: send → its result message on the result queue.
    await results.clearMessages();
    const latencies: number[] = [];
    for (const m of serial) {
      const s = performance.now();
      await queue.sendMessage(encodeQueueMessage(m));
      for (;;) {
        const p = await results.peekMessages({ numberOfMessages: 1 });
        if (p.peekedMessageItems.length) break;
        await new Promise((r) => setTimeout(r, 2));
      }
      latencies.push(performance.now() - s);
      await results.clearMessages();
    }
    await worker.stop();
    const tps = N / (e2eMs / 1000);
    record({
      name: 'worker-throughput',
      target:
        '≥ 200 container echo tasks/s end to end through Azurite (queue → worker → Postgres → result queue)',
      pass: tps >= 200,
      results: {
        tasks: N,
        max_concurrent: CONCURRENCY,
        producer_send_ms: Math.round(sentMs),
        producer_msgs_per_s: Math.round(N / (sentMs / 1000)),
        end_to_end_ms: Math.round(e2eMs),
        tasks_per_s: Math.round(tps),
        result_messages: resultCount,
        completed: stats.completed,
        per_task_ms_by_phase: perTask,
        single_task_round_trip_ms_median: Math.round(median(latencies) * 10) / 10,
        single_task_round_trip_ms_p90:
          Math.round([...latencies].sort((a, b) => a - b)[Math.floor(latencies.length * 0.9)]! * 10) / 10,
      },
      notes:
        'Worker in-process with Azurite and Postgres on the same 2-core machine. per_task_ms_by_phase: mean time of each phase per message (receive is per received message of a batch of up to 32). single_task_round_trip: one task alone, from sendMessage to its result message being visible on the result queue (includes the idle poll wait of ≤ 50 ms).',
    });
  } finally {
    await azurite.stop();
    if (azuriteDir.location) rmSync(azuriteDir.location, { recursive: true, force: true });
    await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await db.end();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
