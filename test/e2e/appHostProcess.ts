// The Function App (functions/index.ts) in a dev host child process, on a Postgres schema and an
// Azurite shared with the test: for tests that SIGKILL the stack and start it again.
import path from 'node:path';
import { spawnDevHost, type HostProcess } from '../devhost/devHostProcess';
import { TEST_DATABASE_URL } from '../support/pg';
import { ROOT } from './stack';

export interface AppHostOptions {
  /** The product schema; the Durable store goes to `<schema>_dh`. */
  schema: string;
  storageConnectionString: string;
  workflowsDir: string;
  /** Names the result queue and the task hub (distinct per test file). */
  name: string;
  env?: Record<string, string>;
}

export function spawnAppHost(o: AppHostOptions): Promise<HostProcess> {
  return spawnDevHost(
    [
      '--app',
      path.join(ROOT, 'functions', 'index.ts'),
      '--store',
      'postgres',
      '--database-url',
      TEST_DATABASE_URL,
      '--store-schema',
      `${o.schema}_dh`,
      '--port',
      '0',
      '--storage-connection-string',
      o.storageConnectionString,
      '--log-level',
      'error',
    ],
    {
      DATABASE_URL: TEST_DATABASE_URL,
      DAG_DB_SCHEMA: o.schema,
      DAG_WORKFLOWS_DIR: o.workflowsDir,
      DAG_RESULT_QUEUE: `results-${o.name}`,
      DAG_RECONCILE_SCHEDULE: '0 0 0 1 1 *',
      DAG_TASK_HUB: `${o.name}hub`,
      DAG_API_KEY: '',
      ...o.env,
    },
    60_000,
  );
}
