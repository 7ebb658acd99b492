// The local stack behind `dagmaster run` and `dagmaster start`: Postgres (DATABASE_URL, else an
// embedded one with data in .data/postgres) migrated at startup, Azurite (data in .data/azurite), the
// dev host running the Function App's real registrations, and the container worker beside it.
//
// One .data/ holds one stack, and one Postgres schema serves one stack: .data/stack.json says which
// process owns it, and a session advisory lock on the schema keeps a second stack off the same
// database state. Postgres and Azurite run in process groups of their own, so a terminal's Ctrl-C
// reaches only the CLI, which records the job's cancel before it stops them; servers that a killed
// stack left running are adopted (and stopped at the end).
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { readStackFile, removeStackFile, writeStackFile, type StackFile } from './stackFile';
import { loadWorkerConfig, startContainerWorker, type ContainerWorker } from '../container-worker';
import { acquireSessionLock, createPool, defaultAppRole, listJobs, loadDbConfig, runMigrations } from '../db';
import { ensureLocalLogin } from './localAppLogin';
import { MAX_BODY_BYTES } from '../functions/http';
import { createLogger } from '../handlers/createLogger';
import { launchAzurite, launchEmbeddedPostgres, startDevHost, type DevHost } from '../devhost';

export interface LocalStackOptions {
  /** Which command runs the stack (recorded in .data/stack.json). */
  command: 'start' | 'run';
  /** 0 = a free port. */
  port: number;
  workflowsDir: string;
  apiKey?: string;
  /** Where .data/ lives (default: the current directory). */
  root?: string;
  logLevel?: string;
  /** Progress messages for the user (stderr). */
  say?: (line: string) => void;
  /** Extra app settings. */
  env?: Record<string, string>;
}

/** A job that was unfinished when the stack started (left by an earlier, interrupted stack). */
export interface UnfinishedJob {
  job_id: string;
  workflow_id: string;
  status: string;
  created_at: string;
}

export interface LocalStack {
  url: string;
  host: DevHost;
  databaseUrl: string;
  schema: string;
  storageConnectionString: string;
  /** Jobs already pending or running when the stack started: their orchestrations resume in it. */
  unfinishedJobs: UnfinishedJob[];
  stop(): Promise<void>;
  /**
   * For a process about to exit at once (a second Ctrl-C): asks the servers it started to shut
   * down (they do so on their own after it exited) and removes the stack file. Synchronous.
   */
  abandon(): void;
}

/** Another stack owns this .data/ (its stack file names a live process). */
export class StackBusyError extends Error {
  constructor(readonly running: StackFile) {
    super(
      `a local stack is already running on this directory's .data/ (dagmaster ${running.command}, pid ${running.pid}, ${running.url})`,
    );
  }
}

const PROJECT_ROOT = path.join(__dirname, '..');

/** The app entry: compiled when running from dist/, the TypeScript source otherwise. */
function appEntry(): string {
  const compiled = path.join(PROJECT_ROOT, 'functions', 'index.js');
  return existsSync(compiled) ? compiled : path.join(PROJECT_ROOT, 'functions', 'index.ts');
}

