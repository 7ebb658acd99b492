// The compatibility suite (issue 16): a client that speaks only the original system's API (its
// /api/v1 paths, bodies, status codes and response shapes, docs/compatibility.md) submits, polls,
// reads timelines and cancels; the gateway's batch submit, status and admin reads; the health
// checks by name; the handler listing. Over HTTP on the local stack (dev host, Postgres, Azurite).
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { runCli } from '../../cli/main';
import { startStack, type Stack } from '../e2e/stack';

let stack: Stack;
let failed = false;

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The original client: only /api/v1 and gateway routes, input_params, no knowledge of /api/jobs. */
const original = {
  get: (route: string) => stack.api<Json>('GET', route),
  post: (route: string, body?: unknown) => stack.api<Json>('POST', route, body ?? {}),
  async waitFor(jobId: string, statuses = ['completed', 'failed', 'cancelled'], timeoutMs = 60_000) {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const r = await original.get(`/api/v1/jobs/${jobId}`);
      expect(r.status).toBe(200);
      if (statuses.includes(r.body.job.status)) return r.body;
      if (Date.now() > until) throw new Error(`job ${jobId} still ${r.body.job.status}`);
      await new Promise((res) => setTimeout(res, 100));
    }
  },
};

const JOB_RESPONSE_KEYS = [
  'job_id',
  'workflow_id',
  'status',
  'input_params',
  'result_data',
  'error_message',
  'created_at',
  'started_at',
  'completed_at',
  'submitted_by',
  'correlation_id',
  'owner_id',
  'owner_heartbeat_at',
];
const NODE_RESPONSE_KEYS = [
  'node_id',
  'job_id',
  'status',
  'task_id',
  'output',
  'error_message',
  'retry_count',
  'created_at',
  'started_at',
  'completed_at',
];

beforeAll(async () => {
  stack = await startStack();
  // echo_test of the original sends its task to dag-worker-tasks (a container worker; see
  // test/worker/e2e.test.ts for it): the same workflow with the activity runner.
  stack.writeWorkflow({
    workflow_id: 'compat_echo',
    name: 'Echo Test Workflow',
    description: 'Simple test workflow that echoes input parameters',
    inputs: {
      message: { type: 'string', required: true },
      count: { type: 'integer', required: false, default: 1 },
    },
    nodes: {
      start: { type: 'start', next: 'echo_handler' },
      echo_handler: {
        type: 'task',
        handler: 'echo',
        params: { message: '{{ inputs.message }}', count: '{{ inputs.count }}' },
        timeout_seconds: 60,
        retry: { max_attempts: 3, backoff: 'exponential', initial_delay_seconds: 5 },
        next: 'end',
      },
      end: { type: 'end' },
    },
  });
  stack.writeWorkflow({
    workflow_id: 'compat_sleep',
    name: 'sleeps',
    nodes: {
      start: { type: 'start', next: 'nap' },
      nap: { type: 'task', handler: 'sleep', params: { duration_seconds: 60 }, next: 'end' },
      end: { type: 'end' },
    },
  });
  stack.writeWorkflow({
    workflow_id: 'compat_inactive',
    name: 'switched off',
    is_active: false,
    created_at: '2026-01-31T00:00:00Z',
    updated_at: '2026-02-13T00:00:00Z',
    nodes: {
      start: { type: 'start', next: 'end' },
      end: { type: 'end' },
    },
  });
}, 120_000);

afterAll(async () => {
  await stack?.stop(failed);
});

