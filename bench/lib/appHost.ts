// The Function App (functions/index.ts) in an in-process dev host for end-to-end benchmarks: Postgres
// state (product schema, Durable store in `<schema>_dh`) and Azurite.
import path from 'node:path';
import type pg from 'pg';
import { runMigrations } from '../../db';
import { launchAzurite, startDevHost, type AzuriteInstance, type DevHost } from '../../devhost';

export const BENCH_DB = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * Creates the product schema (and its STAC schema) with the migrations, as a deployment does. The
 * bench app connects as the administrator; the app role exists for the grants only.
 */
export async function migrateBenchSchema(admin: pg.Pool, schema: string): Promise<void> {
  await runMigrations(admin, {
    schema,
    stacSchema: `${schema}_stac`,
    appRole: `${schema}_app`,
    verify: false,
  });
}

/** Drops what migrateBenchSchema and the dev host created. */
export async function dropBenchSchema(admin: pg.Pool, schema: string): Promise<void> {
  for (const s of [schema, `${schema}_stac`, `${schema}_dh`])
    await admin.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  await admin.query(`DROP ROLE IF EXISTS "${schema}_app"`);
}

export async function startBenchApp(o: {
  schema: string;
  workflowsDir: string;
  /** Task hub name (its queues and instances stay apart from other runs). */
  taskHub: string;
  inMemoryAzurite?: boolean;
  /** More app settings (applied while the host runs). */
  env?: Record<string, string>;
}): Promise<{ host: DevHost; azurite: AzuriteInstance; stop(): Promise<void> }> {
  const azurite = await launchAzurite(o.inMemoryAzurite ? { inMemory: true } : {});
  // A host that cannot start (e.g. a store schema of another task hub) must not leave Azurite running.
  const host = await startDevHost({
    appEntry: path.join(__dirname, '..', '..', 'functions', 'index.ts'),
    store: 'postgres',
    databaseUrl: BENCH_DB,
    storeSchema: `${o.schema}_dh`,
    storageConnectionString: azurite.connectionString,
    apiKey: '',
    env: {
      DATABASE_URL: BENCH_DB,
      DAG_DB_SCHEMA: o.schema,
      DAG_STAC_SCHEMA: `${o.schema}_stac`,
      DAG_WORKFLOWS_DIR: o.workflowsDir,
      DAG_RESULT_QUEUE: 'bench-results',
      DAG_RECONCILE_SCHEDULE: '0 0 0 1 1 *',
      DAG_TASK_HUB: o.taskHub,
      DAG_DB_POOL_MAX: '16',
      LOG_LEVEL: 'error',
      ...o.env,
    },
    loadLocalSettings: false,
    logLevel: 'error',
  }).catch(async (err: unknown) => {
    await azurite.stop();
    throw err;
  });
  return {
    host,
    azurite,
    async stop() {
      await host.stop();
      await azurite.stop();
    },
  };
}
