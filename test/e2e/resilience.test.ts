// The product under stress: the dev host killed with SIGKILL mid-job and restarted; 200 concurrent
// submissions; fuzzed API bodies and query strings.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, cpSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import pg from 'pg';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { deploySchema } from '../../db';
import { launchAzurite, type AzuriteInstance } from '../../devhost';
import { createTestSchema, dropTestSchema, TEST_DATABASE_URL, type TestSchema } from '../support/pg';
import { spawnAppHost } from './appHostProcess';
import { ROOT, type JobDetail } from './stack';

let schema: TestSchema;
let azurite: AzuriteInstance;
let workflowsDir: string;
let failed = false;
const procs = new Set<ChildProcess>();

const CRASH_WF = {
  workflow_id: 'e2e_crash',
  name: 'crash',
  nodes: {
    start: { type: 'start', next: 'first' },
    first: { type: 'task', handler: 'echo', next: 'split' },
    split: {
      type: 'fan_out',
      source: '{{ range(0, 120) }}',
      max_parallel: 8,
      task: { handler: 'sleep', params: { duration_seconds: 0.05 } },
      next: 'join',
    },
    join: { type: 'fan_in', next: 'last' },
    last: { type: 'task', handler: 'echo', next: 'end' },
    end: { type: 'end' },
  },
};

beforeAll(async () => {
  schema = await createTestSchema('e2e');
  await deploySchema(schema.pool, schema.schema);
  azurite = await launchAzurite();
  workflowsDir = mkdtempSync(path.join(os.tmpdir(), 'dag-wf-'));
  for (const f of readdirSync(path.join(ROOT, 'workflows')))
    cpSync(path.join(ROOT, 'workflows', f), path.join(workflowsDir, f));
  writeFileSync(path.join(workflowsDir, 'e2e_crash.yaml'), stringify(CRASH_WF));
}, 120_000);