describe('the original orchestrator API (/api/v1)', () => {
  let echoJob = '';

  it('the original GET / answers the service info at /api/v1 and /api/info (the host owns /)', async () => {
    onTestFailed(() => void (failed = true));
    for (const route of ['/api/info', '/api/v1']) {
      const r = await original.get(route);
      expect(r.status).toBe(200);
      expect(Object.keys(r.body)).toEqual(
        expect.arrayContaining(['service', 'version', 'epoch', 'build_date', 'status', 'docs', 'ui']),
      );
      expect(r.body.service).toBe('rmhdagmaster');
    }
  });

  it('POST /api/v1/jobs with input_params → 201 JobResponse; a repeated idempotency key → the same job', async () => {
    onTestFailed(() => void (failed = true));
    const body = {
      workflow_id: 'compat_echo',
      input_params: { message: 'from the original client' },
      idempotency_key: 'compat-echo-1',
      correlation_id: 'corr-compat-1',
    };
    const r = await original.post('/api/v1/jobs', body);
    expect(r.status).toBe(201);
    expect(Object.keys(r.body)).toEqual(expect.arrayContaining(JOB_RESPONSE_KEYS));
    expect(r.body).toMatchObject({
      workflow_id: 'compat_echo',
      correlation_id: 'corr-compat-1',
      input_params: { message: 'from the original client', count: 1 },
      owner_id: null,
    });
    expect(['pending', 'running']).toContain(r.body.status);
    echoJob = r.body.job_id;
    const again = await original.post('/api/v1/jobs', body);
    expect(again.status).toBe(201);
    expect(again.body.job_id).toBe(echoJob);
  });

  it('POST /api/v1/jobs: an unknown workflow is 404 with FastAPI detail; an inactive one 409', async () => {
    onTestFailed(() => void (failed = true));
    const r = await original.post('/api/v1/jobs', { workflow_id: 'no_such_flow', input_params: {} });
    expect(r.status).toBe(404);
    expect(r.body.detail).toMatch(/no_such_flow/);
    const off = await original.post('/api/v1/jobs', { workflow_id: 'compat_inactive', input_params: {} });
    expect(off.status).toBe(409);
    expect(off.body.detail).toMatch(/inactive/);
    // The same refusal on the product's own route.
    const own = await stack.api<Json>('POST', '/api/jobs', { workflow_id: 'compat_inactive', inputs: {} });
    expect(own.status).toBe(409);
  });

  it('GET /api/v1/workflows lists {workflow_id, name, version, description, is_active}', async () => {
    onTestFailed(() => void (failed = true));
    const r = await original.get('/api/v1/workflows');
    expect(r.status).toBe(200);
    const off = r.body.workflows.find((w: Json) => w.workflow_id === 'compat_inactive');
    expect(off).toEqual({
      workflow_id: 'compat_inactive',
      name: 'switched off',
      version: 1,
      description: null,
      is_active: false,
    });
    const one = await original.get('/api/v1/workflows/echo_test');
    expect(one.status).toBe(200);
    expect(one.body.is_active).toBe(true);
    expect((await original.get('/api/v1/workflows/nope')).status).toBe(404);
  });

  it('GET /api/v1/jobs/{id} → {job, nodes, node_summary} in the original shapes', async () => {
    onTestFailed(() => void (failed = true));
    const d = await original.waitFor(echoJob);
    expect(d.job.status).toBe('completed');
    expect(Object.keys(d.job)).toEqual(expect.arrayContaining(JOB_RESPONSE_KEYS));
    for (const n of d.nodes) expect(Object.keys(n)).toEqual(expect.arrayContaining(NODE_RESPONSE_KEYS));
    const echo = d.nodes.find((n: Json) => n.node_id === 'echo_handler');
    expect(echo).toMatchObject({ status: 'completed', retry_count: 0, job_id: echoJob });
    expect(echo.output.echoed_params).toEqual({ message: 'from the original client', count: 1 });
    expect(d.node_summary).toEqual({ completed: 3 });
  });

  it('GET /api/v1/jobs lists only pending and running jobs without ?status=, {jobs, total}', async () => {
    onTestFailed(() => void (failed = true));
    const active = await original.get('/api/v1/jobs');
    expect(active.status).toBe(200);
    expect(active.body.jobs.map((j: Json) => j.job_id)).not.toContain(echoJob);
    expect(active.body.total).toBe(active.body.jobs.length);
    const done = await original.get('/api/v1/jobs?status=completed&limit=1000');
    expect(done.body.jobs.map((j: Json) => j.job_id)).toContain(echoJob);
    expect((await original.get('/api/v1/jobs?limit=1001')).status).toBe(400);
  });

  it('timeline oldest first with event_count; node events newest first', async () => {
    onTestFailed(() => void (failed = true));
    const t = await original.get(`/api/v1/jobs/${echoJob}/timeline`);
    expect(t.status).toBe(200);
    expect(t.body.job_id).toBe(echoJob);
    expect(t.body.event_count).toBe(t.body.events.length);
    const ids = t.body.events.map((e: Json) => e.event_id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(t.body.events[0]).toMatchObject({ event_type: 'job_created', checkpoint_name: 'job_created' });
    const n = await original.get(`/api/v1/jobs/${echoJob}/nodes/echo_handler/events`);
    expect(n.status).toBe(200);
    const nIds = n.body.events.map((e: Json) => e.event_id);
    expect(nIds.length).toBeGreaterThan(1);
    expect(nIds).toEqual([...nIds].sort((a, b) => b - a));
    expect(n.body.events.every((e: Json) => e.node_id === 'echo_handler')).toBe(true);
    expect(n.body.events[0].event_type).toBe('node_completed');
    expect(n.body.events[0].checkpoint_name).toBe('node_completed_echo_handler');
    expect((await original.get(`/api/v1/jobs/nope/timeline`)).status).toBe(404);
    expect((await original.get(`/api/v1/jobs/${echoJob}/timeline?limit=1001`)).status).toBe(400);
  });

  it('POST /api/v1/jobs/{id}/cancel → the job; 400 for a job that ended; 404 for an unknown one', async () => {
    onTestFailed(() => void (failed = true));
    const r = await original.post('/api/v1/jobs', { workflow_id: 'compat_sleep', input_params: {} });
    expect(r.status).toBe(201);
    const id = r.body.job_id;
    await original.waitFor(id, ['running']);
    const c = await original.post(`/api/v1/jobs/${id}/cancel`);
    expect(c.status).toBe(200);
    expect(Object.keys(c.body)).toEqual(expect.arrayContaining(JOB_RESPONSE_KEYS));
    expect(c.body.job_id).toBe(id);
    const d = await original.waitFor(id);
    expect(d.job.status).toBe('cancelled');
    const again = await original.post(`/api/v1/jobs/${id}/cancel`);
    expect(again.status).toBe(400);
    expect(again.body.detail).toMatch(/cancelled/);
    expect((await original.post(`/api/v1/jobs/nope/cancel`)).status).toBe(404);
  });

  it('GET /api/v1/orchestrator/status and /api/v1/test/handlers answer in the original shapes', async () => {
    onTestFailed(() => void (failed = true));
    const s = await original.get('/api/v1/orchestrator/status');
    expect(s.status).toBe(200);
    expect(Object.keys(s.body)).toEqual(
      expect.arrayContaining(['status', 'started_at', 'uptime_seconds', 'poll_interval_seconds', 'metrics']),
    );
    expect(typeof s.body.metrics.active_jobs).toBe('number');
    const h = await original.get('/api/v1/test/handlers');
    expect(h.status).toBe(200);
    expect(h.body.testing_enabled).toBe(false);
    const off = await original.post('/api/handlers/echo/test', { params: {} });
    expect(off.status).toBe(403);
    expect(h.body.handlers.map((x: Json) => x.name)).toEqual(expect.arrayContaining(['echo', 'flaky_echo']));
  });
});

describe('the original gateway (/api/gateway, /api/status, /api/admin)', () => {
  it("POST /api/gateway/submit answers 202 with the gateway's fields (message_id, workflow_id, submitted_at, correlation_id)", async () => {
    onTestFailed(() => void (failed = true));
    const r = await original.post('/api/gateway/submit', {
      workflow_id: 'hello_world',
      input_params: {},
      correlation_id: 'gw-single',
      callback_url: 'https://example.com/hook',
      priority: 7,
    });
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ workflow_id: 'hello_world', correlation_id: 'gw-single' });
    expect(r.body.message_id).toBe(r.body.job_id);
    expect(Number.isNaN(Date.parse(r.body.submitted_at))).toBe(false);
    await original.waitFor(r.body.job_id);
  });

  it('batch submit: 1–100 jobs, a result per item, good and bad mixed, idempotent by key', async () => {
    onTestFailed(() => void (failed = true));
    const jobs = [
      {
        workflow_id: 'compat_echo',
        input_params: { message: 'b0' },
        idempotency_key: 'batch-0',
        correlation_id: 'batch-c0',
      },
      { workflow_id: 'nope_flow', input_params: {} },
      { workflow_id: 'compat_echo', input_params: { message: 5 } },
      { input_params: {} },
      { workflow_id: 'hello_world', input_params: {}, idempotency_key: 'batch-4', priority: 3 },
    ];
    const r = await original.post('/api/gateway/submit/batch', { jobs });
    expect(r.status).toBe(202);
    expect(r.body.submitted).toBe(2);
    expect(r.body.failed).toBe(3);
    expect(r.body.message_ids).toHaveLength(2);
    expect(r.body.results.map((x: Json) => x.status)).toEqual([
      'submitted',
      'failed',
      'failed',
      'failed',
      'submitted',
    ]);
    expect(r.body.results[1].error.code).toBe('NOT_FOUND');
    expect(r.body.results[2].error.code).toBe('VALIDATION');
    expect(r.body.results[3].error.message).toMatch(/workflow_id/);
    expect(r.body.errors.map((e: Json) => e.index)).toEqual([1, 2, 3]);
    const again = await original.post('/api/gateway/submit/batch', { jobs });
    expect(again.body.message_ids).toEqual(r.body.message_ids);
    expect(again.body.results[0].created).toBe(false);
    // Items without a key: idempotent through the request's Idempotency-Key header.
    const plain = {
      jobs: [{ workflow_id: 'hello_world' }, { workflow_id: 'hello_world', input_params: { message: 'b' } }],
    };
    const h1 = await stack.api<Json>('POST', '/api/gateway/submit/batch', plain, {
      'idempotency-key': 'batch-hdr-1',
    });
    const h2 = await stack.api<Json>('POST', '/api/gateway/submit/batch', plain, {
      'idempotency-key': 'batch-hdr-1',
    });
    expect(h1.body.submitted).toBe(2);
    expect(h2.body.message_ids).toEqual(h1.body.message_ids);
    expect(h2.body.results.map((x: Json) => x.created)).toEqual([false, false]);
    for (const id of h1.body.message_ids) await original.waitFor(id);
    expect((await original.post('/api/gateway/submit/batch', { jobs: [] })).status).toBe(400);
    const many = Array.from({ length: 101 }, () => ({ workflow_id: 'hello_world' }));
    expect((await original.post('/api/gateway/submit/batch', { jobs: many })).status).toBe(400);
    for (const id of r.body.message_ids) await original.waitFor(id);
  });

  it('status: stats by status and workflow, lookup by correlation id (400, 404), job nodes and events', async () => {
    onTestFailed(() => void (failed = true));
    const st = await original.get('/api/status/stats');
    expect(st.status).toBe(200);
    expect(st.body.job_counts_by_status.completed).toBeGreaterThanOrEqual(3);
    expect(st.body.job_counts_by_status.cancelled).toBeGreaterThanOrEqual(1);
    expect(st.body.job_counts_by_workflow.compat_echo.completed).toBeGreaterThanOrEqual(2);
    expect(st.body.total_jobs).toBe(
      Object.values(st.body.job_counts_by_status as Record<string, number>).reduce((a, b) => a + b, 0),
    );
    expect((await original.get('/api/status/lookup')).status).toBe(400);
    expect((await original.get('/api/status/lookup?correlation_id=never-used')).status).toBe(404);
    const l = await original.get('/api/status/lookup?correlation_id=batch-c0');
    expect(l.status).toBe(200);
    expect(l.body).toMatchObject({
      workflow_id: 'compat_echo',
      correlation_id: 'batch-c0',
      status: 'completed',
    });
    const sj = await original.get(`/api/status/job/${l.body.job_id}?include_nodes=true`);
    expect(sj.status).toBe(200);
    expect(sj.body).toMatchObject({ job_id: l.body.job_id, workflow_id: 'compat_echo', status: 'completed' });
    expect(sj.body.nodes).toHaveLength(3);
    expect((await original.get('/api/status/job/nope')).status).toBe(404);
    const sjs = await original.get('/api/status/jobs?workflow_id=compat_echo&limit=50');
    expect(sjs.status).toBe(200);
    expect(sjs.body.jobs.map((j: Json) => j.job_id)).toContain(l.body.job_id);
    const nodes = await original.get(`/api/status/job/${l.body.job_id}/nodes`);
    expect(nodes.status).toBe(200);
    expect(nodes.body.count).toBe(3);
    expect(nodes.body.nodes).toHaveLength(3);
    const onlyDone = await original.get(`/api/status/job/${l.body.job_id}/nodes?status=failed`);
    expect(onlyDone.body.count).toBe(0);
    const ev = await original.get(`/api/status/job/${l.body.job_id}/events?event_type=node_completed`);
    expect(ev.status).toBe(200);
    expect(ev.body.total).toBe(3);
    expect(ev.body.events.every((e: Json) => e.event_type === 'node_completed')).toBe(true);
    expect((await original.get('/api/status/job/nope/nodes')).status).toBe(404);
  });

  it('admin: recent events, running and failed nodes, active jobs, configuration without secrets', async () => {
    onTestFailed(() => void (failed = true));
    const running = await original.post('/api/v1/jobs', { workflow_id: 'compat_sleep', input_params: {} });
    const id = running.body.job_id;
    await original.waitFor(id, ['running']);
    for (;;) {
      const rn = await original.get('/api/admin/running-nodes');
      expect(rn.status).toBe(200);
      if (rn.body.nodes.some((n: Json) => n.job_id === id && n.node_id === 'nap')) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    const active = await original.get('/api/admin/active-jobs');
    expect(active.body.jobs.map((j: Json) => j.job_id)).toContain(id);
    const recent = await original.get('/api/admin/recent-events?limit=5');
    expect(recent.status).toBe(200);
    expect(recent.body.events).toHaveLength(5);
    const rIds = recent.body.events.map((e: Json) => e.event_id);
    expect(rIds).toEqual([...rIds].sort((a, b) => b - a));
    const typed = await original.get('/api/admin/recent-events?event_type=job_cancelled');
    expect(typed.body.events.length).toBeGreaterThanOrEqual(1);
    expect(typed.body.events.every((e: Json) => e.event_type === 'job_cancelled')).toBe(true);
    await original.post(`/api/v1/jobs/${id}/cancel`);
    await original.waitFor(id);

    const f = await original.post('/api/v1/jobs', {
      workflow_id: 'compat_fail',
      input_params: {},
    });
    expect(f.status).toBe(404); // written next, to see the catalog pick it up
    stack.writeWorkflow({
      workflow_id: 'compat_fail',
      name: 'fails',
      nodes: {
        start: { type: 'start', next: 'boom' },
        boom: {
          type: 'task',
          handler: 'fail',
          params: { error_message: 'on purpose' },
          retry: { max_attempts: 0 },
          next: 'end',
        },
        end: { type: 'end' },
      },
    });
    const f2 = await original.post('/api/v1/jobs', { workflow_id: 'compat_fail', input_params: {} });
    expect(f2.status).toBe(201);
    const d = await original.waitFor(f2.body.job_id);
    expect(d.job.status).toBe('failed');
    const failedNodes = await original.get(`/api/admin/failed-nodes?job_id=${f2.body.job_id}`);
    expect(failedNodes.body.nodes).toEqual([
      expect.objectContaining({
        node_id: 'boom',
        status: 'failed',
        error_message: expect.stringMatching(/on purpose/),
      }),
    ]);

    const orphans = await original.get('/api/admin/orphans?threshold_minutes=60');
    expect(orphans.status).toBe(200);
    expect(orphans.body).toMatchObject({ threshold_minutes: 60, orphans: [], count: 0 });
    expect((await original.get('/api/admin/orphans?threshold_minutes=0')).status).toBe(400);
    expect([200, 206]).toContain((await original.get('/api/gateway/health')).status);
    const lm = await original.get('/api/admin/layer-metadata');
    expect(lm.status).toBe(200);
    expect((await original.get(`/api/admin/layer-metadata/${'0'.repeat(32)}`)).status).toBe(404);

    const cfg = await original.get('/api/admin/config');
    expect(cfg.status).toBe(200);
    expect(cfg.body.config.DAG_DB_SCHEMA).toBe(stack.schema.schema);
    const text = JSON.stringify(cfg.body);
    expect(text).not.toMatch(/AccountKey=/);
    const password = new URL(stack.schema.url).password;
    if (password) expect(text).not.toContain(password);
    expect(cfg.body.config.AzureWebJobsStorage).toBe('(set, hidden)');
  });
});

