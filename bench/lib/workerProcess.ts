// A container worker in a process of its own, for end-to-end benchmarks: as deployed (a container
// apart from the Function App), so that its event loop does not share the dev host's. Started with
// child_process.fork; the parent asks for its counters over IPC.
//
//   fork('bench/lib/workerProcess.ts', { execArgv: ['--import', 'tsx'], env: { BENCH_WORKER: JSON } })
//
// BENCH_WORKER: startContainerWorker's options (queues, storageConnectionString, databaseUrl, schema,
// maxConcurrent, pollIntervalMs, workerId). Messages: parent → 'stats' → { stats, pg } (the worker's
// counters and this process's Postgres round trips per application_name); 'stop' → the worker stops
// and the process ends.
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { startContainerWorker, type ContainerWorkerOptions, type WorkerStats } from '../../container-worker';
import { createLogger } from '../../handlers/createLogger';
import { installPgCounter, pgCounts } from '../../test/support/pgCounter';

type Options = Pick<
  ContainerWorkerOptions,
  | 'queues'
  | 'storageConnectionString'
  | 'databaseUrl'
  | 'schema'
  | 'maxConcurrent'
  | 'pollIntervalMs'
  | 'workerId'
>;

export interface WorkerCounters {
  stats: WorkerStats;
  pg: Record<string, number>;
}

export interface ForkedWorker {
  pid: number;
  counters(): Promise<WorkerCounters>;
  stop(): Promise<void>;
}

/** Starts the worker in a child process and resolves once it receives. */
export async function forkWorker(o: Options): Promise<ForkedWorker> {
  const child: ChildProcess = fork(path.join(__dirname, 'workerProcess.ts'), {
    // The parent's flags (its tsx loader, a --cpu-prof) apply to the worker too.
    execArgv: process.execArgv.includes('tsx') ? process.execArgv : ['--import', 'tsx', ...process.execArgv],
    env: { ...process.env, BENCH_WORKER: JSON.stringify(o) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = () =>
    new Promise<unknown>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`the worker process exited (${code})`));
      child.once('exit', onExit);
      child.once('message', (m) => {
        child.off('exit', onExit);
        resolve(m);
      });
    });
  await next(); // 'ready'
  return {
    pid: child.pid!,
    counters: async () => {
      const reply = next();
      child.send('stats');
      return (await reply) as WorkerCounters;
    },
    stop: async () => {
      if (child.exitCode !== null) return;
      const ended = new Promise<void>((r) => child.once('exit', () => r()));
      child.send('stop');
      await ended;
    },
  };
}

async function main(o: Options): Promise<void> {
  installPgCounter();
  const worker = await startContainerWorker({
    ...o,
    logger: createLogger({ app: 'worker' }, { LOG_LEVEL: 'error' }),
  });
  process.on('message', (m) => {
    if (m === 'stats') {
      const s = worker.stats();
      process.send!({ stats: s, pg: pgCounts() });
    } else if (m === 'stop') {
      void worker.stop().then(() => process.exit(0));
    }
  });
  process.send!('ready');
}

if (process.env.BENCH_WORKER && process.send) {
  main(JSON.parse(process.env.BENCH_WORKER) as Options).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
