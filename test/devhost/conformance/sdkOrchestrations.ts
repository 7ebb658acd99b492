// The durable-functions SDK's own test orchestrations (Azure/azure-functions-durable-js,
// test/testobjects/TestOrchestrations.ts, the createOrchestrator version), written again here as
// durable-functions v3 / programming model v4 handlers. Only the timings are parameters: the spec
// replay (specReplay.test.ts) uses the SDK's values, the end-to-end run (endToEnd.test.ts) shorter
// ones. Registered by conformanceApp.ts; importing this module registers nothing.
import * as df from 'durable-functions';
import type { OrchestrationContext, OrchestrationHandler, Task } from 'durable-functions';

export interface Timings {
  /** SayHelloWithActivityRetry*, SayHelloWithSubOrchestratorRetry: RetryOptions(10000, 2). */
  retryMs: number;
  /** The *RetryFanout orchestrations: RetryOptions(100, 5). */
  fanoutRetryMs: number;
  /** TimerActivityRace: a 1 s timer. */
  raceTimerMs: number;
  /** AnyWithTaskSet: a 300 s timeout. */
  taskSetTimeoutMs: number;
}

export const sdkTimings: Timings = {
  retryMs: 10_000,
  fanoutRetryMs: 100,
  raceTimerMs: 1000,
  taskSetTimeoutMs: 300_000,
};

type Ctx = OrchestrationContext;
const at = (ctx: Ctx, ms: number) => new Date(ctx.df.currentUtcDateTime.getTime() + ms);

