// 1,000 container `echo` tasks through Azurite and Postgres, end to end: task messages sent to the
// queue while the worker runs, each one received, started (markTaskStarted), run, recorded
// (recordTaskResult), answered on the result queue and deleted. Target: ≥ 200 tasks/s.
// Also: the per-task cost of each phase (from the worker's counters) and the latency of one task
// alone (send → result message on the result queue), i.e. the overhead of the queue round trip.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { QueueServiceClient } from '@azure/storage-queue';
import { createJob, deploySchema, startAttempt } from '../db';
import type { ContainerTaskMessage } from '../lib/containerMessages';
import { launchAzurite } from '../devhost';
import { encodeQueueMessage, startContainerWorker, type ContainerWorker } from '../container-worker';
import { createLogger } from '../handlers/createLogger';
import { median, record } from './lib/record';

const DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const N = Number(process.env.BENCH_TASKS ?? 1000);
const SERIAL = 50;
const BACKLOG_REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);

/**
 * Azurite with --inMemoryPersistence (the dev host's launcher always passes --location, which
 * Azurite refuses together with it): with its on-disk persistence Azurite re-serialises its
 * metadata store as the queues grow and becomes the bottleneck of this benchmark on its one core.
 */
async function launchInMemoryAzurite(): Promise<{ connectionString: string; stop(): Promise<void> }> {
  const bin = path.join(
    path.dirname(require.resolve('azurite/package.json')),
    'dist',
    'src',
    'queue',
    'main.js',
  );
  const child = spawn(
    process.execPath,
    [
      bin,
      '--inMemoryPersistence',
      '--silent',
      '--skipApiVersionCheck',
      '--disableTelemetry',
      '--queueHost',
      '127.0.0.1',
      '--queuePort',
      '0',
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const onData = (b: Buffer) => {
      out += b.toString();
      const m = /listen(?:ing at|s on) http:\/\/[^:]+:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`azurite-queue exited (${code}): ${out}`)));
  });
  child.stdout.resume();
  child.stderr.resume();
  const key = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
  return {
    connectionString: `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${key};QueueEndpoint=http://127.0.0.1:${port}/devstoreaccount1;`,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

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
  const azurite =
    process.env.BENCH_AZURITE === 'disk' ? await launchAzurite(azuriteDir) : await launchInMemoryAzurite();
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

    const serial = await makeJob(SERIAL, 's');
    const perTaskOf = (stats: ReturnType<ContainerWorker['stats']>) =>
      Object.fromEntries(
        Object.entries(stats.phaseMs).map(([k, v]) => [
          k,
          v.count ? Math.round((v.total / v.count) * 100) / 100 : 0,
        ]),
      );
    const startWorker = (q: string) =>
      startContainerWorker({
        queues: [q],
        storageConnectionString: azurite.connectionString,
        databaseUrl: DATABASE_URL,
        schema,
        maxConcurrent: CONCURRENCY,
        visibilityTimeoutSeconds: 60,
        pollIntervalMs: 50,
        logger: createLogger({}, { LOG_LEVEL: 'warn' }),
      });

    // 1) Streaming (how the system runs): the worker is up, the producer (the Function App's
    // enqueue activity) sends 1,000 task messages as fast as it can; done when every result is in
    // Postgres and every result message on the result queue.
    const streamJob = await makeJob(N, 'n');
    const streamQueue = svc.getQueueClient('bench-stream');
    await streamQueue.createIfNotExists();
    const streamWorker = await startWorker('bench-stream');
    const t0 = performance.now();
    await pool(
      16,
      streamJob.map((m) => () => streamQueue.sendMessage(encodeQueueMessage(m))),
    );
    const sentMs = performance.now() - t0;
    while (streamWorker.stats().resultsSent < N || (await countResults()) < N)
      await new Promise((r) => setTimeout(r, 10));
    const e2eMs = performance.now() - t0;
    const stats = streamWorker.stats();
    await streamWorker.stop();
    const perTask = perTaskOf(stats);
    const resultCount = (await results.getProperties()).approximateMessagesCount ?? 0;
    await results.clearMessages();

    // 2) Backlog: 1,000 messages already queued, then a worker drains them. Repeated (a new job
    // and a new worker each time) and the median kept: the machine is shared and noisy.
    const backlogRuns: Array<{
      ms: number;
      perTask: Record<string, number>;
      receiveCalls: number;
      resultMessages: number;
    }> = [];
    let worker: ContainerWorker | undefined;
    for (let r = 0; r < BACKLOG_REPEATS; r++) {
      await worker?.stop();
      await results.clearMessages();
      const applied = await countResults();
      const backlogJob = await makeJob(N, `b${r}_`);
      await pool(
        16,
        backlogJob.map((m) => () => queue.sendMessage(encodeQueueMessage(m))),
      );
      const b0 = performance.now();
      worker = await startWorker('bench-tasks');
      while (worker.stats().resultsSent < N || (await countResults()) < applied + N)
        await new Promise((res) => setTimeout(res, 10));
      backlogRuns.push({
        ms: performance.now() - b0,
        perTask: perTaskOf(worker.stats()),
        receiveCalls: worker.stats().receiveCalls,
        resultMessages: (await results.getProperties()).approximateMessagesCount ?? 0,
      });
    }
    const medianRun = [...backlogRuns].sort((a, b) => a.ms - b.ms)[Math.floor(backlogRuns.length / 2)]!;
    const backlogMs = medianRun.ms;
    const backlogPerTask = medianRun.perTask;
    const backlogReceiveCalls = medianRun.receiveCalls;
    const backlogResultMessages = medianRun.resultMessages;
    worker = worker!;

    // 3) One task at a time: send → its result message on the result queue.
    await results.clearMessages();
    const before = worker.stats().phaseMs;
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
    const after = worker.stats().phaseMs;
    const serialPerTask = Object.fromEntries(
      Object.entries(after).map(([k, v]) => {
        const b = before[k as keyof typeof before];
        const n = v.count - b.count;
        return [k, n ? Math.round(((v.total - b.total) / n) * 100) / 100 : 0];
      }),
    );
    await worker.stop();
    const tps = N / (e2eMs / 1000);
    const backlogTps = N / (backlogMs / 1000);
    record({
      name: 'worker-throughput',
      target:
        '≥ 200 container echo tasks/s end to end through Azurite (queued task → worker → Postgres → result queue, message deleted)',
      pass: backlogTps >= 200,
      results: {
        tasks: N,
        backlog_drain_ms: Math.round(backlogMs),
        backlog_tasks_per_s: Math.round(backlogTps),
        backlog_tasks_per_s_runs: backlogRuns.map((b) => Math.round(N / (b.ms / 1000))),
        backlog_per_task_ms_by_phase: backlogPerTask,
        backlog_receive_calls: backlogReceiveCalls,
        max_concurrent: CONCURRENCY,
        streaming_producer_send_ms: Math.round(sentMs),
        streaming_end_to_end_ms: Math.round(e2eMs),
        streaming_tasks_per_s: Math.round(tps),
        streaming_result_messages: resultCount,
        backlog_result_messages: backlogResultMessages,
        completed: stats.completed,
        streaming_per_task_ms_by_phase: perTask,
        single_task_ms_by_phase: serialPerTask,
        single_task_round_trip_ms_median: Math.round(median(latencies) * 10) / 10,
        single_task_round_trip_ms_p90:
          Math.round([...latencies].sort((a, b) => a - b)[Math.floor(latencies.length * 0.9)]! * 10) / 10,
      },
      notes:
        'One in-process worker (32 concurrent) with an in-memory Azurite (queue service only) and Postgres on the same 2-core machine. backlog: 1,000 task messages queued, then drained by a new worker, three times; the median run is the pass criterion and its phases are reported. streaming: the producer sends the 1,000 messages into the same Azurite while the worker consumes them, so the emulator (single-threaded, ~100% of a core in both runs) also serves the producer. *_per_task_ms_by_phase: mean wall time of each phase per message under that load (receive is per received message of a batch of up to 32). single_task: one task alone, from sendMessage to its result message being visible on the result queue (includes the idle poll wait of up to 50 ms), and its phases: the per-task overhead of the queue round trip. Azurite receive/delete cost grows with queue depth (~1.4 ms per receive+delete at depth 0, ~14 ms at depth 3,000 measured on this machine); Azure Storage does not behave so. *_result_messages: queue messages carrying the 1,000 results (the worker batches results that finish while its previous send is in flight: group commit). Group commit measured A/B on the same machine and hour (2026-11-27): backlog 107/110 → 164/166 tasks/s, streaming 86/87 → 104/123; the same machine gives 160–218 tasks/s for the same code from one hour to the next (a shared VM), so compare runs of one session only.',
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
