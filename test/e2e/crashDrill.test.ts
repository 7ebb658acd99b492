// The crash drill on container work (issue 22): the whole local stack — Function App (dev host),
// container worker and, in the "bundled" variant, Azurite itself — runs in one process group that is
// SIGKILLed at several moments of two container fan-outs and started again on the same Postgres and
// Azurite data. A bundled Azurite saves its queues every few seconds, so a kill can lose a task
// message just sent, a result just sent, or a deletion (a message comes back). Whatever was lost:
// every job completes and every node completes exactly once.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { launchAzurite, type AzuriteInstance } from '../../devhost';
import { createTestSchema, TEST_DATABASE_URL, type TestSchema } from '../support/pg';
import { api, dropSchemas, removeDir, waitForJobEnd, workflowsDirWith } from './appProcess';
import { ROOT } from './stack';

const CHILDREN = 24;
const task = (handler: string, params: Record<string, unknown>) => ({
  handler,
  queue: 'container-tasks',
  params,
  timeout_seconds: 20,
  retry: { max_attempts: 3, initial_delay_seconds: 0 },
});
const WF = {
  workflow_id: 'drill',
  name: 'container fan-out under SIGKILL',
  nodes: {
    start: { type: 'start', next: 'prep' },
    prep: { type: 'task', ...task('echo', { step: 'prep' }), next: 'split' },
    split: {
      type: 'fan_out',
      source: `{{ range(0, ${CHILDREN}) }}`,
      max_parallel: 6,
      task: task('sleep', { duration_seconds: 0.3 }),
      next: 'join',
    },
    join: { type: 'fan_in', next: 'last' },
    last: { type: 'task', ...task('echo', { step: 'last' }), next: 'end' },
    end: { type: 'end' },
  },
};
const NODES = 6 + CHILDREN;
const TASKS = 2 + CHILDREN;

interface Stack {
  child: ChildProcess;
  url: string;
}