afterAll(async () => {
  for (const p of procs) p.kill('SIGKILL');
  await azurite?.stop().catch(() => undefined);
  rmSync(workflowsDir, { recursive: true, force: true });
  if (failed) {
    await schema.pool.end();
    console.error(`resilience test failed: schemas ${schema.schema}, ${schema.schema}_dh kept`);
  } else {
    await dropTestSchema(schema);
    const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS "${schema.schema}_dh" CASCADE`);
    await c.end();
  }
});

/** Starts the dev host as a child process on the shared stores; resolves with its URL. */
async function startHostProcess(): Promise<{ proc: ChildProcess; url: string }> {
  const h = await spawnAppHost({
    schema: schema.schema,
    storageConnectionString: azurite.connectionString,
    workflowsDir,
    name: 'crash',
  });
  procs.add(h.child);
  h.child.on('exit', () => procs.delete(h.child));
  return { proc: h.child, url: h.url };
}

async function api<T>(
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

async function waitFor(url: string, jobId: string, timeoutMs: number): Promise<JobDetail> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const r = await api<JobDetail>(url, 'GET', `/api/jobs/${jobId}`);
    if (r.status === 200 && ['completed', 'failed', 'cancelled'].includes(r.body.job.status)) return r.body;
    if (Date.now() > until)
      throw new Error(`job ${jobId} not finished: ${JSON.stringify(r.body)}`.slice(0, 500));
    await new Promise((res) => setTimeout(res, 200));
  }
}

describe('crash safety', () => {
  it('SIGKILL of the dev host mid-job, restart: the job completes and each node completes exactly once', async () => {
    onTestFailed(() => {
      failed = true;
    });
    const first = await startHostProcess();
    const submit = await api<{ job_id: string }>(first.url, 'POST', '/api/jobs', {
      workflow_id: 'e2e_crash',
      inputs: {},
    });
    expect(submit.status).toBe(202);
    const jobId = submit.body.job_id;
    // Kill it while the fan-out is running.
    for (let i = 0; i < 300; i++) {
      const r = await api<JobDetail>(first.url, 'GET', `/api/jobs/${jobId}`);
      if ((r.body.node_summary?.completed ?? 0) >= 20) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    first.proc.kill('SIGKILL');
    await new Promise((res) => first.proc.once('exit', res));

    const second = await startHostProcess();
    const d = await waitFor(second.url, jobId, 120_000);
    expect(d.job.status).toBe('completed');
    expect(d.node_summary).toMatchObject({ completed: 126, total: 126 });
    const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await c.connect();
    try {
      const r = await c.query(
        `SELECT node_id, count(*)::int AS n FROM "${schema.schema}".dag_job_events
         WHERE job_id = $1 AND event_type = 'node_completed' GROUP BY node_id`,
        [jobId],
      );
      expect(r.rows).toHaveLength(126);
      expect(r.rows.filter((x) => x.n !== 1)).toEqual([]);
      const results = await c.query(
        `SELECT count(*)::int AS n FROM "${schema.schema}".dag_task_results WHERE job_id = $1 AND disposition = 'applied'`,
        [jobId],
      );
      // start/end/structural nodes have no task results: first, 120 children, last.
      expect(results.rows[0].n).toBe(122);
    } finally {
      await c.end();
    }
    second.proc.kill('SIGTERM');
    await new Promise((res) => second.proc.once('exit', res));
  }, 240_000);
});

describe('load and bad input', () => {
  let host: { proc: ChildProcess; url: string };
  beforeAll(async () => {
    host = await startHostProcess();
  }, 90_000);
  afterAll(async () => {
    host?.proc.kill('SIGTERM');
    if (host) await new Promise((res) => host.proc.once('exit', res));
  });

  it('200 concurrent submissions: all complete, none lost or duplicated', async () => {
    onTestFailed(() => {
      failed = true;
    });
    const responses = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        api<{ job_id: string }>(host.url, 'POST', '/api/jobs', {
          workflow_id: 'hello_world',
          inputs: { message: `m${i}` },
          correlation_id: `load-${i}`,
        }),
      ),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(200).fill(202));
    const ids = responses.map((r) => r.body.job_id);
    expect(new Set(ids).size).toBe(200);
    const details = [];
    for (const id of ids) details.push(await waitFor(host.url, id, 180_000));
    expect(details.filter((d) => d.job.status !== 'completed')).toEqual([]);
    const messages = details
      .map((d) => (d.nodes.find((n) => n.node_id === 'hello')!.output as { message: string }).message)
      .sort();
    expect(messages).toEqual(Array.from({ length: 200 }, (_, i) => `m${i}`).sort());
    const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await c.connect();
    const r = await c.query(
      `SELECT count(*)::int AS n FROM "${schema.schema}".dag_jobs WHERE correlation_id LIKE 'load-%'`,
    );
    await c.end();
    expect(r.rows[0].n).toBe(200);
  }, 300_000);

  it('fuzzed bodies and query strings get a 4xx JSON error naming the problem, never a 500 or a stack', async () => {
    onTestFailed(() => {
      failed = true;
    });
    const routes: Array<[string, string]> = [
      ['POST', '/api/jobs'],
      ['POST', '/api/gateway/submit'],
      ['GET', '/api/jobs'],
      ['GET', '/api/jobs/nope'],
      ['GET', '/api/jobs/nope/events'],
      ['GET', '/api/jobs/nope/nodes'],
      ['POST', '/api/jobs/nope/cancel'],
      ['POST', '/api/jobs/nope/retry'],
      ['GET', '/api/workflows/nope'],
      ['GET', '/api/status/jobs'],
      ['GET', '/api/status/job/nope'],
    ];
    const body = fc.oneof(
      fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
      fc.string({ maxLength: 200 }),
      fc
        .record({
          workflow_id: fc.oneof(fc.string(), fc.constantFrom('hello_world', 'echo_test', ''), fc.integer()),
          inputs: fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constant({ message: 5 })),
          idempotency_key: fc.option(fc.string({ maxLength: 300 }), { nil: undefined }),
          correlation_id: fc.option(fc.string({ maxLength: 100 }), { nil: undefined }),
        })
        .map((v) => JSON.stringify(v)),
      fc.constantFrom('{', '[]', 'null', '"x"', '{"workflow_id": "hello_world", "inputs": []}', '\u0000'),
    );
    const query = fc.dictionary(
      fc.constantFrom(
        'status',
        'limit',
        'cursor',
        'workflow_id',
        'type',
        'node_id',
        'parent',
        'offset',
        'include_nodes',
        'x',
      ),
      fc.oneof(
        fc.string({ maxLength: 50 }),
        fc.constantFrom('0', '-1', '501', '1e9', 'running,bogus', 'completed', '%00', 'eyJ0IjoxfQ'),
      ),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), body, query, async ([method, route], b, q) => {
        const qs = new URLSearchParams(q).toString();
        const r = await api<{ error?: { code: string; message: string } }>(
          host.url,
          method,
          `${route}${qs ? `?${qs}` : ''}`,
          method === 'POST' ? b : undefined,
        );
        expect(r.status, JSON.stringify(r.body)).toBeLessThan(500);
        if (r.status >= 400) {
          expect(typeof r.body).toBe('object');
          expect(r.body.error?.code).toMatch(/^[A-Z_]+$/);
          expect(r.body.error?.message.length).toBeGreaterThan(5);
          expect(JSON.stringify(r.body)).not.toMatch(/\n\s+at |node_modules|\.ts:\d+/);
        }
      }),
      { numRuns: 300 },
    );
  }, 300_000);
});
