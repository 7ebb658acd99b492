// The HTTP API's details as a client meets them, on the dev host with a function key: ?code= on
// every route, 401 before 405, the documented error codes, 413 for oversized bodies (and the host
// stops reading them), forged cursors answer 400, ?parent= checks, list rows as summaries,
// idempotency conflicts that say which, a cancelled job that says why, queue warnings, and the
// Durable RPC listener closed to callers without its token.
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_BODY_BYTES } from '../../functions/http';
import { nodeOf, startStack, type Stack } from './stack';

const KEY = 'test-key-4711';
let stack: Stack;
let failed = false;
const H = { 'x-functions-key': KEY };
let jobId = '';
let fanJobId = '';

beforeAll(async () => {
  stack = await startStack({ apiKey: KEY, env: { DAG_WORKER_QUEUES: 'container-tasks' } });
  stack.writeWorkflow({
    workflow_id: 'api_fan',
    name: 'fan',
    inputs: { n: { type: 'integer', default: 3 } },
    nodes: {
      start: { type: 'start', next: 'fan' },
      fan: {
        type: 'fan_out',
        source: '{{ range(inputs.n) | list }}',
        max_parallel: 1,
        task: { handler: 'sleep', params: { duration_seconds: 30 } },
        next: 'gather',
      },
      gather: { type: 'fan_in', aggregation: 'collect', next: 'end' },
      end: { type: 'end' },
    },
  });
  stack.writeWorkflow({
    workflow_id: 'api_nobody',
    name: 'a queue nobody reads',
    nodes: {
      start: { type: 'start', next: 'work' },
      work: { type: 'task', handler: 'echo', queue: 'nobody-reads-this', next: 'end' },
      end: { type: 'end' },
    },
  });
  stack.writeWorkflow({
    workflow_id: 'api_nobody_quick',
    name: 'a queue nobody reads, a short timeout',
    nodes: {
      start: { type: 'start', next: 'work' },
      work: {
        type: 'task',
        handler: 'echo',
        queue: 'nobody-reads-this',
        timeout_seconds: 2,
        retry: { max_attempts: 0 },
        next: 'end',
      },
      end: { type: 'end' },
    },
  });
  const r = await stack.api<{ job_id: string }>(
    'POST',
    '/api/jobs',
    { workflow_id: 'hello_world', inputs: { message: 'x' }, idempotency_key: 'idem-1' },
    H,
  );
  jobId = r.body.job_id;
  const fan = await stack.api<{ job_id: string }>(
    'POST',
    '/api/jobs',
    { workflow_id: 'api_fan', inputs: { n: 1500 } },
    H,
  );
  fanJobId = fan.body.job_id;
  await stack.waitForJob(jobId);
}, 120_000);
afterAll(async () => {
  await stack?.stop(failed);
});

const guard =
  <T>(fn: () => Promise<T>) =>
  async () => {
    try {
      return await fn();
    } catch (e) {
      failed = true;
      throw e;
    }
  };

describe('the function key', () => {
  it(
    'is accepted as ?code= on every route the app registers, and required without it',
    guard(async () => {
      const routes = [...stack.host.registrations.values()].filter((r) => r.kind === 'http');
      expect(routes.length).toBeGreaterThan(10);
      let checked = 0;
      for (const r of routes) {
        const t = r.trigger as { route?: string; methods?: string[]; authLevel?: string };
        const route = (t.route ?? r.name)
          .replace('{id}', jobId)
          .replace('{workflowId}', 'hello_world')
          .replace(/\{[^}]+\}/g, 'x');
        const method = (t.methods ?? ['GET'])[0]!.toUpperCase();
        const url = `/api/${route}`;
        const withCode = await stack.api<{ error?: { message: string } }>(
          method,
          `${url}${url.includes('?') ? '&' : '?'}code=${KEY}`,
          method === 'POST' ? {} : undefined,
        );
        // The dashboard's routes are anonymous to the host and authenticated by the dashboard's own
        // login cookie (docs/dashboard.md): ?code= is no login there, so they may ask for one.
        const dashboard = route === 'ui' || route.startsWith('ui/');
        if (dashboard) expect(withCode.status, `${method} ${url}?code=`).toBeLessThan(500);
        else expect(withCode.status, `${method} ${url}?code=`).not.toBe(401);
        expect(JSON.stringify(withCode.body ?? ''), `${method} ${url}?code=`).not.toContain(
          'unknown field(s): code',
        );
        if ((t.authLevel ?? 'anonymous') !== 'anonymous') {
          const none = await stack.api<{ error: { code: string } }>(
            method,
            url,
            method === 'POST' ? {} : undefined,
          );
          expect(none.status, `${method} ${url} without a key`).toBe(401);
          expect(none.body.error.code).toBe('UNAUTHORIZED');
        }
        checked++;
      }
      expect(checked).toBe(routes.length);
    }),
  );

  it(
    'is checked before the method: no key and a wrong method is 401; with the key, 405 METHOD_NOT_ALLOWED',
    guard(async () => {
      const noKey = await stack.api<{ error: { code: string } }>('DELETE', `/api/jobs/${jobId}`);
      expect(noKey.status).toBe(401);
      const wrong = await stack.api<{ error: { code: string } }>(
        'DELETE',
        `/api/jobs/${jobId}`,
        undefined,
        H,
      );
      expect(wrong.status).toBe(405);
      expect(wrong.body.error.code).toBe('METHOD_NOT_ALLOWED');
      const missing = await stack.api<{ error: { code: string } }>('GET', '/api/no/such/route', undefined, H);
      expect(missing.status).toBe(404);
      expect(missing.body.error.code).toBe('NOT_FOUND');
    }),
  );
});

