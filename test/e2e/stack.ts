// The local stack for end-to-end tests: real Postgres (a fresh schema for the product, migrated as in
// production, and one for the dev host's Durable store), real Azurite, and the dev host running
// functions/index.ts — the same registrations Azure runs. The app connects as the schema's non-admin
// login (test/support/pg.ts); only the dev host's own store uses the administrator. One stack per test
// file (registrations are captured once per process).
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { dump } from 'js-yaml';
import { jobInstanceId } from '../../activities/contracts';
import { launchAzurite, startDevHost, type AzuriteInstance, type DevHost } from '../../devhost';
import { createTestSchema, dropTestSchema, TEST_DATABASE_URL, type TestSchema } from '../support/pg';

export const ROOT = path.join(__dirname, '..', '..');

export interface Stack {
  host: DevHost;
  url: string;
  schema: TestSchema;
  azurite: AzuriteInstance;
  workflowsDir: string;
  env: Record<string, string>;
  /** Writes a workflow file into the stack's workflows directory. */
  writeWorkflow(def: Record<string, unknown> | string, file?: string): string;
  api<T = unknown>(
    method: string,
    route: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: T }>;
  submit(
    workflowId: string,
    inputs?: Record<string, unknown>,
    extra?: Record<string, unknown>,
  ): Promise<string>;
  waitForJob(jobId: string, timeoutMs?: number): Promise<JobDetail>;
  stop(failed?: boolean): Promise<void>;
}

export interface JobDetail {
  job: {
    job_id: string;
    status: string;
    error_message: string | null;
    result_data: Record<string, unknown> | null;
    run_count: number;
  };
  nodes: Array<{
    node_id: string;
    status: string;
    attempt: number;
    output: unknown;
    error_message: string | null;
    skip_reason: string | null;
    task_id: string | null;
    parent_node_id: string | null;
    fan_out_index: number | null;
    started_at: string | null;
    completed_at: string | null;
    retry_at: string | null;
  }>;
  node_summary: Record<string, number>;
}

export interface StackOptions {
  /** Copy the shipped workflows/ into the stack's workflows directory (default true). */
  shippedWorkflows?: boolean;
  env?: Record<string, string>;
  apiKey?: string;
  /** Durable client management calls go here instead of the host's own listener (a fault proxy). */
  durableClientRpcBaseUrl?: string;
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const schema = await createTestSchema('e2e');
  const pool = schema.pool;
  await schema.migrate();
  const workflowsDir = mkdtempSync(path.join(os.tmpdir(), 'dag-wf-'));
  if (options.shippedWorkflows !== false) {
    for (const f of readdirSync(path.join(ROOT, 'workflows')))
      cpSync(path.join(ROOT, 'workflows', f), path.join(workflowsDir, f));
  }
  const azurite = await launchAzurite();
  const suffix = randomBytes(3).toString('hex');
  const env: Record<string, string> = {
    DATABASE_URL: schema.url,
    DAG_DB_SCHEMA: schema.schema,
    DAG_STAC_SCHEMA: schema.stacSchema,
    DAG_WORKFLOWS_DIR: workflowsDir,
    DAG_RESULT_QUEUE: `results-${suffix}`,
    DAG_CONTAINER_QUEUE: `container-tasks`,
    DAG_RECONCILE_SCHEDULE: '0 0 0 1 1 *',
    DAG_TASK_HUB: `hub${suffix}`,
    DAG_DB_POOL_MAX: '10',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'error',
    ...options.env,
  };
  let host: DevHost;
  try {
    host = await startDevHost({
      appEntry: path.join(ROOT, 'functions', 'index.ts'),
      store: 'postgres',
      databaseUrl: TEST_DATABASE_URL,
      storeSchema: `${schema.schema}_dh`,
      storageConnectionString: azurite.connectionString,
      apiKey: options.apiKey ?? '',
      env,
      loadLocalSettings: false,
      testMode: true,
      ...(options.durableClientRpcBaseUrl
        ? { durableClientRpcBaseUrl: options.durableClientRpcBaseUrl }
        : {}),
    });
  } catch (err) {
    await azurite.stop();
    await dropTestSchema(schema);
    throw err;
  }
  const url = host.url;

