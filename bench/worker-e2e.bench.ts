// 1,000 container `echo` tasks end to end through the whole product: a job whose fan-out runs on
// the container runner — orchestration (dev host, Postgres history) → enqueue activity → Azurite
// queue → container worker → Postgres → result queue → queue trigger → external event → fan-in.
// Run twice: every child enqueued at once, and with max_parallel 64 (queue depth ≤ 64).
// Issue "Container worker runtime" sets ≥ 200 tasks/s for the worker's queue round trip (see
// worker-throughput); this records what the whole product does on the same machine, where the dev
// host, the worker, Azurite and Postgres share two cores, with the time each stage was done.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { dump } from 'js-yaml';
import { startContainerWorker } from '../container-worker';
import { createLogger } from '../handlers/createLogger';
import { dropBenchSchema, migrateBenchSchema, startBenchApp } from './lib/appHost';
import { cpuSecondsBetween, cpuSecondsByPid, processCpuSeconds } from './lib/processCpu';
import { record } from './lib/record';
import { forkWorker, type WorkerCounters } from './lib/workerProcess';
import { jobHistory } from '../test/support/jobHistory';
import { installPgCounter, pgCounts } from '../test/support/pgCounter';

const DB = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const N = Number(process.env.BENCH_TASKS ?? 1000);
const TARGET_TASKS_PER_SECOND = 500;
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

installPgCounter();

