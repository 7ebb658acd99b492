// executeHandler's stop rules: a timeout or an abort ends the attempt even when the handler ignores its
// signal (the handler is not waited for), an abort that came before the start ends it at once, and a
// handler that throws before returning a promise is an ordinary failure. No Postgres: the attempts
// never look for a checkpoint (mayHaveCheckpoint: false).
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { DbPool } from '../../db/createPool';
import { createLogger } from '../../handlers/createLogger';
import { executeHandler, type AttemptSpec } from '../../handlers/executeHandler';
import { loadHandlerConfig } from '../../handlers/handlerConfig';
import { HandlerRegistry } from '../../handlers/handlerRegistry';
import { handlerServices } from '../../handlers/handlerServices';

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
const pool = {} as DbPool;

function deps(run: (params: unknown, ctx: { signal: AbortSignal }) => unknown) {
  const registry = new HandlerRegistry().register({
    name: 'h',
    description: '',
    runners: ['activity'],
    defaultRunner: 'activity',
    params: z.object({}),
    run,
  } as never);
  return {
    pool,
    schema: 's',
    registry,
    log: { ...silent, child: () => ({ ...silent }) } as never,
    sourceApp: 't',
    services: handlerServices(pool, loadHandlerConfig({})),
  };
}

const spec = (timeoutMs: number): AttemptSpec => ({
  jobId: 'j',
  nodeId: 'n',
  taskId: 't',
  attempt: 0,
  handler: 'h',
  params: {},
  timeoutMs,
  timeoutSeconds: timeoutMs / 1000,
  runner: 'activity',
  mayHaveCheckpoint: false,
});

describe('executeHandler stops an attempt', () => {
  it('at its timeout, even when the handler ignores its signal', async () => {
    let sawAbort = false;
    const r = await executeHandler(
      deps((_p, ctx) => {
        ctx.signal.addEventListener('abort', () => (sawAbort = true));
        return new Promise(() => undefined); // never settles
      }),
      spec(50),
    );
    expect(r).toMatchObject({ ok: false, timedOut: true, retryable: true, aborted: false });
    expect(sawAbort).toBe(true);
  });

  it('at once when the runner aborted before it started (cancel, shutdown)', async () => {
    const external = new AbortController();
    external.abort(new Error('The Function App is shutting down'));
    const r = await executeHandler(
      deps(() => new Promise(() => undefined)),
      spec(60_000),
      external.signal,
    );
    expect(r).toMatchObject({ ok: false, aborted: true, error: 'The Function App is shutting down' });
  });

  it('when aborted while running', async () => {
    const external = new AbortController();
    setTimeout(() => external.abort(new Error('Job cancelled')), 20);
    const r = await executeHandler(
      deps(() => new Promise(() => undefined)),
      spec(60_000),
      external.signal,
    );
    expect(r).toMatchObject({ ok: false, aborted: true, error: 'Job cancelled' });
  });

  it('a handler that throws before returning a promise fails the attempt (retryable), it does not escape', async () => {
    const r = await executeHandler(
      deps(() => {
        throw new Error('bad input');
      }),
      spec(5000),
    );
    expect(r).toMatchObject({ ok: false, error: 'bad input', retryable: true, timedOut: false });
  });

  it('the handler does not run when the runner aborted before it started', async () => {
    const external = new AbortController();
    external.abort(new Error('The job was cancelled'));
    let ran = false;
    const r = await executeHandler(
      deps(() => {
        ran = true;
        return {};
      }),
      spec(60_000),
      external.signal,
    );
    expect(r).toMatchObject({ ok: false, aborted: true, error: 'The job was cancelled' });
    expect(ran).toBe(false);
  });

  it('a rejection with a value that is not JSON (circular) is a failure with a message, not a hang', async () => {
    const circular: Record<string, unknown> = { code: 7 };
    circular.self = circular;
    const r = await executeHandler(
      deps(() => Promise.reject(circular)),
      spec(5000),
    );
    expect(r).toMatchObject({ ok: false, timedOut: false, aborted: false, retryable: true });
    expect(r.ok ? '' : r.error).toMatch(/unknown error/);
  });

  it('an output that is not JSON (a BigInt) fails the attempt', async () => {
    const r = await executeHandler(
      deps(async () => ({ n: 1n })),
      spec(5000),
    );
    expect(r).toMatchObject({ ok: false, timedOut: false });
    expect(r.ok ? '' : r.error).toMatch(/BigInt/);
  });

  it('a synchronous result is the output; a result after the timeout is ignored', async () => {
    expect(
      await executeHandler(
        deps(() => ({ v: 2 })),
        spec(5000),
      ),
    ).toMatchObject({
      ok: true,
      output: { v: 2 },
    });
    const late = await executeHandler(
      deps(() => new Promise((res) => setTimeout(() => res({ v: 3 }), 80))),
      spec(20),
    );
    expect(late).toMatchObject({ ok: false, timedOut: true });
  });

  it('a result that arrives in time is the output', async () => {
    const r = await executeHandler(
      deps(async () => ({ v: 1 })),
      spec(5000),
    );
    expect(r).toMatchObject({ ok: true, output: { v: 1 } });
  });
});

describe("a handler's logger", () => {
  it("carries the attempt's ids (a fan-out child in an activity batch has no telemetry context of its own)", async () => {
    const lines: string[] = [];
    const log = createLogger({}, { LOG_FORMAT: 'json' }, (line) => lines.push(line));
    const d = {
      ...deps((_p, ctx) => {
        (ctx as unknown as { log: { info(m: string): void } }).log.info('child work');
        return { ok: true };
      }),
      log,
    };
    const r = await executeHandler(d, { ...spec(1000), nodeId: 'fan__7', taskId: 'j_fan__7_0', attempt: 2 });
    expect(r.ok).toBe(true);
    const line = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.message === 'child work');
    expect(line).toMatchObject({
      job_id: 'j',
      node_id: 'fan__7',
      task_id: 'j_fan__7_0',
      attempt: 2,
      handler: 'h',
      runner: 'activity',
    });
  });
});
