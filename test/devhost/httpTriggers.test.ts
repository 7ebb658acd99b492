// HTTP triggers and the Durable management API over real HTTP: route templates, methods, function
// keys, the durable client inside HTTP functions (startNew, createCheckStatusResponse, getStatus,
// raiseEvent, terminate, purge, getStatusAll, waitForCompletionOrCreateCheckStatusResponse).
import { describe, expect, it } from 'vitest';
import { useDevHost, waitFor } from './helpers';

const key = 'test-key-123';
const host = useDevHost({ apiKey: key });
const api = (p: string) => `${host().url}/api/${p}`;

async function json(res: Response): Promise<unknown> {
  const text = await res.text();
  return text ? JSON.parse(text) : undefined;
}

describe('dev host: HTTP triggers', () => {
  it('binds to 127.0.0.1 and routes templates by precedence', async () => {
    expect(host().url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await (await fetch(api('jobs'))).text()).toBe('list');
    expect(await (await fetch(api('jobs/42'))).text()).toBe('job 42');
    expect(await (await fetch(api('jobs/special'))).text()).toBe('special');
    expect(await (await fetch(api('jobs/other'))).text()).toBe('named other');
    expect(await (await fetch(api('files/a/b%20c.txt'))).text()).toBe('path=a/b c.txt');
    expect((await fetch(api('no/such/route'))).status).toBe(404);
    expect((await fetch(api('jobs'), { method: 'DELETE' })).status).toBe(405);
  });

  it('enforces function keys on non-anonymous functions', async () => {
    expect((await fetch(api('hello/world'))).status).toBe(401);
    expect((await fetch(api('hello/world'), { headers: { 'x-functions-key': 'wrong' } })).status).toBe(401);
    const ok = await fetch(api('hello/world?q=1'), { headers: { 'x-functions-key': key } });
    expect(ok.status).toBe(200);
    expect(await json(ok)).toEqual({ hello: 'world', q: '1' });
    expect((await fetch(api(`hello/world?code=${key}`))).status).toBe(200);
    // {name:alpha} rejects digits
    expect((await fetch(api(`hello/w0rld?code=${key}`))).status).toBe(404);
  });

  it('passes bodies, headers and cookies through the @azure/functions invocation model', async () => {
    const res = await fetch(api('echo'), { method: 'PUT', body: 'payload', headers: { 'x-test': 'yes' } });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-reply')).toBe('yes');
    expect(res.headers.get('set-cookie')).toBe('session=abc; Path=/; HttpOnly');
    expect(await json(res)).toEqual({ method: 'PUT', body: 'payload', header: 'yes' });
  });

  it('answers 500 when a function throws, 204 when it returns nothing, and keeps serving', async () => {
    expect((await fetch(api('throws'))).status).toBe(500);
    expect((await fetch(api('nothing'))).status).toBe(204);
    expect((await fetch(api('jobs'))).status).toBe(200);
  });
});