async function main() {
  const schema = `benchw_${Date.now().toString(36)}`;
  const admin = new pg.Pool({ connectionString: DB, max: 2 });
  await migrateBenchSchema(admin, schema);
  const wfDir = mkdtempSync(path.join(os.tmpdir(), 'benchw-wf-'));
  for (const maxParallel of [undefined, 64]) {
    writeFileSync(
      path.join(wfDir, `fan${maxParallel ?? ''}.yaml`),
      dump({
        workflow_id: `bench_container_fan${maxParallel ?? ''}`,
        name: 'container fan',
        inputs: { n: { type: 'integer' } },
        nodes: {
          start: { type: 'start', next: 'split' },
          split: {
            type: 'fan_out',
            source: '{{ range(0, inputs.n) }}',
            ...(maxParallel ? { max_parallel: maxParallel } : {}),
            task: {
              handler: 'echo',
              queue: 'container-tasks',
              params: { i: '{{ index }}' },
              retry: { max_attempts: 0 },
            },
            next: 'join',
          },
          join: { type: 'fan_in', aggregation: 'first', next: 'end' },
          end: { type: 'end' },
        },
      }),
    );
  }
  const app = await startBenchApp({
    schema,
    workflowsDir: wfDir,
    taskHub: 'benchwhub',
    inMemoryAzurite: true,
  });
  const { host, azurite } = app;
  const workerOptions = {
    queues: ['container-tasks'],
    storageConnectionString: azurite.connectionString,
    databaseUrl: DB,
    schema,
    maxConcurrent: Number(process.env.BENCH_WORKER_SLOTS ?? 32),
    pollIntervalMs: 100,
    workerId: 'bench-worker',
  };
  // As deployed, the worker is a process apart (its own container); BENCH_WORKER=inline runs it on
  // the dev host's event loop instead.
  const inline = process.env.BENCH_WORKER === 'inline';
  const worker: { pid: number | undefined; counters(): Promise<WorkerCounters>; stop(): Promise<void> } =
    inline
      ? await (async () => {
          const w = await startContainerWorker({
            ...workerOptions,
            logger: createLogger({ app: 'worker' }, { LOG_LEVEL: 'error' }),
          });
          return {
            pid: undefined,
            counters: async () => ({ stats: w.stats(), pg: {} }),
            stop: () => w.stop(),
          };
        })()
      : await forkWorker(workerOptions);
  const run = async (n: number, workflowId: string) => {
    const t0 = performance.now();
    const res = await fetch(`${host.url}/api/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ workflow_id: workflowId, inputs: { n } }),
    });
    const { job_id } = (await res.json()) as { job_id: string };
    for (;;) {
      const st = await admin.query(`SELECT status FROM "${schema}".dag_jobs WHERE job_id = $1`, [job_id]);
      const s = st.rows[0]?.status as string;
      if (s === 'completed' || s === 'failed' || s === 'cancelled')
        return { status: s, ms: performance.now() - t0, jobId: job_id };
      if (performance.now() - t0 > 600_000) throw new Error('timeout');
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  try {
    // Warm-up, not measured: one job of the full size, so that every run measures the same steady
    // state (the first one after a small warm-up ran 10–20 % slower: code still being optimised).
    await run(N, 'bench_container_fan');
    const measure = async (workflowId: string, window?: number) => {
      const w0 = await worker.counters();
      const pg0 = { ...pgCounts(), ...w0.pg };
      const worker0 = worker.pid === undefined ? null : processCpuSeconds(worker.pid);
      const cpu0 = process.cpuUsage();
      const azurite0 = processCpuSeconds(azurite.pid);
      const postgres0 = cpuSecondsByPid('postgres');
      const r = await run(N, workflowId);
      const cpu = process.cpuUsage(cpu0);
      const azurite1 = processCpuSeconds(azurite.pid);
      const w1 = await worker.counters();
      const pg1 = { ...pgCounts(), ...w1.pg };
      const worker1 = worker.pid === undefined ? null : processCpuSeconds(worker.pid);
      // Postgres round trips per task by connection pool; the bench's own polling is left out.
      const roundTrips = Object.fromEntries(
        Object.keys(pg1)
          .filter((app) => app !== 'unknown')
          .map((app) => [app, Math.round((((pg1[app] ?? 0) - (pg0[app] ?? 0)) / N) * 100) / 100]),
      );
      const perTaskMs = (s: number) => Math.round((s * 1000 * 100) / N) / 100;
      // The Postgres server's CPU by the client it served (backend pid → application_name).
      const postgres1 = cpuSecondsByPid('postgres');
      const backends = await admin.query<{ pid: number; application_name: string }>(
        'SELECT pid, application_name FROM pg_stat_activity',
      );
      const appOf = new Map(backends.rows.map((b) => [b.pid, b.application_name || 'other']));
      const postgresByClient: Record<string, number> = {};
      for (const [pid, s] of postgres1) {
        const app = appOf.get(pid) ?? 'ended or background';
        postgresByClient[app] = (postgresByClient[app] ?? 0) + s - (postgres0.get(pid) ?? 0);
      }
      // When each stage was done for the children, in seconds after the job was created.
      const q = await admin.query(
        `WITH j AS (SELECT created_at AS t0, completed_at FROM "${schema}".dag_jobs WHERE job_id = $1),
              n AS (SELECT dispatched_at, started_at FROM "${schema}".dag_node_states
                    WHERE job_id = $1 AND parent_node_id = 'split'),
              r AS (SELECT received_at FROM "${schema}".dag_task_results WHERE job_id = $1)
         SELECT extract(epoch FROM (SELECT max(dispatched_at) FROM n) - j.t0) AS last_enqueued,
                extract(epoch FROM (SELECT max(started_at) FROM n) - j.t0) AS last_started_by_worker,
                extract(epoch FROM (SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY received_at) FROM r) - j.t0)
                  AS half_results_written,
                extract(epoch FROM (SELECT max(received_at) FROM r) - j.t0) AS last_result_written,
                extract(epoch FROM j.completed_at - j.t0) AS job_completed
         FROM j`,
        [r.jobId],
      );
      // Where a child's time goes (medians, ms): dispatched (enqueue statement) → started by the
      // worker (send, queue, receive, claim); started → result written (run, record); and, with a
      // window, a result written → the dispatch that took its place (result message, trigger, event,
      // episode, enqueue call): the k-th result frees the slot of the (k + window)-th dispatch.
      const lat = await admin.query(
        `WITH n AS (SELECT n.dispatched_at, n.started_at, r.received_at
                    FROM "${schema}".dag_node_states n
                    JOIN "${schema}".dag_task_results r ON r.task_id = n.task_id
                    WHERE n.job_id = $1 AND n.parent_node_id = 'split'),
              d AS (SELECT dispatched_at, row_number() OVER (ORDER BY dispatched_at) AS k FROM n),
              w AS (SELECT received_at, row_number() OVER (ORDER BY received_at) AS k FROM n)
         SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - dispatched_at)) * 1000 AS queue_ms,
                percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM received_at - started_at)) * 1000 AS run_ms,
                (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM d.dispatched_at - w.received_at)) * 1000
                 FROM w JOIN d ON d.k = w.k + $2::int) AS refill_ms
         FROM n`,
        [r.jobId, window ?? N],
      );
      const childMedianMs = Object.fromEntries(
        Object.entries(lat.rows[0] as Record<string, number | null>).map(([k, v]) => [
          k,
          v === null ? null : Math.round(Number(v)),
        ]),
      );
      // The job's orchestration histories (the dev host's Postgres store): what Azure Storage would
      // hold and deliver, per task — external events, timers, episodes, all events.
      const events = await jobHistory(admin, `${schema}_dh`, r.jobId);
      const per = (type?: number) =>
        Math.round(
          ((type === undefined ? events.length : events.filter((e) => e.EventType === type).length) / N) *
            1000,
        ) / 1000;
      // EventType: 15 EventRaised, 10 TimerCreated, 12 OrchestratorStarted (one per episode).
      const historyPerTask = {
        events: per(),
        eventsRaised: per(15),
        timersCreated: per(10),
        episodes: per(12),
      };
      const phases = Object.fromEntries(
        Object.entries(q.rows[0] as Record<string, string>).map(([k, v]) => [
          k,
          Math.round(Number(v) * 100) / 100,
        ]),
      );
      return {
        status: r.status,
        tasks: N,
        seconds: Math.round(r.ms) / 1000,
        tasksPerSecond: Math.round(N / (r.ms / 1000)),
        seconds_after_job_created: phases,
        childMedianMs,
        historyPerTask,
        // Where the CPU went, per task: this process (dev host, app, worker, bench), Azurite and the
        // Postgres server, each apart.
        cpuMsPerTask: {
          nodeProcess: perTaskMs((cpu.user + cpu.system) / 1e6),
          ...(worker0 !== null && worker1 !== null ? { workerProcess: perTaskMs(worker1 - worker0) } : {}),
          ...(azurite0 !== null && azurite1 !== null ? { azurite: perTaskMs(azurite1 - azurite0) } : {}),
          postgresServer: perTaskMs(cpuSecondsBetween(postgres0, postgres1)),
          postgresServerByClient: Object.fromEntries(
            Object.entries(postgresByClient)
              .filter(([, s]) => s > 0)
              .map(([app, s]) => [app, perTaskMs(s)]),
          ),
        },
        postgresRoundTripsPerTask: roundTrips,
        // Task messages received per task (a message carries up to DAG_TASKS_PER_MESSAGE children)
        // and tasks put back for want of a free slot.
        taskMessagesPerTask: Math.round(((w1.stats.messages - w0.stats.messages) / N) * 1000) / 1000,
        spilledTasks: w1.stats.spilled - w0.stats.spilled,
        workerPhaseMs: Object.fromEntries(
          Object.entries(w1.stats.phaseMs).map(([k, v]) => {
            const before = w0.stats.phaseMs[k as keyof typeof w0.stats.phaseMs];
            const n = v.count - before.count;
            return [k, n ? Math.round(((v.total - before.total) / n) * 10) / 10 : null];
          }),
        ),
        workerReceiveCalls: w1.stats.receiveCalls - w0.stats.receiveCalls,
      };
    };
    // RUNS of each, the median (by throughput) reported with every run's throughput.
    const median = async (workflowId: string, window?: number) => {
      const runs = [];
      for (let i = 0; i < RUNS; i++) runs.push(await measure(workflowId, window));
      const sorted = [...runs].sort((a, b) => a.tasksPerSecond - b.tasksPerSecond);
      return { ...sorted[Math.floor(RUNS / 2)]!, runs: runs.map((r) => r.tasksPerSecond) };
    };
    const unbounded = await median('bench_container_fan');
    const bounded = await median('bench_container_fan64', 64);
    record({
      name: 'worker-e2e-1000',
      target: `≥ ${TARGET_TASKS_PER_SECOND} container echo tasks/s through the whole product on this machine, the fan-out's children enqueued at once (issue 19; the ≥ 200/s of issue 6 is for the worker round trip: worker-throughput). With max_parallel 64 the rate is bound by the window over one child's round trip (recorded, no target)`,
      pass:
        unbounded.status === 'completed' &&
        bounded.status === 'completed' &&
        unbounded.tasksPerSecond >= TARGET_TASKS_PER_SECOND,
      results: { all_enqueued_at_once: unbounded, max_parallel_64: bounded },
      notes:
        "median of 3 runs of each (runs: every run's tasks/s), after a warm-up job of the same size. dev host (Postgres history) with the app, in-memory Azurite (its own process), one container worker in a process of its own as deployed (32 concurrent; the app's default DAG_TASKS_PER_MESSAGE of 16; BENCH_WORKER=inline runs it on the dev host's event loop, as recorded before 2026-12-07 04:40), Postgres: all on the 2 cores, which they saturate; cpuMsPerTask splits the CPU between them (postgresServerByClient: the server's CPU by the pool it served). postgresRoundTripsPerTask: statements per task by connection pool (rmhdagmaster: the app; devhost: the dev host Durable store, the stand-in for the extension's storage transactions; dag-container-worker: the worker; devhost-listener: its LISTEN connection). childMedianMs: a child's dispatch → start by the worker (queue_ms), start → result recorded (run_ms), and with the window a result recorded → the dispatch that took its place (refill_ms: result message, queue-trigger poll — the Functions host waits 100 ms after an empty receive —, event, episode, enqueue call). max_parallel 64 keeps 64 children in flight: rate ≤ 64 / (queue_ms + run_ms + refill_ms), about 250/s here, most of it the two queues' polling. workerPhaseMs: the worker's mean time per task in each phase (receive and delete: per message), waits for group commits included. Azure Storage, the Function App and the worker replicas do not share a machine in Azure. Before (2026-12-07 03:00, worker on the dev host's event loop, slots held until the result was sent): 284 / 192 tasks/s.",
    });
  } finally {
    await worker.stop();
    await app.stop();
    await dropBenchSchema(admin, schema);
    await admin.end();
    rmSync(wfDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
