// The local stack behind `dagmaster run` and `dagmaster start`: Postgres (DATABASE_URL, else an
// embedded one with data in .data/postgres) migrated at startup, Azurite (data in .data/azurite), the
// dev host running the Function App's real registrations, and the container worker beside it.
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { ensureLocalLogin } from './localAppLogin';
import { removeStackFile, writeStackFile } from './stackFile';
import { loadWorkerConfig, startContainerWorker, type ContainerWorker } from '../container-worker';
import { defaultAppRole, runMigrations } from '../db';
import { createLogger } from '../handlers/createLogger';
import {
  launchAzurite,
  launchEmbeddedPostgres,
  startDevHost,
  type AzuriteInstance,
  type DevHost,
  type EmbeddedPostgresInstance,
} from '../devhost';

export interface LocalStackOptions {
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

export interface LocalStack {
  url: string;
  host: DevHost;
  databaseUrl: string;
  schema: string;
  storageConnectionString: string;
  stop(): Promise<void>;
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
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
  };
  try {
    let databaseUrl = process.env.DATABASE_URL;
    if (!databaseUrl) {
      say('starting an embedded Postgres (data in .data/postgres; set DATABASE_URL to use your own)…');
      const pgInstance: EmbeddedPostgresInstance = await launchEmbeddedPostgres({
        dataDir: path.join(dataDir, 'postgres'),
        database: 'dagmaster',
      });
      if (pgInstance.startedHere) stops.push(() => pgInstance.stop());
      databaseUrl = pgInstance.url;
    }
    const schema = process.env.DAG_DB_SCHEMA || 'dagapp';
    const stacSchema = process.env.DAG_STAC_SCHEMA || 'stac';
    const appRole = process.env.DAG_DB_APP_ROLE || defaultAppRole(schema);
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
    // The app's connection: a login in the app role, as in production (see cli/localAppLogin.ts).
    let appUrl = databaseUrl;
    try {
      const login = await ensureLocalLogin(pool, databaseUrl, appRole);
      if (login) appUrl = login.url;
      else say(`cannot create roles on this server: the app connects as DATABASE_URL's user`);
      // The local stack migrates at startup (in production the deployment's migration job does).
      const r = await runMigrations(pool, {
        schema,
        stacSchema,
        appRole,
        grantTo: login ? [{ name: login.name }] : [],
      });
      if (r.applied.length) say(`database schema ${schema} migrated to ${r.to}`);
    } finally {
      await pool.end();
    }

    let storage = process.env.AzureWebJobsStorage;
    if (!storage || storage === 'UseDevelopmentStorage=true') {
      mkdirSync(path.join(dataDir, 'azurite'), { recursive: true });
      say('starting Azurite (data in .data/azurite)…');
      const azurite: AzuriteInstance = await launchAzurite({ location: path.join(dataDir, 'azurite') });
      stops.push(() => azurite.stop());
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

    const env: Record<string, string> = {
      DATABASE_URL: appUrl,
      DAG_DB_SCHEMA: schema,
      DAG_STAC_SCHEMA: stacSchema,
      DAG_WORKFLOWS_DIR: o.workflowsDir,
      DAG_RESULT_QUEUE: process.env.DAG_RESULT_QUEUE || 'dag-task-results',
      DAG_RECONCILE_SCHEDULE: process.env.DAG_RECONCILE_SCHEDULE || '0 */1 * * * *',
      DAG_TASK_HUB: process.env.DAG_TASK_HUB || 'DagMaster',
      AzureWebJobsStorage: storage,
      ...o.env,
    };
    const host = await startDevHost({
      appEntry: appEntry(),
      store: 'postgres',
      databaseUrl,
      storeSchema: `${schema}_durable`,
      port: o.port,
      storageConnectionString: storage,
      apiKey: o.apiKey ?? process.env.DAG_API_KEY ?? '',
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
      queues: (process.env.DAG_WORKER_QUEUES || 'container-tasks,dag-worker-tasks')
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
    writeStackFile(root, { pid: process.pid, url: host.url, storageConnectionString: storage });
    stops.push(async () => removeStackFile(root));
    return {
      url: host.url,
      host,
      databaseUrl,
      schema,
      storageConnectionString: storage,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