export function sdkTestOrchestrations(t: Timings): Record<string, OrchestrationHandler> {
  const o: Record<string, OrchestrationHandler> = {};

  // eslint-disable-next-line require-yield
  o.NotGenerator = function* () {
    return 'Hello';
  };

  o.AnyAOrB = function* (ctx: Ctx) {
    const inOrder = ctx.df.getInput();
    const tasks = [ctx.df.callActivity('TaskA', inOrder), ctx.df.callActivity('TaskB', inOrder)];
    const winner = (yield ctx.df.Task.any(tasks)) as Task;
    return winner.result;
  };

  o.AnyAOrBYieldATwice = function* (ctx: Ctx) {
    const inOrder = ctx.df.getInput();
    const tasks = [ctx.df.callActivity('TaskA', inOrder), ctx.df.callActivity('TaskB', inOrder)];
    const winner = (yield ctx.df.Task.any(tasks)) as Task;
    yield tasks[0]!;
    return winner.result;
  };

  o.TimerActivityRace = function* (ctx: Ctx) {
    const timer = ctx.df.createTimer(at(ctx, t.raceTimerMs));
    const work = ctx.df.callActivity('TaskA');
    const winner = yield ctx.df.Task.any([timer, work]);
    if (winner === work) yield ctx.df.callActivity('TaskB');
    else if (winner === timer) return 'Timer finished';
    else throw new Error("context.df.Task.any() didn't return a task");
    return work.result;
  };

  o.AnyWithTaskSet = function* (ctx: Ctx) {
    const timeout = ctx.df.createTimer(at(ctx, t.taskSetTimeoutMs));
    const both = ctx.df.Task.all([
      ctx.df.waitForExternalEvent('firstRequiredEvent'),
      ctx.df.waitForExternalEvent('secondRequiredEvent'),
    ]);
    const winner = yield ctx.df.Task.any([both, timeout]);
    if (winner === timeout) return ['timeout'];
    const hello: unknown = yield ctx.df.callActivity('Hello', 'Tokyo');
    timeout.cancel();
    return [hello];
  };

  o.CallActivityNoInput = function* (ctx: Ctx) {
    return yield ctx.df.callActivity('ReturnsFour');
  };

  // The SDK's version continues forever; `max` (absent in the spec) lets the end-to-end run stop.
  // eslint-disable-next-line require-yield
  o.ContinueAsNewCounter = function* (ctx: Ctx) {
    const input = ctx.df.getInput() as { value?: number; max?: number } | undefined;
    const value = (input?.value ?? 0) + 1;
    if (input?.max === undefined || value < input.max) ctx.df.continueAsNew({ ...input, value });
    return value;
  };

  o.FanOutFanInDiskUsage = function* (ctx: Ctx) {
    const files = (yield ctx.df.callActivity('GetFileList', ctx.df.getInput())) as string[];
    const sizes = (yield ctx.df.Task.all(
      files.map((f) => ctx.df.callActivity('GetFileSize', f)),
    )) as number[];
    return sizes.reduce((a, b) => a + b, 0);
  };

  o.TaskAllWithNoChildren = function* (ctx: Ctx) {
    return yield ctx.df.Task.all([]);
  };

  o.TaskAnyWithNoChildren = function* (ctx: Ctx) {
    return yield ctx.df.Task.any([]);
  };

  // eslint-disable-next-line require-yield
  o.GuidGenerator = function* (ctx: Ctx) {
    return [0, 1, 2].map(() => ctx.df.newGuid(ctx.df.instanceId));
  };

  // eslint-disable-next-line require-yield
  o.PassThrough = function* (ctx: Ctx) {
    return ctx.df.getInput();
  };

  // eslint-disable-next-line require-yield
  o.SayHelloInline = function* (ctx: Ctx) {
    return `Hello, ${String(ctx.df.getInput())}!`;
  };

  // Yields a value that is not a Task: the SDK reports a programming error.
  o.SayHelloInlineInproperYield = function* (ctx: Ctx) {
    const input: unknown = yield ctx.df.getInput() as unknown as Task;
    return `Hello, ${String(input)}!`;
  };

  o.SayHelloWithActivity = function* (ctx: Ctx) {
    return yield ctx.df.callActivity('Hello', ctx.df.getInput());
  };

  o.SayHelloWithActivityYieldTwice = function* (ctx: Ctx) {
    const task = ctx.df.callActivity('Hello', ctx.df.getInput());
    yield task;
    yield task;
    return yield task;
  };

  // eslint-disable-next-line require-yield
  o.SayHelloWithActivityDirectReturn = function* (ctx: Ctx) {
    return ctx.df.callActivity('Hello', ctx.df.getInput());
  };

  o.SayHelloWithActivityRetry = function* (ctx: Ctx) {
    return yield ctx.df.callActivityWithRetry('Hello', new df.RetryOptions(t.retryMs, 2), ctx.df.getInput());
  };

  o.SayHelloWithActivityRetryAndReturnTimestamps = function* (ctx: Ctx) {
    const timestamps = [ctx.df.currentUtcDateTime];
    try {
      yield ctx.df.callActivityWithRetry('Hello', new df.RetryOptions(t.retryMs, 2), ctx.df.getInput());
    } catch {
      // ignored, as in the SDK's version
    }
    timestamps.push(ctx.df.currentUtcDateTime);
    return timestamps;
  };

  o.SayHelloWithActivityRetryFanout = function* (ctx: Ctx) {
    const retry = new df.RetryOptions(t.fanoutRetryMs, 5);
    return yield ctx.df.Task.all([
      ctx.df.callActivityWithRetry('Hello', retry, 'Tokyo'),
      ctx.df.callActivityWithRetry('Hello', retry, 'Seattle'),
    ]);
  };

  o.SayHelloWithActivityRetryNoOptions = function* (ctx: Ctx) {
    return yield ctx.df.callActivityWithRetry('Hello', undefined as unknown as df.RetryOptions, 'World');
  };

  o.SayHelloWithCustomStatus = function* (ctx: Ctx) {
    const out: unknown[] = [];
    for (const city of ['Tokyo', 'Seattle', 'London']) {
      out.push(yield ctx.df.callActivity('Hello', city));
      ctx.df.setCustomStatus(city);
    }
    return out;
  };

  o.SayHelloWithSubOrchestrator = function* (ctx: Ctx) {
    const childId = `${ctx.df.instanceId}:0`;
    return yield ctx.df.callSubOrchestrator('SayHelloWithActivity', ctx.df.getInput(), childId);
  };

  o.SayHelloWithSubOrchestratorNoSubId = function* (ctx: Ctx) {
    return yield ctx.df.callSubOrchestrator('SayHelloWithActivity', ctx.df.getInput());
  };

  o.MultipleSubOrchestratorNoSubId = function* (ctx: Ctx) {
    const input = String(ctx.df.getInput());
    const names = ['SayHelloWithActivity', 'SayHelloInline', 'SayHelloWithActivity', 'SayHelloInline'];
    return yield ctx.df.Task.all(names.map((n, i) => ctx.df.callSubOrchestrator(n, `${input}_${n}_${i}`)));
  };

  o.SayHelloWithSubOrchestratorRetry = function* (ctx: Ctx) {
    const childId = `${ctx.df.instanceId}:0`;
    const retry = new df.RetryOptions(t.retryMs, 2);
    return yield ctx.df.callSubOrchestratorWithRetry('SayHelloInline', retry, ctx.df.getInput(), childId);
  };

  o.SayHelloWithSubOrchestratorRetryFanout = function* (ctx: Ctx) {
    const retry = new df.RetryOptions(t.fanoutRetryMs, 5);
    return yield ctx.df.Task.all([
      ctx.df.callSubOrchestratorWithRetry('SayHelloInline', retry, 'Tokyo'),
      ctx.df.callSubOrchestratorWithRetry('SayHelloInline', retry, 'Seattle'),
    ]);
  };

  o.SayHelloWithSubOrchestratorRetryNoOptions = function* (ctx: Ctx) {
    const childId = `${ctx.df.instanceId}:0`;
    const none = undefined as unknown as df.RetryOptions;
    return yield ctx.df.callSubOrchestratorWithRetry('SayHelloInline', none, 'World', childId);
  };

  o.SayHelloSequence = function* (ctx: Ctx) {
    const out: unknown[] = [];
    for (const city of ['Tokyo', 'Seattle', 'London']) out.push(yield ctx.df.callActivity('Hello', city));
    return out;
  };

  // Not enough OrchestratorStarted events for every replayed await (the SDK's regression test).
  o.TimestampExhaustion = function* (ctx: Ctx) {
    const payload = ctx.df.getInput() as { delayMergeUntilSecs?: number };
    yield ctx.df.callActivity('Merge');
    if (payload.delayMergeUntilSecs) yield ctx.df.createTimer(at(ctx, payload.delayMergeUntilSecs * 1000));
    for (let x = 0; x < 10; x++) {
      const result = (yield ctx.df.callActivity('CheckIfMerged')) as { output: boolean };
      if (result.output) return 'Merge successful';
      yield ctx.df.waitForExternalEvent('CheckPrForMerge');
    }
    return undefined;
  };

  o.WaitForExternalEvent = function* (ctx: Ctx) {
    const name: unknown = yield ctx.df.waitForExternalEvent('start');
    return yield ctx.df.callActivity('Hello', name);
  };

  // The SDK's test passes a Date; through JSON it arrives as a string.
  o.WaitOnTimer = function* (ctx: Ctx) {
    yield ctx.df.createTimer(new Date(ctx.df.getInput() as string));
    return 'Timer fired!';
  };

  o.ThrowsExceptionFromActivity = function* (ctx: Ctx) {
    yield ctx.df.callActivity('ThrowsErrorActivity');
  };

  o.ThrowsExceptionFromActivityWithCatch = function* (ctx: Ctx) {
    try {
      yield ctx.df.callActivity('ThrowsErrorActivity');
    } catch {
      return yield ctx.df.callActivity('Hello', ctx.df.getInput());
    }
  };

  // eslint-disable-next-line require-yield
  o.ThrowsExceptionInline = function* () {
    throw new Error('Exception from Orchestrator');
  };

  // Out of scope for the dev host (entities, callHttp, locks): these must fail loudly there.
  o.CallEntitySet = function* (ctx: Ctx) {
    yield ctx.df.callEntity(ctx.df.getInput() as df.EntityId, 'set', 'testString');
    return 'OK';
  };

  o.SendHttpRequest = function* (ctx: Ctx) {
    const req = ctx.df.getInput() as { method: string; uri: string };
    return yield ctx.df.callHttp({ method: req.method, url: req.uri });
  };

  return o;
}
