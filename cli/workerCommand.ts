// `dagmaster worker`: the container worker on its own, as in its container, configured from the
// environment and ./local.settings.json — the settings `func start` gives the Function App — so that
// heavy (container) nodes have a consumer when the Function App runs under Core Tools. Ctrl-C stops
// it gracefully.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { runWorkerProcess } from '../container-worker';
import type { Command } from './cliCommand';
import { commandEnv } from './commandEnv';

export const workerCommand: Command = {
  name: 'worker',
  synopsis: 'worker',
  summary: 'The container worker alone, on the environment and ./local.settings.json.',
  details: `Runs the container worker (docs/container-worker.md) against the queues, Postgres and blob storage of
the environment and ./local.settings.json "Values": AzureWebJobsStorage or DAG_QUEUE_CONNECTION (an
Azurite connection string), DATABASE_URL or DAG_DB_*, DAG_WORKER_*. Files staged by raster nodes go to
DAG_WORKER_ETL_MOUNT_PATH (default here: .data/etl). Ctrl-C stops it after the running tasks.`,
  options: {},
  positionals: { min: 0, max: 0, what: 'no argument' },
  run: () => runWorker(),
};

async function runWorker(root: string = process.cwd()): Promise<number> {
  const env = commandEnv(root);
  // The handlers read process.env (raster settings, the STAC pool): give them the same settings.
  for (const [k, v] of Object.entries(env)) if (v !== undefined) process.env[k] = v;
  if (!process.env.DAG_WORKER_ETL_MOUNT_PATH?.trim()) {
    process.env.DAG_WORKER_ETL_MOUNT_PATH = path.join(root, '.data', 'etl');
  }
  mkdirSync(process.env.DAG_WORKER_ETL_MOUNT_PATH, { recursive: true });
  // Runs until SIGINT/SIGTERM; runWorkerProcess exits the process itself (0 after a graceful stop).
  await runWorkerProcess({ env: process.env });
  return new Promise<number>(() => undefined);
}
