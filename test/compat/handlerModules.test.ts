// DAG_HANDLER_MODULES (issue 16): extra handler modules load into the Function App and the container
// worker at start; a module that cannot load, exports no handler, or registers a taken name is a
// clear error naming it. Local stack with an in-process container worker.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { startContainerWorker, type ContainerWorker } from '../../container-worker';
import { defaultRegistry } from '../../handlers/handlerRegistry';
import { startStack, type Stack, ROOT } from '../e2e/stack';
import { testLogger } from '../worker/support';

const EXTRA = path.join(ROOT, 'test', 'fixtures', 'compat', 'extraHandlers.cjs');
const DUPLICATE = path.join(ROOT, 'test', 'fixtures', 'compat', 'duplicateHandler.cjs');
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('DAG_HANDLER_MODULES when the registry is built', () => {
  it('registers the handlers of each module (a path, relative to the working directory, or absolute)', () => {
    const r = defaultRegistry({ DAG_HANDLER_MODULES: 'test/fixtures/compat/extraHandlers.cjs' });
    expect(r.names()).toEqual(expect.arrayContaining(['compat.shout', 'compat.whisper', 'echo']));
    expect(r.catalog().get('compat.whisper')).toMatchObject({
      runners: ['container'],
      defaultQueue: 'container-tasks',
    });
  });

  it('a module that cannot load, a duplicate name, a module without handlers: errors naming the module', () => {
    expect(() => defaultRegistry({ DAG_HANDLER_MODULES: './no/such/module.js' })).toThrow(
      /DAG_HANDLER_MODULES: module "\.\/no\/such\/module\.js" cannot be loaded/,
    );
    expect(() => defaultRegistry({ DAG_HANDLER_MODULES: 'no-such-package-4711' })).toThrow(
      /cannot be loaded/,
    );
    expect(() => defaultRegistry({ DAG_HANDLER_MODULES: DUPLICATE })).toThrow(
      /handler "echo" is already registered/,
    );
    expect(() => defaultRegistry({ DAG_HANDLER_MODULES: `${EXTRA},${EXTRA}` })).toThrow(
      /handler "compat.shout" is already registered/,
    );
    expect(() => defaultRegistry({ DAG_HANDLER_MODULES: 'node:path' })).toThrow(/exports no handler/);
  });
});

describe('DAG_HANDLER_MODULES on the local stack', () => {
  let stack: Stack;
  let worker: ContainerWorker;
  let failed = false;

  beforeAll(async () => {
    stack = await startStack({ env: { DAG_HANDLER_MODULES: EXTRA, DAG_ENABLE_HANDLER_TESTING: 'true' } });
    // The worker builds its registry from the same setting (the dev host put it in this environment).
    worker = await startContainerWorker({
      queues: ['container-tasks'],
      storageConnectionString: stack.azurite.connectionString,
      databaseUrl: stack.schema.url,
      schema: stack.schema.schema,
      pollIntervalMs: 100,
      logger: testLogger(),
    });
    stack.writeWorkflow({
      workflow_id: 'compat_modules',
      name: 'extra handlers',
      nodes: {
        start: { type: 'start', next: 'shout' },
        shout: { type: 'task', handler: 'compat.shout', params: { text: 'Hello' }, next: 'whisper' },
        whisper: { type: 'task', handler: 'compat.whisper', params: { text: 'Hello' }, next: 'end' },
        end: { type: 'end' },
      },
    });
  }, 120_000);

  afterAll(async () => {
    await worker?.stop();
    await stack?.stop(failed);
  });

  it('a workflow runs a module handler in the Function App and another in the container worker', async () => {
    onTestFailed(() => void (failed = true));
    const id = await stack.submit('compat_modules', {});
    const d = await stack.waitForJob(id);
    expect(d.job.status).toBe('completed');
    expect(d.nodes.find((n) => n.node_id === 'shout')!.output).toEqual({ shouted: 'HELLO', attempt: 0 });
    expect(d.nodes.find((n) => n.node_id === 'whisper')!.output).toEqual({ whispered: 'hello' });
    const h = await stack.api<Json>('GET', '/api/handlers');
    expect(h.body.handlers.map((x: Json) => x.name)).toEqual(
      expect.arrayContaining(['compat.shout', 'compat.whisper']),
    );
  });

  it('POST /api/handlers/{name}/test runs a handler through a one-task job and answers as the original', async () => {
    onTestFailed(() => void (failed = true));
    const a = await stack.api<Json>('POST', '/api/handlers/compat.shout/test', { params: { text: 'abc' } });
    expect(a.status).toBe(200);
    expect(a.body).toMatchObject({
      success: true,
      handler: 'compat.shout',
      output: { shouted: 'ABC', attempt: 0 },
      error_message: null,
    });
    expect(typeof a.body.duration_ms).toBe('number');
    const job = await stack.api<Json>('GET', `/api/jobs/${a.body.test_id}`);
    expect(job.body.job).toMatchObject({
      workflow_id: 'handler_test',
      submitted_by: 'handler-test',
      status: 'completed',
    });
    // A container handler goes through its queue and the worker.
    const c = await stack.api<Json>('POST', '/api/handlers/compat.whisper/test', { params: { text: 'ABC' } });
    expect(c.body).toMatchObject({ success: true, output: { whispered: 'abc' } });
    // Invalid params: the attempt fails with the handler's own message (no retry).
    const bad = await stack.api<Json>('POST', '/api/handlers/compat.shout/test', { params: { text: 5 } });
    expect(bad.status).toBe(200);
    expect(bad.body.success).toBe(false);
    expect(bad.body.error_message).toMatch(/Invalid params for handler "compat.shout"/);
    const unknown = await stack.api<Json>('POST', '/api/handlers/compat.shoot/test', { params: {} });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.message).toMatch(/did you mean "compat.shout"/);
  });
});

describe('a DAG_HANDLER_MODULES module that does not load', () => {
  it('the app answers every route with a JSON 500 and logs the reason, instead of crashing', async () => {
    const stack = await startStack({ env: { DAG_HANDLER_MODULES: './no/such/module.js' } });
    let ok = false;
    const writes: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      writes.push(String(chunk));
      return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof process.stderr.write;
    try {
      const r = await stack.api<Json>('GET', '/api/v1/jobs');
      expect(r.status).toBe(500);
      expect(r.body.error.code).toBe('INTERNAL');
      expect(writes.join('')).toMatch(
        /DAG_HANDLER_MODULES: module \S+no\/such\/module\.js\S+ cannot be loaded/,
      );
      ok = true;
    } finally {
      process.stderr.write = write;
      await stack.stop(!ok);
    }
  }, 120_000);
});