  const api = async <T>(
    method: string,
    route: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) => {
    const res = await fetch(`${url}${route}`, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: keep the text (tests assert on it)
    }
    return { status: res.status, body: parsed as T };
  };

  // submit() and waitForJob() send the key when the stack has one; api() sends what it is given.
  const keyHeader: Record<string, string> = options.apiKey ? { 'x-functions-key': options.apiKey } : {};
  const stack: Stack = {
    host,
    url,
    schema,
    azurite,
    workflowsDir,
    env,
    writeWorkflow(def, file) {
      const text = typeof def === 'string' ? def : dump(def);
      const id = typeof def === 'string' ? (file ?? 'wf') : String(def.workflow_id);
      const target = path.join(workflowsDir, file ?? `${id}.yaml`);
      writeFileSync(target, text);
      return target;
    },
    api,
    async submit(workflowId, inputs = {}, extra = {}) {
      const r = await api<{ job_id: string }>(
        'POST',
        '/api/jobs',
        { workflow_id: workflowId, inputs, ...extra },
        keyHeader,
      );
      if (r.status !== 202 && r.status !== 200)
        throw new Error(`submit ${workflowId} → ${r.status} ${JSON.stringify(r.body)}`);
      return r.body.job_id;
    },
    async waitForJob(jobId, timeoutMs = 60_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const r = await api<JobDetail>('GET', `/api/jobs/${jobId}`, undefined, keyHeader);
        if (r.status !== 200) throw new Error(`GET job ${jobId} → ${r.status} ${JSON.stringify(r.body)}`);
        if (['completed', 'failed', 'cancelled'].includes(r.body.job.status)) {
          await expectStrictCompletion(host, jobInstanceId(jobId, r.body.job.run_count), until);
          return r.body;
        }
        if (Date.now() > until) {
          throw new Error(
            `job ${jobId} still ${r.body.job.status} after ${timeoutMs} ms: ${JSON.stringify(r.body.node_summary)}`,
          );
        }
        await new Promise((res) => setTimeout(res, 100));
      }
    },
    async stop(failed = false) {
      await host.stop().catch(() => undefined);
      await azurite.stop().catch(() => undefined);
      rmSync(workflowsDir, { recursive: true, force: true });
      if (failed) {
        await pool.end().catch(() => undefined);
        console.error(`e2e stack failed: schemas ${schema.schema} and ${schema.schema}_dh kept`);
      } else {
        await dropTestSchema(schema);
        const admin = await import('pg');
        const c = new admin.default.Client({ connectionString: TEST_DATABASE_URL });
        await c.connect();
        await c.query(`DROP SCHEMA IF EXISTS "${schema.schema}_dh" CASCADE`);
        await c.end();
      }
    },
  };
  return stack;
}

/**
 * The job's orchestration must end without failing (DTFx ends an instance only when none of its
 * tasks is open, so this also waits for calls still running), and no orchestration of the app may
 * have returned while tasks were open (the dev host lists those).
 */
async function expectStrictCompletion(host: DevHost, instanceId: string, until: number): Promise<void> {
  if (!(await host.getStatus(instanceId))) return; // the job never got an orchestration
  const s = await host.waitForCompletion(instanceId, Math.max(5_000, until - Date.now()));
  // Terminated: ended from outside the product (a test does that on purpose).
  if (s.runtimeStatus === 'Failed') {
    throw new Error(`orchestration ${instanceId} failed: ${JSON.stringify(s.output)}`);
  }
  const open = host.stats().orchestrations.openTaskReturns;
  if (open.length) {
    throw new Error(`orchestrations returned while tasks were still open: ${JSON.stringify(open)}`);
  }
}

export const nodeOf = (d: JobDetail, id: string) => {
  const n = d.nodes.find((x) => x.node_id === id);
  if (!n)
    throw new Error(`node ${id} not in job ${d.job.job_id}: ${d.nodes.map((x) => x.node_id).join(', ')}`);
  return n;
};

/**
 * Wraps test bodies so that one that throws calls `onFail` first (a file then stops its stack with
 * `failed`, which keeps the schema for inspection).
 */
export const markingFailure =
  (onFail: () => void) => (body: () => Promise<void>) => async (): Promise<void> => {
    try {
      await body();
    } catch (e) {
      onFail();
      throw e;
    }
  };