describe('request bodies', () => {
  it(
    'over 1 MiB answer 413 PAYLOAD_TOO_LARGE',
    guard(async () => {
      const big = JSON.stringify({
        workflow_id: 'hello_world',
        inputs: { message: 'x'.repeat(MAX_BODY_BYTES) },
      });
      const r = await stack.api<{ error: { code: string; message: string } }>('POST', '/api/jobs', big, H);
      expect(r.status).toBe(413);
      expect(r.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    }),
  );
});

describe('cursors and paging', () => {
  it.each([
    ['/api/jobs', { t: 'x', id: 'y' }],
    ['/api/jobs', { t: '2026-13-45T99:00:00Z', id: 'y' }],
    ['/api/status/jobs', { t: 'x', id: 'y' }],
    ['nodes', { i: 2147483648 }],
    ['nodes', { i: 1.5 }],
    ['events', { e: -1 }],
    ['events', { e: 1e300 }],
  ])('a forged cursor %s %j answers 400 naming next_cursor', async (where, value) =>
    guard(async () => {
      const cursor = Buffer.from(JSON.stringify(value)).toString('base64url');
      const route =
        where === 'nodes'
          ? `/api/jobs/${fanJobId}/nodes?parent=fan&cursor=${cursor}`
          : where === 'events'
            ? `/api/jobs/${jobId}/events?cursor=${cursor}`
            : `${where}?cursor=${cursor}`;
      const r = await stack.api<{ error: { code: string; message: string } }>('GET', route, undefined, H);
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe('VALIDATION');
      expect(r.body.error.message).toContain('next_cursor');
    })(),
  );

  it(
    'job lists are summaries: no inputs, no result (the detail has them)',
    guard(async () => {
      await stack.waitForJob(jobId);
      for (const route of ['/api/jobs?limit=5', '/api/status/jobs?limit=5']) {
        const r = await stack.api<{ jobs: Array<Record<string, unknown>> }>('GET', route, undefined, H);
        const row = r.body.jobs.find((j) => j.job_id === jobId)!;
        expect(row).toMatchObject({ job_id: jobId, workflow_id: 'hello_world', status: 'completed' });
        expect(row).not.toHaveProperty('result_data');
        expect(row).not.toHaveProperty('input_params');
      }
      const detail = await stack.api<{ job: { result_data: unknown } }>(
        'GET',
        `/api/jobs/${jobId}`,
        undefined,
        H,
      );
      expect(detail.body.job.result_data).toMatchObject({ hello: { message: 'x' } });
    }),
  );
});

describe('idempotency conflicts', () => {
  it(
    'say whether the key was used for another workflow or for other inputs',
    guard(async () => {
      const other = await stack.api<{ error: { message: string } }>(
        'POST',
        '/api/jobs',
        { workflow_id: 'echo_test', inputs: { message: 'x' }, idempotency_key: 'idem-1' },
        H,
      );
      expect(other.status).toBe(409);
      expect(other.body.error.message).toContain('of another workflow ("hello_world", not "echo_test")');
      const inputs = await stack.api<{ error: { message: string } }>(
        'POST',
        '/api/jobs',
        { workflow_id: 'hello_world', inputs: { message: 'y' }, idempotency_key: 'idem-1' },
        H,
      );
      expect(inputs.status).toBe(409);
      expect(inputs.body.error.message).toContain('with other inputs');
    }),
  );
});

describe('a cancelled fan-out', () => {
  it(
    'skips every node that had not run (children included, counted in job_cancelled), ends its running ones, and says why it ended',
    guard(async () => {
      for (let i = 0; i < 200; i++) {
        const n = await stack.api<{ nodes: Array<{ status: string }> }>(
          'GET',
          `/api/jobs/${fanJobId}/nodes?parent=fan&status=running&limit=5`,
          undefined,
          H,
        );
        if (n.status === 200 && n.body.nodes.length) break;
        await new Promise((res) => setTimeout(res, 100));
      }
      const c = await stack.api('POST', `/api/jobs/${fanJobId}/cancel`, { reason: 'operator test' }, H);
      expect(c.status).toBe(202);
      const d = await stack.waitForJob(fanJobId, 60_000);
      expect(d.job.status).toBe('cancelled');
      expect(d.job.error_message).toBe('The job was cancelled: operator test');
      expect(nodeOf(d, 'end')).toMatchObject({ status: 'skipped', skip_reason: 'job_cancelled' });
      expect(nodeOf(d, 'gather')).toMatchObject({ status: 'skipped', skip_reason: 'job_cancelled' });
      const pending = await stack.api<{ nodes: unknown[] }>(
        'GET',
        `/api/jobs/${fanJobId}/nodes?parent=fan&status=pending,ready&limit=10`,
        undefined,
        H,
      );
      expect(pending.body.nodes).toEqual([]);
      const skipped = await stack.api<{ nodes: Array<{ skip_reason: string }> }>(
        'GET',
        `/api/jobs/${fanJobId}/nodes?parent=fan&status=skipped&limit=5000`,
        undefined,
        H,
      );
      expect(skipped.body.nodes.length).toBeGreaterThan(1400);
      expect(new Set(skipped.body.nodes.map((n) => n.skip_reason))).toEqual(new Set(['job_cancelled']));
      const ev = await stack.api<{ events: Array<{ event_data: { skipped_children?: number } }> }>(
        'GET',
        `/api/jobs/${fanJobId}/events?type=job_cancelled`,
        undefined,
        H,
      );
      expect(ev.body.events[0]!.event_data.skipped_children).toBe(skipped.body.nodes.length);
    }),
    120_000,
  );

  it(
    '?parent= naming an unknown node is 404, a node that is not a fan_out is 400',
    guard(async () => {
      const unknown = await stack.api<{ error: { code: string } }>(
        'GET',
        `/api/jobs/${fanJobId}/nodes?parent=nope`,
        undefined,
        H,
      );
      expect(unknown.status).toBe(404);
      const notFan = await stack.api<{ error: { code: string; message: string } }>(
        'GET',
        `/api/jobs/${fanJobId}/nodes?parent=gather`,
        undefined,
        H,
      );
      expect(notFan.status).toBe(400);
      expect(notFan.body.error.message).toContain('only a fan_out node has children');
      const ok = await stack.api('GET', `/api/jobs/${fanJobId}/nodes?parent=fan&limit=1`, undefined, H);
      expect(ok.status).toBe(200);
    }),
  );
});

describe('a queue that no worker consumes', () => {
  it(
    'is a warning of the workflow and of its submission',
    guard(async () => {
      const wf = await stack.api<{ valid: boolean; warnings: Array<{ code: string; text: string }> }>(
        'GET',
        '/api/workflows/api_nobody',
        undefined,
        H,
      );
      expect(wf.body.valid).toBe(true);
      expect(wf.body.warnings[0]).toMatchObject({ code: 'unconsumed_queue' });
      expect(wf.body.warnings[0]!.text).toMatch(/warning: nodes\.work\.queue: queue "nobody-reads-this"/);
      const sub = await stack.api<{ warnings: string[] }>(
        'POST',
        '/api/jobs',
        { workflow_id: 'api_nobody' },
        H,
      );
      expect(sub.status).toBe(202);
      expect(sub.body.warnings[0]).toContain('queue "nobody-reads-this" is neither an activity queue');
      const hello = await stack.api<Record<string, unknown>>(
        'POST',
        '/api/jobs',
        { workflow_id: 'hello_world' },
        H,
      );
      expect(hello.body).not.toHaveProperty('warnings');
    }),
  );

  it(
    'times its task out with an error that names the queue and says no worker took the task',
    guard(async () => {
      const id = await stack.submit('api_nobody_quick');
      const d = await stack.waitForJob(id, 60_000);
      expect(d.job.status).toBe('failed');
      expect(nodeOf(d, 'work').error_message).toBe(
        'Task timed out after 2s: no worker took it from queue "nobody-reads-this" (is a container worker consuming that queue? see DAG_WORKER_QUEUES)',
      );
    }),
  );
});

describe("the Durable client's RPC listener", () => {
  it(
    'answers only under the token carried by the client binding',
    guard(async () => {
      const base = new URL(stack.host.rpcBaseUrl);
      const get = (p: string) =>
        new Promise<number>((resolve, reject) => {
          http
            .get({ host: base.hostname, port: base.port, path: p }, (res) => {
              res.resume();
              resolve(res.statusCode!);
            })
            .on('error', reject);
        });
      expect(await get('/durabletask/instances/')).toBe(404);
      expect(await get(`/durabletask/instances/${jobId}`)).toBe(404);
      expect(await get(`${base.pathname}instances/${jobId}`)).toBe(200);
    }),
  );
});
