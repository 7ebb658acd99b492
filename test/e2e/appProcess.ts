// The Function App in a dev host *process* (devhost/main.ts) on a shared Postgres store, for tests
// that kill it with SIGKILL and start it again: Durable state, jobs and queues outlive the process.
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { dump } from 'js-yaml';
import { afterAll, beforeAll } from 'vitest';
import { launchAzurite, type AzuriteInstance } from '../../devhost';
import { spawnDevHost, waitForExit, type HostProcess } from '../devhost/devHostProcess';
import { createTestSchema, dropTestSchema, TEST_DATABASE_URL, type TestSchema } from '../support/pg';
import { ROOT, type JobDetail } from './stack';

export interface AppProcessOptions {
  schema: TestSchema;
  /** Azurite (or any storage account) connection string. */
  storage: string;
  workflowsDir: string;
  /** The Durable task hub (one per test file). */
  taskHub: string;
  resultQueue: string;
  env?: Record<string, string>;
}

export function startAppProcess(o: AppProcessOptions): Promise<HostProcess> {
  return spawnDevHost(
    [
      '--app',
      path.join(ROOT, 'functions', 'index.ts'),
      '--store',
      'postgres',
      '--database-url',
      TEST_DATABASE_URL,
      '--store-schema',
      `${o.schema.schema}_dh`,
      '--port',
      '0',
      '--storage-connection-string',
      o.storage,
      '--log-level',
      process.env.DEVHOST_TEST_LOG_LEVEL ?? 'error',
    ],
    {
      DATABASE_URL: o.schema.url,
      DAG_DB_SCHEMA: o.schema.schema,
      DAG_WORKFLOWS_DIR: o.workflowsDir,
      DAG_RESULT_QUEUE: o.resultQueue,
      DAG_RECONCILE_SCHEDULE: '0 0 0 1 1 *',
      DAG_TASK_HUB: o.taskHub,
      DAG_API_KEY: '',
      ...o.env,
    },
    60_000,
  );
}

/** SIGKILL: no shutdown hook runs, as when a host dies. */
export async function killHard(p: HostProcess): Promise<void> {
  p.child.kill('SIGKILL');
  await waitForExit(p.child);
}

/** A workflows directory with the shipped workflows and the given ones. */
export function workflowsDirWith(defs: Array<Record<string, unknown>>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dag-wf-'));
  for (const f of readdirSync(path.join(ROOT, 'workflows')))
    cpSync(path.join(ROOT, 'workflows', f), path.join(dir, f));
  writeWorkflows(dir, defs);
  return dir;
}

function writeWorkflows(dir: string, defs: Array<Record<string, unknown>>): void {
  for (const d of defs) writeFileSync(path.join(dir, `${String(d.workflow_id)}.yaml`), dump(d));
}

export function removeDir(dir: string | undefined): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
}

export async function api<T>(
  url: string,
  method: string,
  route: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${url}${route}`, {
    method,
    ...(body === undefined
      ? {}
      : {
          headers: { 'content-type': 'application/json' },
          body: typeof body === 'string' ? body : JSON.stringify(body),
        }),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // keep the text
  }
  return { status: res.status, body: parsed as T };
}

export async function waitForJobEnd(url: string, jobId: string, timeoutMs: number): Promise<JobDetail> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const r = await api<JobDetail>(url, 'GET', `/api/jobs/${jobId}`);
    if (r.status === 200 && ['completed', 'failed', 'cancelled'].includes(r.body.job.status)) return r.body;
    if (Date.now() > until)
      throw new Error(`job ${jobId} not finished: ${JSON.stringify(r.body)}`.slice(0, 2000));
    await new Promise((res) => setTimeout(res, 200));
  }
}

/** Drops the product schema and the dev host's store schema (kept when the test failed). */
export async function dropSchemas(schema: TestSchema, failed: boolean): Promise<void> {
  if (failed) {
    await schema.pool.end().catch(() => undefined);
    if (schema.adminPool !== schema.pool) await schema.adminPool.end().catch(() => undefined);
    console.error(`test failed: schemas ${schema.schema}, ${schema.schema}_dh kept`);
    return;
  }
  const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await c.connect();
  try {
    await c.query(`DROP SCHEMA IF EXISTS "${schema.schema}_dh" CASCADE`);
  } finally {
    await c.end();
  }
  await dropTestSchema(schema);
}

/**
 * A test file's app processes (startHost) over one migrated schema, one Azurite and a workflows
 * directory holding `workflows` only: set up before all its tests, torn down after (every process
 * killed; the schemas kept when markFailed was called).
 */
export function useAppProcesses(o: {
  /** Schema prefix; also names the task hub and the result queue. */
  name: string;
  workflows: Array<Record<string, unknown>>;
  /** Runs once the schema is migrated (seeding). */
  prepare?: (schema: TestSchema) => Promise<void>;
}) {
  let schema: TestSchema | undefined;
  let azurite: AzuriteInstance | undefined;
  let dir: string | undefined;
  let failed = false;
  const hosts: HostProcess[] = [];
  beforeAll(async () => {
    schema = await createTestSchema(o.name);
    await schema.migrate();
    await o.prepare?.(schema);
    azurite = await launchAzurite();
    dir = mkdtempSync(path.join(os.tmpdir(), 'dag-wf-'));
    writeWorkflows(dir, o.workflows);
  }, 120_000);
  afterAll(async () => {
    for (const h of hosts) h.child.kill('SIGKILL');
    await azurite?.stop().catch(() => undefined);
    removeDir(dir);
    if (schema) await dropSchemas(schema, failed);
  });
  const current = (): TestSchema => {
    if (!schema) throw new Error('useAppProcesses: the schema exists only inside tests');
    return schema;
  };
  return {
    get schema(): TestSchema {
      return current();
    },
    markFailed(): void {
      failed = true;
    },
    /** A dev host process running the Function App, with extra app settings. */
    async startHost(env: Record<string, string> = {}): Promise<HostProcess> {
      const h = await startAppProcess({
        schema: current(),
        storage: azurite!.connectionString,
        workflowsDir: dir!,
        taskHub: `${o.name}hub`,
        resultQueue: `results-${o.name}`,
        env,
      });
      hosts.push(h);
      return h;
    },
  };
}