describe.each([['external'], ['bundled']] as const)('crash drill, %s Azurite', (variant) => {
  let schema: TestSchema;
  let external: AzuriteInstance | undefined;
  let azuriteDir: string | undefined;
  let workflowsDir: string;
  let current: Stack | undefined;
  let failed = false;

  beforeAll(async () => {
    schema = await createTestSchema('drill');
    await schema.migrate();
    workflowsDir = workflowsDirWith([WF]);
    if (variant === 'external') external = await launchAzurite();
    else azuriteDir = mkdtempSync(path.join(os.tmpdir(), 'drill-azurite-'));
  }, 120_000);

  afterAll(async () => {
    if (current) await killGroup(current.child);
    await external?.stop().catch(() => undefined);
    removeDir(azuriteDir);
    removeDir(workflowsDir);
    if (schema) await dropSchemas(schema, failed);
  });

  function startStack(): Promise<Stack> {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(ROOT, 'test', 'fixtures', 'e2e', 'drillStack.ts')],
      {
        cwd: ROOT,
        // Its own process group: one kill takes the host, the worker and a bundled Azurite together.
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env,
          DATABASE_URL: schema.url,
          DRILL_STORE_URL: TEST_DATABASE_URL,
          DAG_DB_SCHEMA: schema.schema,
          DAG_WORKFLOWS_DIR: workflowsDir,
          DAG_RESULT_QUEUE: 'drill-results',
          DAG_TASK_HUB: 'drill',
          DAG_RECONCILE_SCHEDULE: '*/2 * * * * *',
          DAG_WORKER_HEARTBEAT_SECONDS: '1',
          DAG_STRANDED_AFTER_HEARTBEATS: '3',
          LOG_LEVEL: 'error',
          ...(external ? { DRILL_STORAGE: external.connectionString } : { DRILL_AZURITE_DIR: azuriteDir! }),
        },
      },
    );
    let out = '';
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the stack did not start:\n${out}`)), 90_000);
      child.stdout!.on('data', (b: Buffer) => {
        out += b.toString();
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve({ child, url: m[1]! });
        }
      });
      child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
      child.once('exit', (code, sig) => {
        clearTimeout(timer);
        reject(new Error(`the stack exited (${code ?? sig}) before it was ready:\n${out}`));
      });
    });
  }

  async function progress(jobIds: string[]) {
    const r = await schema.pool.query<{ children: number; prep: number; last: number; join: number }>(
      `SELECT count(*) FILTER (WHERE parent_node_id IS NOT NULL AND status = 'completed')::int AS children,
              count(*) FILTER (WHERE node_id = 'prep' AND status IN ('dispatched', 'running', 'completed'))::int AS prep,
              count(*) FILTER (WHERE node_id = 'last' AND status IN ('dispatched', 'running', 'completed'))::int AS last,
              count(*) FILTER (WHERE node_id = 'join' AND status = 'completed')::int AS join
       FROM "${schema.schema}".dag_node_states WHERE job_id = ANY($1)`,
      [jobIds],
    );
    return r.rows[0]!;
  }

  it('SIGKILL at four moments of two container fan-outs: every job completes, every node once', async () => {
    onTestFailed(() => {
      failed = true;
    });
    current = await startStack();
    const jobIds: string[] = [];
    for (let i = 0; i < 2; i++) {
      const r = await api<{ job_id: string }>(current.url, 'POST', '/api/jobs', { workflow_id: 'drill' });
      expect(r.status).toBe(202);
      jobIds.push(r.body.job_id);
    }
    const total = 2 * CHILDREN;
    const moments: Array<[string, (p: Awaited<ReturnType<typeof progress>>) => boolean]> = [
      ['the first container task is out', (p) => p.prep > 0],
      ['a quarter of the children are done', (p) => p.children >= total / 4],
      ['three quarters of the children are done', (p) => p.children >= (3 * total) / 4],
      ['the last node is out', (p) => p.last > 0 || p.join === 2],
    ];
    for (const [moment, reached] of moments) {
      const until = Date.now() + 180_000;
      while (!reached(await progress(jobIds))) {
        if (Date.now() > until) throw new Error(`never reached: ${moment}`);
        await new Promise((r) => setTimeout(r, 25));
      }
      await killGroup(current.child);
      current = await startStack();
    }
    for (const jobId of jobIds) {
      const d = await waitForJobEnd(current.url, jobId, 240_000);
      expect(d.job.status, `${jobId}: ${d.job.error_message}`).toBe('completed');
      expect(d.node_summary).toMatchObject({ completed: NODES, total: NODES });
      const split = (d.job.result_data ?? {}) as Record<string, unknown>;
      expect(Object.keys(split).filter((k) => k.startsWith('split__'))).toHaveLength(CHILDREN);
    }
    const once = await schema.pool.query<{ job_id: string; node_id: string; n: number }>(
      `SELECT job_id, node_id, count(*)::int AS n FROM "${schema.schema}".dag_job_events
       WHERE job_id = ANY($1) AND event_type = 'node_completed' GROUP BY job_id, node_id`,
      [jobIds],
    );
    expect(once.rows).toHaveLength(2 * NODES);
    expect(once.rows.filter((r) => r.n !== 1)).toEqual([]);
    const applied = await schema.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM "${schema.schema}".dag_task_results
       WHERE job_id = ANY($1) AND disposition = 'applied' AND status = 'completed'`,
      [jobIds],
    );
    expect(applied.rows[0]!.n).toBe(2 * TASKS);
    if (process.env.DRILL_VERBOSE) {
      const ev = await schema.pool.query(
        `SELECT event_type::text, count(*)::int AS n FROM "${schema.schema}".dag_job_events
         WHERE job_id = ANY($1) AND event_type IN ('node_requeued', 'node_retry', 'node_timeout', 'result_ignored')
         GROUP BY 1`,
        [jobIds],
      );
      console.log(variant, ev.rows);
    }
  }, 600_000);
});

/** SIGKILL to the whole process group (the stack and every process it started). */
async function killGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
  await exited;
}
