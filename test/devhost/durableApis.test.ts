// Every supported Durable API of the sample app, run through the dev host (memory store, test mode:
// after each episode the host's pending task ids are checked against the SDK executor's open tasks).
import { describe, expect, it } from 'vitest';
import { EventType } from '../../devhost';
import { sampleState } from '../fixtures/devhost/sampleState';
import { count, useDevHost, waitFor } from './helpers';

const host = useDevHost();

describe('dev host: Durable orchestrations (memory store)', () => {
  it('runs a sequence of activities with replay', async () => {
    const id = await host().startNew('helloSequence');
    const s = await host().waitForCompletion(id);
    expect(s.runtimeStatus).toBe('Completed');
    expect(s.output).toEqual(['Hello Tokyo!', 'Hello Seattle!', 'Hello London!']);
    const h = await host().getHistory(id);
    expect(count(h, EventType.OrchestratorStarted)).toBe(4);
    expect(h.filter((e) => e.EventType === EventType.TaskScheduled).map((e) => e.EventId)).toEqual([0, 1, 2]);
  });

  it('fans out and in, with custom status', async () => {
    const id = await host().startNew('fanOut', { input: 50 });
    const s = await host().waitForCompletion(id);
    expect(s.output).toBe(Array.from({ length: 50 }, (_, i) => i * i).reduce((a, b) => a + b, 0));
    expect(s.customStatus).toEqual({ stage: 'fan-out', n: 50 });
    const h = await host().getHistory(id);
    expect(count(h, EventType.TaskScheduled)).toBe(50);
    expect(count(h, EventType.TaskCompleted)).toBe(50);
  });

  it('retries an activity with callActivityWithRetry (DTFx RetryInterceptor ids)', async () => {
    const id = await host().startNew('retry');
    const s = await host().waitForCompletion(id);
    expect(s.output).toBe('ok after 3 attempts');
    const h = await host().getHistory(id);
    // attempt 0, timer 1, attempt 2, timer 3, attempt 4
    expect(h.filter((e) => e.EventType === EventType.TaskScheduled).map((e) => e.EventId)).toEqual([0, 2, 4]);
    expect(h.filter((e) => e.EventType === EventType.TimerCreated).map((e) => e.EventId)).toEqual([1, 3]);
  });

  it('creates a retry timer even after the last failed attempt, then fails the task', async () => {
    const id = await host().startNew('retryExhausted');
    const s = await host().waitForCompletion(id);
    expect(s.output).toBe("Activity function 'boom' failed: kaboom ");
    const h = await host().getHistory(id);
    expect(count(h, EventType.TaskFailed)).toBe(3);
    const timers = h.filter((e) => e.EventType === EventType.TimerCreated);
    expect(timers.map((e) => e.EventId)).toEqual([1, 3, 5]);
  });

  it('surfaces activity failures to the orchestrator', async () => {
    const caught = await host().waitForCompletion(await host().startNew('caughtFailure'));
    expect(caught.output).toBe("Activity function 'boom' failed: kaboom");
    const uncaught = await host().waitForCompletion(await host().startNew('uncaughtFailure'));
    expect(uncaught.runtimeStatus).toBe('Failed');
    expect(String(uncaught.output)).toMatch(
      /^Orchestrator function 'uncaughtFailure' failed: Activity function 'boom' failed: kaboom/,
    );
  });

  it('fails the instance on an orchestrator exception ($OutOfProcData$ path) after applying its actions', async () => {
    const id = await host().startNew('failingOrchestrator');
    const s = await host().waitForCompletion(id);
    expect(s.runtimeStatus).toBe('Failed');
    expect(s.output).toBe("Orchestrator function 'failingOrchestrator' failed: orchestrator bug");
    const h = await host().getHistory(id);
    expect(h.at(-2)).toMatchObject({
      EventType: EventType.ExecutionCompleted,
      OrchestrationStatus: 'Failed',
    });
  });

  it('races a timer against an external event and cancels the timer', async () => {
    const id = await host().startNew('timerRace', { input: { timeoutMs: 60_000 } });
    await waitFor(async () => (await host().getStatus(id))?.runtimeStatus === 'Running', 5000, 'running');
    await host().raiseEvent(id, 'approve', { by: 'test' });
    const s = await host().waitForCompletion(id);
    expect(s.output).toEqual({ approved: { by: 'test' } });
  });

  it('fires durable timers', async () => {
    const id = await host().startNew('timerRace', { input: { timeoutMs: 50 } });
    const s = await host().waitForCompletion(id);
    expect(s.output).toEqual({ approved: null, timedOut: true });
    const h = await host().getHistory(id);
    expect(count(h, EventType.TimerFired)).toBe(1);
  });

  it('buffers external events that arrive before anyone waits (FIFO)', async () => {
    const id = await host().startNew('bufferedEvents');
    await host().raiseEvent(id, 'go', 1);
    await host().raiseEvent(id, 'go', 2);
    const s = await host().waitForCompletion(id);
    expect(s.output).toEqual([1, 2]);
  });

  it('runs sub-orchestrations (default and explicit ids, failure, retry)', async () => {
    const id = await host().startNew('parent', { instanceId: 'parent-1' });
    const s = await host().waitForCompletion(id);
    expect(s.runtimeStatus).toBe('Completed');
    expect(s.output).toMatchObject({
      a: { square: 9, parent: 'parent-1' },
      b: { square: 16, parent: 'parent-1' },
      c: 'ok after 3 attempts',
    });
    expect((s.output as { failed: string }).failed).toMatch(
      /^Orchestrator function 'failingChild' failed: child failed/,
    );
    const h = await host().getHistory(id);
    const created = h.filter((e) => e.EventType === EventType.SubOrchestrationInstanceCreated);
    const executionId = h[1]!.OrchestrationInstance!.ExecutionId;
    expect(created[0]!.InstanceId).toBe(`${executionId}:0`);
    expect(created[1]!.InstanceId).toBe('parent-1:explicit');
    expect((await host().getStatus('parent-1:explicit'))?.runtimeStatus).toBe('Completed');
  });

  it('continues as new with a fresh history', async () => {
    const id = await host().startNew('counter', { input: 0 });
    const s = await host().waitForCompletion(id);
    expect(s.output).toBe('counted to 3');
    expect(s.input).toBe(3);
    const h = await host().getHistory(id);
    expect(count(h, EventType.ExecutionStarted)).toBe(1);
    // A string input of continueAsNew reaches the next execution JSON-encoded once more, as on Azure
    // (durable-functions' Utils.processInput, then DTFx serializes the action's input).
    const str = await host().waitForCompletion(
      await host().startNew('continueWithString', { input: 'first' }),
    );
    expect(str.output).toBe('"second"');
  });

  it('publishes custom status while running', async () => {
    const id = await host().startNew('customStatus');
    await waitFor(async () => {
      const s = await host().getStatus(id);
      return (s?.customStatus as { stage?: string } | null)?.stage === 'two' ? s : undefined;
    });
    await host().raiseEvent(id, 'finish');
    expect((await host().waitForCompletion(id)).output).toBe('done');
  });

  it('terminates instances and rejects events for finished ones', async () => {
    const id = await host().startNew('waitForever');
    await waitFor(async () => (await host().getStatus(id))?.runtimeStatus === 'Running');
    await host().terminate(id, 'no longer needed');
    const s = await host().waitForCompletion(id);
    expect(s.runtimeStatus).toBe('Terminated');
    expect(s.output).toBe('no longer needed');
    await expect(host().raiseEvent(id, 'never')).rejects.toMatchObject({ code: 'gone' });
  });

  it('keeps orchestrator values replay-safe (newGuid, currentUtcDateTime)', async () => {
    const s = await host().waitForCompletion(await host().startNew('replaySafe'));
    const out = s.output as { same: boolean; startedAt: string; later: string };
    expect(out.same).toBe(true);
    expect(out.later >= out.startedAt).toBe(true);
  });

  it('passes inputs like the Durable extension (strings stay strings)', async () => {
    const s = await host().waitForCompletion(await host().startNew('inputs', { input: 'top' }));
    expect(s.output).toEqual({
      input: 'top',
      plain: { value: 'plain string', type: 'string' },
      jsonLike: { value: '{"a":1}', type: 'string' },
      num: { value: 42, type: 'number' },
      obj: { value: { nested: [1, 'two'] }, type: 'object' },
      viaChild: 'child string',
    });
  });

  it('detects non-deterministic orchestrators with a clear message', async () => {
    const state = sampleState();
    state.variant = 'a';
    const id = await host().startNew('nondeterministic');
    await waitFor(async () => {
      const h = await host().getHistory(id);
      return h.some((e) => e.EventType === EventType.TaskCompleted) ? true : undefined;
    });
    state.variant = 'b';
    try {
      await host().raiseEvent(id, 'go');
      const s = await host().waitForCompletion(id);
      expect(s.runtimeStatus).toBe('Failed');
      expect(s.output).toBe(
        "Orchestrator function 'nondeterministic' failed: Non-deterministic workflow detected: " +
          "expected TaskScheduled 'sayHello' (id 0) in history, the orchestrator scheduled 'square'",
      );
    } finally {
      state.variant = 'a';
    }
  });

  it.each([
    ['usesEntity', /Durable entities .* are not supported by the dev host/],
    ['usesCallHttp', /context\.df\.callHttp is not supported by the dev host/],
    ['retryTimeout', /retryTimeoutInMilliseconds \(1 ms\) elapsed.*#629/],
    [
      'callsUnknown',
      /The function 'doesNotExist' doesn't exist, is disabled, or is not an activity function/,
    ],
  ])('fails loudly for %s', async (name, message) => {
    const s = await host().waitForCompletion(await host().startNew(name));
    expect(s.runtimeStatus).toBe('Failed');
    expect(String(s.output)).toMatch(new RegExp(`^Orchestrator function '${name}' failed: `));
    expect(String(s.output)).toMatch(message);
  });
});

describe('dev host: instance management (memory store)', () => {
  it('validates starts: unknown orchestrator, duplicate running id, reuse of a finished id', async () => {
    await expect(host().startNew('sayHello')).rejects.toMatchObject({ code: 'bad-request' });
    await expect(host().startNew('nope')).rejects.toThrow(/The function 'nope' doesn't exist/);
    const id = await host().startNew('waitForever', { instanceId: 'dup-1' });
    await expect(host().startNew('waitForever', { instanceId: 'dup-1' })).rejects.toMatchObject({
      code: 'conflict',
    });
    await host().terminate(id, 'done');
    await host().waitForCompletion(id);
    await host().startNew('helloSequence', { instanceId: 'dup-1' });
    const s = await host().waitForCompletion('dup-1');
    expect(s).toMatchObject({ name: 'helloSequence', runtimeStatus: 'Completed' });
    await expect(host().startNew('helloSequence', { instanceId: 'bad/id' })).rejects.toMatchObject({
      code: 'bad-request',
    });
  });

  it('lists, filters and purges instances', async () => {
    const a = await host().startNew('helloSequence', { instanceId: 'list-a' });
    await host().waitForCompletion(a);
    const b = await host().startNew('waitForever', { instanceId: 'list-b' });
    await waitFor(async () => (await host().getStatus(b))?.runtimeStatus === 'Running');
    const running = await host().listInstances({ runtimeStatus: ['Running'], instanceIdPrefix: 'list-' });
    expect(running.map((s) => s.instanceId)).toEqual(['list-b']);
    const status = await host().getStatus(a, { showHistory: true, showHistoryOutput: true });
    expect(status?.historyEvents?.map((e) => e.EventType)).toEqual([
      'ExecutionStarted',
      'TaskCompleted',
      'TaskCompleted',
      'TaskCompleted',
      'ExecutionCompleted',
    ]);
    expect(status?.historyEvents?.[1]).toMatchObject({ FunctionName: 'sayHello', Result: 'Hello Tokyo!' });
    expect(await host().purge(a)).toBe(1);
    expect(await host().getStatus(a)).toBeUndefined();
    await host().terminate(b, 'cleanup');
  });

  it('runs app lifecycle hooks', () => {
    const state = sampleState();
    expect(state.appStarts).toBeGreaterThanOrEqual(1);
    expect(state.preInvocations).toBeGreaterThan(0);
  });
});