export async function startLocalStack(o: LocalStackOptions): Promise<LocalStack> {
  const say = o.say ?? (() => undefined);
  const root = o.root ?? process.cwd();
  const dataDir = path.join(root, '.data');
  const running = readStackFile(root);
  if (running) throw new StackBusyError(running);
  const stops: Array<() => Promise<void>> = [];
  const servers: Array<{ pid: number; signal: NodeJS.Signals }> = [];
  let stopping: Promise<void> | undefined;
  const stopAll = () =>
    (stopping ??= (async () => {
      for (const s of stops.reverse()) await s().catch(() => undefined);
    })());
  try {
    let databaseUrl = process.env.DATABASE_URL;
    if (!databaseUrl) {
      say('starting an embedded Postgres (data in .data/postgres; set DATABASE_URL to use your own)…');
      const pgInstance = await launchEmbeddedPostgres({
        dataDir: path.join(dataDir, 'postgres'),
        database: 'dagmaster',
        adoptRunning: true,
      });
      if (!pgInstance.startedHere)
        say('(reusing the Postgres server an earlier, interrupted stack left running)');
      stops.push(() => pgInstance.stop());
      servers.push({ pid: pgInstance.pid, signal: 'SIGINT' }); // Postgres: fast shutdown
      databaseUrl = pgInstance.url;
    }
    const schema = process.env.DAG_DB_SCHEMA || 'dagapp';
    const stacSchema = process.env.DAG_STAC_SCHEMA || 'stac';
    const db = await prepareDatabase(databaseUrl, schema, stacSchema, say);
    stops.push(db.release);
    const unfinishedJobs = db.unfinished;
    // The app's connection: a login in the app role, as in production (see cli/localAppLogin.ts).
    const appUrl = db.appUrl;

    let storage = process.env.AzureWebJobsStorage;
    if (!storage || storage === 'UseDevelopmentStorage=true') {
      mkdirSync(path.join(dataDir, 'azurite'), { recursive: true });
      say('starting Azurite (data in .data/azurite)…');
      const azurite = await launchAzurite({
        location: path.join(dataDir, 'azurite'),
        ownProcessGroup: true,
      });
      stops.push(() => azurite.stop());
      servers.push({ pid: azurite.pid, signal: 'SIGTERM' });
      storage = azurite.connectionString;
    }
    // The in-process container worker's handlers (raster.*) read their configuration from the
    // environment, as in the container: point them at this stack's Postgres, blob storage and a
    // mount under .data/, unless the caller set them.
    process.env.DATABASE_URL = appUrl;
    process.env.DAG_DB_SCHEMA ??= schema;
    process.env.DAG_STAC_SCHEMA ??= stacSchema;
    if (!process.env.DAG_STORAGE_CONNECTION) process.env.DAG_STORAGE_CONNECTION = storage;
    if (!process.env.DAG_WORKER_ETL_MOUNT_PATH) {
      process.env.DAG_WORKER_ETL_MOUNT_PATH = path.join(dataDir, 'etl');
      mkdirSync(process.env.DAG_WORKER_ETL_MOUNT_PATH, { recursive: true });
    }

    const workerQueues = process.env.DAG_WORKER_QUEUES || 'container-tasks,dag-worker-tasks';
    const env: Record<string, string> = {
      DATABASE_URL: appUrl,
      DAG_DB_SCHEMA: schema,
      DAG_STAC_SCHEMA: stacSchema,
      DAG_WORKFLOWS_DIR: o.workflowsDir,
      DAG_RESULT_QUEUE: process.env.DAG_RESULT_QUEUE || 'dag-task-results',
      DAG_JOB_QUEUE: process.env.DAG_JOB_QUEUE || 'dag-jobs',
      DAG_RECONCILE_SCHEDULE: process.env.DAG_RECONCILE_SCHEDULE || '0 */1 * * * *',
      DAG_TASK_HUB: process.env.DAG_TASK_HUB || 'DagMaster',
      DAG_WORKER_QUEUES: workerQueues,
      // As in infra/: the host stops reading a request body at the API's own limit.
      FUNCTIONS_REQUEST_BODY_SIZE_LIMIT:
        process.env.FUNCTIONS_REQUEST_BODY_SIZE_LIMIT || String(MAX_BODY_BYTES),
      AzureWebJobsStorage: storage,
      ...o.env,
    };
    const apiKey = o.apiKey ?? process.env.DAG_API_KEY ?? '';
    const host = await startDevHost({
      appEntry: appEntry(),
      store: 'postgres',
      databaseUrl,
      storeSchema: `${schema}_durable`,
      port: o.port,
      storageConnectionString: storage,
      apiKey,
      env,
      loadLocalSettings: false,
      logLevel: (o.logLevel ?? process.env.LOG_LEVEL ?? 'warn') as 'warn',
    });
    stops.push(() => host.stop());

    // The container worker beside the dev host: heavy (container) nodes run here locally. Its ETL
    // mount housekeeping reads the same variables as the container's (DAG_WORKER_ETL_*).
    const { etlCleanup } = loadWorkerConfig({
      ...process.env,
      DAG_QUEUE_CONNECTION: storage,
      DATABASE_URL: appUrl,
      DAG_DB_SCHEMA: schema,
    });
    const worker: ContainerWorker = await startContainerWorker({
      queues: workerQueues
        .split(',')
        .map((q) => q.trim())
        .filter(Boolean),
      storageConnectionString: storage,
      databaseUrl: appUrl,
      schema,
      maxConcurrent: Number(process.env.DAG_WORKER_MAX_CONCURRENT) || 8,
      visibilityTimeoutSeconds: 30,
      shutdownTimeoutSeconds: 5,
      pollIntervalMs: 250,
      workerId: `local-${process.pid}`,
      ...(etlCleanup ? { etlCleanup } : {}),
      logger: createLogger(
        { app: 'container-worker' },
        { ...process.env, LOG_LEVEL: o.logLevel ?? process.env.LOG_LEVEL ?? 'warn' },
      ),
    });
    stops.push(() => worker.stop());
    writeStackFile(root, {
      pid: process.pid,
      command: o.command,
      url: host.url,
      storageConnectionString: storage,
      ...(apiKey ? { apiKey } : {}),
      workflowsDir: o.workflowsDir,
      startedAt: new Date().toISOString(),
    });
    stops.push(async () => removeStackFile(root));
    return {
      url: host.url,
      host,
      databaseUrl,
      schema,
      storageConnectionString: storage,
      unfinishedJobs,
      stop: stopAll,
      abandon: () => {
        for (const s of servers) {
          try {
            process.kill(s.pid, s.signal);
          } catch {
            // already gone
          }
        }
        removeStackFile(root);
      },
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/**
 * Takes the stack's lock on the schema (a session advisory lock for the stack's lifetime: two stacks
 * on one schema would run each other's orchestrations with different storage), migrates it (in
 * production the deployment's migration job does), makes the app's login, and lists the jobs an
 * earlier stack left unfinished.
 */
async function prepareDatabase(
  databaseUrl: string,
  schema: string,
  stacSchema: string,
  say: (line: string) => void,
): Promise<{ unfinished: UnfinishedJob[]; appUrl: string; release: () => Promise<void> }> {
  // Errors after the stack stopped (the server going away) are expected; the lock goes with it.
  const pool = createPool(
    { ...loadDbConfig({ DATABASE_URL: databaseUrl }), poolMax: 2, statementTimeoutMs: 0 },
    { onError: () => undefined },
  );
  try {
    const lock = await acquireSessionLock(pool, `rmhdagmaster:local-stack:${schema}`);
    if (!lock) {
      throw new Error(
        `another dagmaster stack (start or run, from another directory) is using schema "${schema}" of ` +
          'this Postgres: stop it, or give this one its own schema with DAG_DB_SCHEMA',
      );
    }
    const appRole = process.env.DAG_DB_APP_ROLE || defaultAppRole(schema);
    const login = await ensureLocalLogin(pool, databaseUrl, appRole);
    if (!login) say(`cannot create roles on this server: the app connects as DATABASE_URL's user`);
    const r = await runMigrations(pool, {
      schema,
      stacSchema,
      appRole,
      grantTo: login ? [{ name: login.name }] : [],
    });
    if (r.applied.length) say(`database schema ${schema} migrated to ${r.to}`);
    const page = await listJobs(pool, schema, { status: ['pending', 'running'], limit: 50 });
    const unfinished = page.items.map((j) => ({
      job_id: j.job_id,
      workflow_id: j.workflow_id,
      status: j.status,
      created_at: j.created_at.toISOString(),
    }));
    return {
      unfinished,
      appUrl: login?.url ?? databaseUrl,
      release: async () => {
        await lock.release();
        await pool.end();
      },
    };
  } catch (err) {
    await pool.end();
    throw err;
  }
}