describe('workflow files of the original', () => {
  it('{{ env.NAME }} reads DAG_NAME, else NAME, else null; a secret-looking name is refused at load', async () => {
    onTestFailed(() => void (failed = true));
    // The dev host runs in this process: the activities read this environment.
    process.env.DAG_COMPAT_BOTH = 'from DAG_';
    process.env.COMPAT_BOTH = 'plain';
    process.env.COMPAT_PLAIN = 'plain only';
    process.env.DAG_NOT_REFERENCED = 'never exposed';
    try {
      stack.writeWorkflow({
        workflow_id: 'compat_env',
        name: 'env',
        nodes: {
          start: { type: 'start', next: 'show' },
          show: {
            type: 'task',
            handler: 'echo',
            params: {
              both: '{{ env.COMPAT_BOTH }}',
              plain: '{{ env.COMPAT_PLAIN }}',
              missing: '{{ env.COMPAT_MISSING }}',
              mixed: 'x-{{ env.COMPAT_PLAIN }}',
            },
            next: 'end',
          },
          end: { type: 'end' },
        },
      });
      const r = await original.post('/api/v1/jobs', { workflow_id: 'compat_env', input_params: {} });
      expect(r.status).toBe(201);
      const d = await original.waitFor(r.body.job_id);
      expect(d.job.status).toBe('completed');
      expect(d.nodes.find((n: Json) => n.node_id === 'show').output.echoed_params).toEqual({
        both: 'from DAG_',
        plain: 'plain only',
        missing: null,
        mixed: 'x-plain only',
      });
    } finally {
      for (const k of ['DAG_COMPAT_BOTH', 'COMPAT_BOTH', 'COMPAT_PLAIN', 'DAG_NOT_REFERENCED'])
        delete process.env[k];
    }
    stack.writeWorkflow({
      workflow_id: 'compat_env_secret',
      name: 'reads a secret',
      nodes: {
        start: { type: 'start', next: 'show' },
        show: { type: 'task', handler: 'echo', params: { p: '{{ env.DB_PASSWORD }}' }, next: 'end' },
        end: { type: 'end' },
      },
    });
    let wf = await stack.api<Json>('GET', '/api/workflows/compat_env_secret');
    // The catalog rereads changed files at most once a second.
    while (wf.status === 404) {
      await new Promise((res) => setTimeout(res, 200));
      wf = await stack.api<Json>('GET', '/api/workflows/compat_env_secret');
    }
    expect(wf.body.valid).toBe(false);
    expect(wf.body.problems.map((p: Json) => p.message).join('\n')).toMatch(/env\.DB_PASSWORD.*secret/);
    const refused = await original.post('/api/v1/jobs', {
      workflow_id: 'compat_env_secret',
      input_params: {},
    });
    expect(refused.status).toBe(409);
  });

  it("retry: on a fan_out node sets its children's retry, and validate notes it as deprecated", async () => {
    onTestFailed(() => void (failed = true));
    const def = {
      workflow_id: 'compat_fan_retry',
      name: 'fan-out retry in the original place',
      nodes: {
        start: { type: 'start', next: 'split' },
        split: {
          type: 'fan_out',
          source: '{{ [1, 2] }}',
          retry: { max_attempts: 0 },
          task: { handler: 'flaky_echo', params: { failure_rate: 0, fail_first_attempts: 1 } },
          next: 'gather',
        },
        gather: { type: 'fan_in', next: 'end' },
        end: { type: 'end' },
      },
    };
    const file = stack.writeWorkflow(def);
    const out: string[] = [];
    const code = await runCli(['validate', file], { out: (x) => out.push(x), err: (x) => out.push(x) });
    expect(code).toBe(0);
    expect(out.join('\n')).toMatch(/warning:.*nodes\.split\.retry.*deprecated/);
    const r = await original.post('/api/v1/jobs', { workflow_id: 'compat_fan_retry', input_params: {} });
    expect(r.status).toBe(201);
    const d = await original.waitFor(r.body.job_id);
    // No retry for the children (max_attempts 0 from the node): the planned first failure ends them.
    expect(d.job.status).toBe('failed');
    const children = d.nodes.filter((n: Json) => n.parent_node_id === 'split');
    expect(children).toHaveLength(2);
    for (const c of children) expect(c).toMatchObject({ status: 'failed', retry_count: 0 });
    // Without it the children get the default retries, and the second attempt succeeds.
    const { retry: _r, ...split } = def.nodes.split;
    stack.writeWorkflow({ ...def, workflow_id: 'compat_fan_default', nodes: { ...def.nodes, split } });
    const r2 = await original.post('/api/v1/jobs', { workflow_id: 'compat_fan_default', input_params: {} });
    const d2 = await original.waitFor(r2.body.job_id);
    expect(d2.job.status).toBe('completed');
    for (const c of d2.nodes.filter((n: Json) => n.parent_node_id === 'split'))
      expect(c).toMatchObject({
        status: 'completed',
        retry_count: 1,
        output: expect.objectContaining({ retry_count: 1 }),
      });
  });
});