describe('dev host: durable client over HTTP', () => {
  it('starts an orchestration and follows createCheckStatusResponse links', async () => {
    const res = await fetch(api('orchestrators/helloSequence/http-hello'), { method: 'POST' });
    expect(res.status).toBe(202);
    const payload = (await json(res)) as Record<string, string>;
    expect(payload.id).toBe('http-hello');
    expect(res.headers.get('location')).toBe(payload.statusQueryGetUri);
    expect(payload.statusQueryGetUri).toContain(
      `${host().url}/runtime/webhooks/durabletask/instances/http-hello?`,
    );
    expect(payload.statusQueryGetUri).toContain(`code=${key}`);
    await host().waitForCompletion('http-hello');
    const status = await fetch(payload.statusQueryGetUri!);
    expect(status.status).toBe(200);
    expect(await json(status)).toMatchObject({
      name: 'helloSequence',
      instanceId: 'http-hello',
      runtimeStatus: 'Completed',
      output: ['Hello Tokyo!', 'Hello Seattle!', 'Hello London!'],
    });
    // The webhooks need the key.
    const noKey = payload.statusQueryGetUri!.replace(/&code=[^&]*/, '');
    expect((await fetch(noKey)).status).toBe(401);
  });

  it('raises events, reads status with history, lists, terminates and purges through the client', async () => {
    await fetch(api('orchestrators/timerRace/http-race'), {
      method: 'POST',
      body: JSON.stringify({ timeoutMs: 60_000 }),
    });
    await waitFor(async () => (await host().getStatus('http-race'))?.runtimeStatus === 'Running');
    const raised = await fetch(api('raise/http-race/approve'), {
      method: 'POST',
      body: JSON.stringify({ ok: 1 }),
    });
    expect(raised.status).toBe(202);
    await host().waitForCompletion('http-race');
    const st = (await json(await fetch(api('status/http-race')))) as { output: unknown; history?: unknown };
    expect(st.output).toEqual({ approved: { ok: 1 } });
    // The extension returns `historyEvents`; durable-functions reads `history` (durable-js #620).
    expect(st.history).toBeUndefined();
    const raw = await fetch(
      `${host().rpcBaseUrl}instances/http-race?showHistory=true&showHistoryOutput=true`,
    );
    const events = ((await json(raw)) as { historyEvents: { EventType: string; Input?: unknown }[] })
      .historyEvents;
    // Inputs in the history are the raw JSON text, as the extension shows them.
    expect(events.find((e) => e.EventType === 'EventRaised')).toMatchObject({ Input: '{"ok":1}' });

    await fetch(api('orchestrators/waitForever/http-forever'), { method: 'POST' });
    await waitFor(async () => (await host().getStatus('http-forever'))?.runtimeStatus === 'Running');
    const list = (await json(await fetch(api('instances')))) as { instanceId: string }[];
    expect(list.map((s) => s.instanceId)).toEqual(
      expect.arrayContaining(['http-hello', 'http-race', 'http-forever']),
    );
    expect((await fetch(api('terminate/http-forever'), { method: 'POST' })).status).toBe(202);
    expect((await host().waitForCompletion('http-forever')).output).toBe('stopped by test');
    const purged = await json(await fetch(api('purge/http-forever'), { method: 'DELETE' }));
    expect(purged).toMatchObject({ instancesDeleted: 1 });
    expect(await host().getStatus('http-forever')).toBeUndefined();
  });

  it('waits for completion in an HTTP function (client-side polling)', async () => {
    const res = await fetch(api('run/fanOut'), { method: 'POST', body: '10' });
    expect(res.status).toBe(200);
    expect(await json(res)).toBe(285);
  });

  it('filters and purges by query, and builds management payloads, through the client', async () => {
    for (const id of ['misc-1', 'misc-2']) await host().startNew('helloSequence', { instanceId: id });
    for (const id of ['misc-1', 'misc-2']) await host().waitForCompletion(id);
    await host().startNew('waitForever', { instanceId: 'misc-term' });
    await waitFor(async () => (await host().getStatus('misc-term'))?.runtimeStatus === 'Running');
    await host().terminate('misc-term', 'x');
    await host().waitForCompletion('misc-term');
    const res = await fetch(api('client-misc/misc-'), { method: 'POST' });
    const body = (await json(res)) as { mine: string[]; payload: Record<string, string>; purged: number };
    expect(body.mine).toEqual(['misc-1', 'misc-2']);
    expect(body.payload.id).toBe('misc-1');
    expect(body.payload.terminatePostUri).toContain(
      '/runtime/webhooks/durabletask/instances/misc-1/terminate',
    );
    expect(body.purged).toBeGreaterThanOrEqual(1);
    expect(await host().getStatus('misc-term')).toBeUndefined();
  });

  it('answers 501 for unsupported management operations (rewind)', async () => {
    await host().startNew('helloSequence', { instanceId: 'http-rewind' });
    await host().waitForCompletion('http-rewind');
    const res = await fetch(api('rewind/http-rewind'), { method: 'POST' });
    expect(res.status).toBe(500); // the function's client.rewind() threw
    const direct = await fetch(`${host().rpcBaseUrl}instances/http-rewind/rewind?reason=x`, {
      method: 'POST',
    });
    expect(direct.status).toBe(501);
    expect(await direct.text()).toBe("The dev host does not support rewind (instance 'http-rewind').");
  });

  it('serves the management API directly (webhooks with key, local RPC listener without)', async () => {
    const hook = `${host().url}/runtime/webhooks/durabletask`;
    const start = await fetch(`${hook}/orchestrators/fanOut/mgmt-1?code=${key}`, {
      method: 'POST',
      body: '3',
    });
    expect(start.status).toBe(202);
    await host().waitForCompletion('mgmt-1');
    const s = await fetch(`${host().rpcBaseUrl}instances/mgmt-1`);
    expect(await json(s)).toMatchObject({ runtimeStatus: 'Completed', output: 5 });
    expect((await fetch(`${host().rpcBaseUrl}instances/missing`)).status).toBe(404);
    const bad = await fetch(`${host().rpcBaseUrl}orchestrators/fanOut`, {
      method: 'POST',
      body: '{not json',
    });
    expect(bad.status).toBe(400);
    const unknown = await fetch(`${host().rpcBaseUrl}orchestrators/nope`, { method: 'POST' });
    expect(unknown.status).toBe(400);
    const wait = await fetch(`${hook}/orchestrators/fanOut?timeout=10&pollingInterval=1&code=${key}`, {
      method: 'POST',
      body: '4',
    });
    expect(wait.status).toBe(200);
    expect(await json(wait)).toBe(14);
    const page = await fetch(`${host().rpcBaseUrl}instances?runtimeStatus=Completed&top=2`);
    expect(page.headers.get('x-ms-continuation-token')).toBeTruthy();
    expect(((await json(page)) as unknown[]).length).toBe(2);
  });
});
