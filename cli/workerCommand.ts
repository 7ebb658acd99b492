// `dagmaster worker`: the container worker on its own, as in its container, configured from the
// environment and ./local.settings.json — the settings `func start` gives the Function App — so that
// heavy (container) nodes have a consumer when the Function App runs under Core Tools. Ctrl-C stops
// it gracefully.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { runWorkerProcess } from '../container-worker';
import { commandEnv, parseArgs, rejectUnknown } from './commandEnv';

export const WORKER_USAGE = `usage: dagmaster worker

Runs the container worker (docs/container-worker.md) against the queues, Postgres and blob storage of
the environment and ./local.settings.json "Values": AzureWebJobsStorage or DAG_QUEUE_CONNECTION (an
Azurite connection string), DATABASE_URL or DAG_DB_*, DAG_WORKER_*. Files staged by raster nodes go to
DAG_WORKER_ETL_MOUNT_PATH (default here: .data/etl). Ctrl-C stops it after the running tasks.`;

export async function runWorkerCommand(
  args: string[],
  io: { out: (s: string) => void },
  root: string = process.cwd(),
): Promise<number> {
  const p = parseArgs(args, []);
  rejectUnknown(p, ['help']);
  if (p.switches.has('help')) {
    io.out(WORKER_USAGE);
    return 0;
  }
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