describe('health by name and the handler listing', () => {
  it('GET /api/health/{check}: a known check answers, an unknown name is 404 naming the checks', async () => {
    onTestFailed(() => void (failed = true));
    const pgCheck = await original.get('/api/health/postgres');
    expect(pgCheck.status).toBe(200);
    expect(pgCheck.body).toMatchObject({ name: 'postgres', status: 'healthy' });
    for (const name of ['handlers', 'connection_pool', 'workflows', 'recent_jobs']) {
      const r = await original.get(`/api/health/${name}`);
      expect([200, 206]).toContain(r.status);
      expect(r.body.name).toBe(name);
    }
    const blob = await original.get('/api/health/blob_storage');
    expect([200, 206]).toContain(blob.status);
    expect(blob.body.details.bronze).toMatchObject({ reachable: true });
    expect(blob.body.details.silver).toMatchObject({ container: 'silver-cogs' });
    const stac = await original.get('/api/health/stac');
    expect(stac.status).toBe(200);
    expect(stac.body.details).toMatchObject({ backend: 'tables', schema: stack.schema.stacSchema });
    const orch = await original.get('/api/status/orchestrations?minutes=60');
    expect(orch.status).toBe(200);
    expect(orch.body.instances.created_in_window.Completed).toBeGreaterThanOrEqual(3);
    expect(orch.body.jobs_ended_in_window.completed).toBeGreaterThanOrEqual(3);
    expect(orch.body.attempts_in_flight).toEqual(
      expect.objectContaining({ dispatched: expect.any(Number), running: expect.any(Number) }),
    );
    expect(Object.keys(orch.body.queues)).toContain(stack.env.DAG_RESULT_QUEUE);
    expect((await original.get('/api/status/orchestrations?minutes=0')).status).toBe(400);
    const h = await original.get('/api/health/handlers');
    expect(h.body.details.missing).toEqual([]);
    const unknown = await original.get('/api/health/nope');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.message).toMatch(/postgres/);
    const all = await original.get('/api/health');
    expect(Object.keys(all.body.checks)).toEqual(expect.arrayContaining(['connection_pool', 'handlers']));
  });

  it('GET /api/openapi.json: every registered route, bodies and queries from the zod schemas; /api/docs renders it', async () => {
    onTestFailed(() => void (failed = true));
    const r = await original.get('/api/openapi.json');
    expect(r.status).toBe(200);
    expect(r.body.openapi).toBe('3.1.0');
    const ops = Object.values(r.body.paths as Record<string, Record<string, Json>>).flatMap((p) =>
      Object.values(p),
    );
    const ids = ops.map((o) => o.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    // Every HTTP function the host runs is documented, and nothing else.
    const httpNames = [...stack.host.registrations.values()]
      .filter((x) => x.kind === 'http')
      .map((x) => x.name);
    expect(httpNames.length).toBeGreaterThan(60);
    expect([...ids].sort()).toEqual([...httpNames].sort());
    const submit = r.body.paths['/api/v1/jobs'].post;
    const body = submit.requestBody.content['application/json'].schema;
    expect(body.required).toEqual(['workflow_id']);
    expect(Object.keys(body.properties)).toEqual(
      expect.arrayContaining(['workflow_id', 'input_params', 'idempotency_key', 'correlation_id']),
    );
    expect(body.properties.workflow_id.maxLength).toBe(64);
    const list = r.body.paths['/api/v1/jobs'].get;
    expect(list.parameters.map((p: Json) => p.name)).toEqual(['status', 'limit']);
    expect(r.body.paths['/api/livez'].get.security).toEqual([]);
    expect(r.body.paths['/api/v1/jobs/{id}/nodes/{node}/events'].get.parameters.slice(0, 2)).toEqual([
      { name: 'id', in: 'path', required: true, schema: { type: 'string' } },
      { name: 'node', in: 'path', required: true, schema: { type: 'string' } },
    ]);
    const page = await fetch(`${stack.url}/api/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    const html = await page.text();
    expect(html).toContain('/api/v1/jobs/{id}/timeline');
    expect(html).not.toMatch(/<script/i);
  });

  it('GET /api/handlers: name, runners, queue, timeout and param schema of every handler', async () => {
    onTestFailed(() => void (failed = true));
    const r = await original.get('/api/handlers');
    expect(r.status).toBe(200);
    const byName = new Map<string, Json>(r.body.handlers.map((h: Json) => [h.name, h]));
    expect([...byName.keys()]).toEqual(
      expect.arrayContaining([
        'echo',
        'hello_world',
        'flaky_echo',
        'raster.validate',
        'raster.process_tile_batch',
      ]),
    );
    expect(byName.get('raster.validate')).toMatchObject({ runners: ['container'], queue: 'container-tasks' });
    expect(byName.get('sleep')!.param_schema.properties.duration_seconds).toBeDefined();
    expect(byName.get('echo')!.timeout_seconds).toBe(3600);
  });
});
