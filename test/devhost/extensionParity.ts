// The ten places where an audit found the dev host behaving differently from the Durable extension
// and DTFx (issue 15), each pinned by a test of what Azure does, with the source it follows. Run on
// the memory store (extensionParity.test.ts) and the Postgres store (extensionParityPostgres.test.ts).
// Fixture: test/fixtures/devhost/parityApp.ts.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger, EventType, type DevHost, type HistoryEvent, type Logger } from '../../devhost';
import { parityState } from '../fixtures/devhost/parityState';
import { fixtures, waitFor } from './helpers';

export const parityApp = path.join(fixtures, 'parityApp.ts');

/** A logger that keeps the host's warnings for the assertions. */
export function captureLogger(lines: string[]): Logger {
  return createLogger({ level: 'warn', format: 'json', write: (line) => lines.push(line) });
}

export function defineParityTests(host: () => DevHost, logLines: string[]): void {
  const ofType = (h: HistoryEvent[], type: number) => h.filter((e) => e.EventType === type);
  const indexOf = (h: HistoryEvent[], f: (e: HistoryEvent) => boolean) => h.findIndex(f);
  const running = (id: string) =>
    waitFor(async () => (await host().getStatus(id))?.runtimeStatus === 'Running', 10_000, `${id} running`);
  const rpc = (route: string, init?: RequestInit) => fetch(`${host().rpcBaseUrl}${route}`, init);

  describe('1. an instance completes only when no task is open (TaskOrchestrationExecutor: !HasOpenTasks)', () => {
    it('waits for a Task.any loser, and reports it in test mode', async () => {
      const id = await host().startNew('anyLoser', { instanceId: 'open-any' });
      // The fast activity (id 0) wins; the orchestrator returns while the slow one (id 1) runs.
      await waitFor(async () =>
        ofType(await host().getHistory(id), EventType.TaskCompleted).some((e) => e.TaskScheduledId === 0),
      );
      expect((await host().getStatus(id))?.runtimeStatus).toBe('Running');
      const s = await host().waitForCompletion(id);
      expect(s).toMatchObject({ runtimeStatus: 'Completed', output: 'fast' });
      const h = await host().getHistory(id);
      const slowDone = indexOf(h, (e) => e.EventType === EventType.TaskCompleted && e.TaskScheduledId === 1);
      const end = indexOf(h, (e) => e.EventType === EventType.ExecutionCompleted);
      expect(slowDone).toBeGreaterThan(0);
      expect(end).toBeGreaterThan(slowDone);
      expect(host().stats().orchestrations.openTaskReturns).toContainEqual(
        expect.objectContaining({ instanceId: id, name: 'anyLoser', tasks: ["activity 'pause' (id 1)"] }),
      );
    });

    it('waits for a timer that was not canceled', async () => {
      const id = await host().startNew('timerNotCanceled', { instanceId: 'open-timer' });
      const s = await host().waitForCompletion(id);
      expect(s.output).toBe('work');
      const h = await host().getHistory(id);
      const fired = indexOf(h, (e) => e.EventType === EventType.TimerFired);
      expect(fired).toBeGreaterThan(0);
      expect(indexOf(h, (e) => e.EventType === EventType.ExecutionCompleted)).toBeGreaterThan(fired);
    });

    it('fails an orchestrator that threw beside a running task only once that task finished', async () => {
      const id = await host().startNew('throwBesideRunning', { instanceId: 'open-throw' });
      await waitFor(async () =>
        ofType(await host().getHistory(id), EventType.TaskCompleted).some((e) => e.TaskScheduledId === 0),
      );
      expect((await host().getStatus(id))?.runtimeStatus).toBe('Running');
      const s = await host().waitForCompletion(id);
      expect(s).toMatchObject({
        runtimeStatus: 'Failed',
        output: "Orchestrator function 'throwBesideRunning' failed: gave up early",
      });
      const h = await host().getHistory(id);
      expect(
        ofType(h, EventType.TaskCompleted)
          .map((e) => e.TaskScheduledId)
          .sort(),
      ).toEqual([0, 1]);
    });
  });

  describe('2. continueAsNew with a string input (Utils.processInput, then DTFx serializes it again)', () => {
    it('gives the next execution the JSON-encoded string, quotes included', async () => {
      const s = await host().waitForCompletion(
        await host().startNew('continueWithString', { input: 'first' }),
      );
      expect(s).toMatchObject({ runtimeStatus: 'Completed', output: '"second"', input: '"second"' });
    });
  });

  describe('3. purge by filter (HttpApiHandler, AzureTableTrackingStore.PurgeInstanceHistoryAsync)', () => {
    it('answers 400 without createdTimeFrom', async () => {
      const r = await rpc('instances/', { method: 'DELETE' });
      expect(r.status).toBe(400);
      expect(await r.text()).toMatch(/createdTimeFrom/);
    });

    it('purges by id only finished instances (412 otherwise)', async () => {
      const id = await host().startNew('waitForDone', { instanceId: 'purge-by-id' });
      await running(id);
      expect((await rpc(`instances/${id}`, { method: 'DELETE' })).status).toBe(412);
      await host().terminate(id, 'done');
      await host().waitForCompletion(id);
      const r = await rpc(`instances/${id}`, { method: 'DELETE' });
      expect(await r.json()).toEqual({ instancesDeleted: 1 });
      expect((await rpc(`instances/${id}`, { method: 'DELETE' })).status).toBe(404);
    });

    it('purges instances of every status in the range, running ones included, unless runtimeStatus says otherwise', async () => {
      const from = new Date().toISOString();
      await host().startNew('waitForDone', { instanceId: 'purge-running' });
      await host().waitForCompletion(
        await host().startNew('continueWithString', { instanceId: 'purge-done', input: 'x' }),
      );
      await running('purge-running');
      // Only terminal statuses of the list count: Running is ignored, Completed purges purge-done.
      const onlyDone = await rpc(`instances/?createdTimeFrom=${from}&runtimeStatus=Running,Completed`, {
        method: 'DELETE',
      });
      expect(await onlyDone.json()).toMatchObject({ instancesDeleted: 1 });
      expect(await host().getStatus('purge-done')).toBeUndefined();
      expect((await host().getStatus('purge-running'))?.runtimeStatus).toBe('Running');
      const all = await rpc(`instances/?createdTimeFrom=${from}`, { method: 'DELETE' });
      expect(all.status).toBe(200);
      expect(await host().getStatus('purge-running')).toBeUndefined();
    });
  });

  describe('4. setCustomStatus(null) clears the custom status', () => {
    it('stores null when the orchestrator sets null', async () => {
      const id = await host().startNew('clearStatus', { instanceId: 'clear-status' });
      await waitFor(async () =>
        ofType(await host().getHistory(id), EventType.TaskCompleted).length ? true : undefined,
      );
      await waitFor(async () => (await host().getStatus(id))?.customStatus === null, 5000, 'status cleared');
      await host().raiseEvent(id, 'done');
      expect((await host().waitForCompletion(id)).customStatus).toBeNull();
    });
  });

  describe('5. a sub-orchestration id that is already running: DTFx drops the duplicate start', () => {
    it('keeps the second parent waiting and warns loudly', async () => {
      await host().startNew('callsChild', { instanceId: 'dup-parent-1', input: 'dup-child' });
      await running('dup-child');
      await host().startNew('callsChild', { instanceId: 'dup-parent-2', input: 'dup-child' });
      await waitFor(async () =>
        ofType(await host().getHistory('dup-parent-2'), EventType.SubOrchestrationInstanceCreated).length
          ? true
          : undefined,
      );
      await waitFor(
        async () => logLines.some((l) => l.includes("instance ID 'dup-child' was not started")),
        5000,
        'the warning',
      );
      await host().raiseEvent('dup-child', 'done', 'ok');
      expect((await host().waitForCompletion('dup-parent-1')).output).toBe('ok');
      const second = await host().getStatus('dup-parent-2');
      expect(second?.runtimeStatus).toBe('Running');
      expect(
        ofType(await host().getHistory('dup-parent-2'), EventType.SubOrchestrationInstanceFailed),
      ).toEqual([]);
      await host().terminate('dup-parent-2', 'cleanup');
    });
  });

  describe('6. HTTP management API (HttpApiHandler)', () => {
    it('start with ?timeout= answers 200 with the status for a failing instance', async () => {
      const r = await rpc('orchestrators/failsAtOnce?timeout=5&pollingInterval=1', { method: 'POST' });
      expect(r.status).toBe(200);
      expect(await r.json()).toMatchObject({ runtimeStatus: 'Failed', name: 'failsAtOnce' });
    });

    it('honours returnInternalServerErrorOnFailure on status queries', async () => {
      const id = await host().startNew('failsAtOnce', { instanceId: 'http-failed' });
      await host().waitForCompletion(id);
      expect((await rpc(`instances/${id}`)).status).toBe(200);
      expect((await rpc(`instances/${id}?returnInternalServerErrorOnFailure=true`)).status).toBe(500);
    });

    it('answers 500 when starting with the id of a running instance; no rewindPostUri in the start payload', async () => {
      const first = await rpc('orchestrators/waitForDone/http-dup', { method: 'POST' });
      expect(first.status).toBe(202);
      const payload = (await first.json()) as Record<string, unknown>;
      expect(payload.rewindPostUri).toBeUndefined();
      expect(Object.keys(payload).sort()).toEqual(
        [
          'id',
          'purgeHistoryDeleteUri',
          'restartPostUri',
          'resumePostUri',
          'sendEventPostUri',
          'statusQueryGetUri',
          'suspendPostUri',
          'terminatePostUri',
        ].sort(),
      );
      await running('http-dup');
      const again = await rpc('orchestrators/waitForDone/http-dup', { method: 'POST' });
      expect(again.status).toBe(500);
      expect(await again.json()).toMatchObject({
        ExceptionMessage: 'An Orchestration instance with the status Running already exists.',
      });
      await host().terminate('http-dup', 'cleanup');
    });

    it('takes only application/json event bodies, after 404 and 410', async () => {
      const id = await host().startNew('waitForDone', { instanceId: 'http-event' });
      await running(id);
      const raise = (type: string, target = id, body = '"x"') =>
        rpc(`instances/${target}/raiseEvent/done`, {
          method: 'POST',
          headers: { 'content-type': type },
          body,
        });
      expect((await raise('text/plain')).status).toBe(400);
      expect((await raise('text/plain', 'no-such-instance')).status).toBe(404);
      expect((await raise('application/json', 'no-such-instance')).status).toBe(404);
      expect((await raise('application/json', 'no-such-instance', '{bad')).status).toBe(404);
      expect((await raise('application/json', id, '{bad')).status).toBe(400);
      expect((await raise('application/json; charset=utf-8')).status).toBe(202);
      await host().waitForCompletion(id);
      expect((await raise('text/plain')).status).toBe(410);
      expect((await raise('application/json')).status).toBe(410);
      expect((await raise('application/json', id, '{bad')).status).toBe(410);
    });

    it('ignores unknown runtimeStatus values', async () => {
      const r = await rpc('instances/?runtimeStatus=Bogus,running');
      expect(r.status).toBe(200);
      expect(Array.isArray(await r.json())).toBe(true);
    });

    it('shows pending TaskScheduled, every TimerCreated and inputs in showHistory', async () => {
      const id = await host().startNew('slowAndTimer', { instanceId: 'http-history', input: { x: 1 } });
      await waitFor(async () =>
        ofType(await host().getHistory(id), EventType.TaskScheduled).length ? true : undefined,
      );
      const r = await rpc(`instances/${id}?showHistory=true`);
      const events = ((await r.json()) as { historyEvents: Record<string, unknown>[] }).historyEvents;
      expect(events.map((e) => e.EventType)).toEqual([
        'ExecutionStarted',
        'TimerCreated',
        'TimerFired',
        'TaskScheduled',
      ]);
      expect(events[0]).toMatchObject({ FunctionName: 'slowAndTimer', Input: '{"x":1}' });
      expect(events[3]).toMatchObject({ Name: 'pause', Input: '[5000]' });
      const noInput = await rpc(`instances/${id}?showHistory=true&showInput=false`);
      const body = (await noInput.json()) as { input: unknown; historyEvents: Record<string, unknown>[] };
      expect(body.input).toBeNull();
      expect(body.historyEvents[0]!.Input).toBeUndefined();
      await host().terminate(id, 'cleanup');
    });
  });

  describe('7. smaller differences', () => {
    it('reports a terminated sub-orchestration to its parent with the bare reason and no details', async () => {
      await host().startNew('parentOfTerminated', { instanceId: 'term-parent', input: 'term-child' });
      await running('term-child');
      await host().terminate('term-child', 'stop now');
      // durable-functions 3.5.0 needs Details to build the error: without it the replay itself throws,
      // so the parent cannot catch it and fails (on Azure too).
      expect(await host().waitForCompletion('term-parent')).toMatchObject({
        runtimeStatus: 'Failed',
        output: expect.stringMatching(/failed but we could not parse its exception data/),
      });
      const failed = ofType(await host().getHistory('term-parent'), EventType.SubOrchestrationInstanceFailed);
      expect(failed).toHaveLength(1);
      expect(failed[0]!.Reason).toBe('stop now');
      expect(failed[0]!.Details).toBeUndefined();
    });

    it('returns a JSON terminate reason as JSON and stores Failed/Terminated results raw', async () => {
      const id = await host().startNew('waitForDone', { instanceId: 'term-json' });
      await running(id);
      await host().terminate(id, '{"why":"enough"}');
      expect((await host().waitForCompletion(id)).output).toEqual({ why: 'enough' });
      const end = ofType(await host().getHistory(id), EventType.ExecutionCompleted)[0]!;
      expect(end.Result).toBe('{"why":"enough"}');
      const failed = await host().startNew('failsAtOnce');
      await host().waitForCompletion(failed);
      expect(ofType(await host().getHistory(failed), EventType.ExecutionCompleted)[0]!.Result).toBe(
        "Orchestrator function 'failsAtOnce' failed: no luck",
      );
    });

    it('moves createdTime forward on continueAsNew and never shows ContinuedAsNew', async () => {
      const id = await host().startNew('continueSlowly', { instanceId: 'can-created' });
      const before = (await host().getStatus(id))!.createdTime;
      const seen = new Set<string>();
      for (;;) {
        const s = (await host().getStatus(id))!;
        seen.add(s.runtimeStatus);
        if (s.runtimeStatus === 'Completed') break;
        await new Promise((r) => setImmediate(r));
      }
      expect(seen.has('ContinuedAsNew')).toBe(false);
      const after = (await host().getStatus(id))!.createdTime;
      expect(Date.parse(after)).toBeGreaterThan(Date.parse(before));
    });
  });

  describe('8. events raised after continueAsNew in the same batch go to the next execution (Carryover)', () => {
    it('delivers them to the new execution', async () => {
      const id = await host().startNew('carryEvents', { instanceId: 'carry' });
      await running(id);
      // In this order and (on the memory store) in one batch: 'second' is processed after the
      // continueAsNew call, so DTFx carries it over instead of dropping it.
      await host().raiseEvent(id, 'first', 1);
      await host().raiseEvent(id, 'second', 2);
      expect((await host().waitForCompletion(id, 5000)).output).toEqual({ generation: 2, second: 2 });
    });
  });

  describe('9. the last retry (DTFx RetryInterceptor, durabletask #661)', () => {
    it('schedules a zero-delay timer after the final failed attempt', async () => {
      const id = await host().startNew('retryTwice', { instanceId: 'retry-last' });
      expect((await host().waitForCompletion(id)).output).toBe('gave up');
      const h = await host().getHistory(id);
      const timers = ofType(h, EventType.TimerCreated);
      expect(timers.map((t) => t.EventId)).toEqual([1, 3]);
      const startedBefore = (e: HistoryEvent) =>
        h
          .slice(0, h.indexOf(e))
          .filter((x) => x.EventType === EventType.OrchestratorStarted)
          .at(-1)!;
      expect(Date.parse(timers[0]!.FireAt!) - Date.parse(startedBefore(timers[0]!).Timestamp)).toBe(200);
      expect(Date.parse(timers[1]!.FireAt!) - Date.parse(startedBefore(timers[1]!).Timestamp)).toBe(0);
    });

    it('gives an ordinary catchable failure when retryTimeoutInMilliseconds expires on the last attempt', async () => {
      const s = await host().waitForCompletion(await host().startNew('retryTimeoutOnLastAttempt'));
      expect(s).toMatchObject({
        runtimeStatus: 'Completed',
        output: { caught: "Activity function 'fail' failed: always fails" },
      });
    });
  });

  describe('10. function names are case-insensitive (the extension keys functions by FunctionName)', () => {
    it('runs activities, sub-orchestrations and starts whatever the case', async () => {
      const s = await host().waitForCompletion(await host().startNew('OTHERCASE', { instanceId: 'case-1' }));
      expect(s).toMatchObject({
        name: 'OTHERCASE',
        runtimeStatus: 'Completed',
        output: ['Hello activity!', 'Hello child!'],
      });
      const r = await rpc('orchestrators/HELLOCHILD?timeout=5&pollingInterval=1', {
        method: 'POST',
        body: '"http"',
      });
      expect(await r.json()).toBe('Hello http!');
    });

    it('does not call a change of case non-deterministic', async () => {
      const state = parityState();
      state.activityName = 'sayHello';
      const id = await host().startNew('caseDrift', { instanceId: 'case-drift' });
      await waitFor(async () =>
        ofType(await host().getHistory(id), EventType.TaskCompleted).length ? true : undefined,
      );
      state.activityName = 'SayHello';
      try {
        await host().raiseEvent(id, 'go');
        expect(await host().waitForCompletion(id)).toMatchObject({
          runtimeStatus: 'Completed',
          output: 'replayed',
        });
      } finally {
        state.activityName = 'sayHello';
      }
    });
  });

  describe('long timers: split like the extension (6-day limit, 3-day sub-timers)', () => {
    it('starts a week-long timer with a 3-day sub-timer', async () => {
      const id = await host().startNew('weekLongTimer', { instanceId: 'long-timer' });
      await waitFor(async () =>
        ofType(await host().getHistory(id), EventType.TimerCreated).length ? true : undefined,
      );
      const h = await host().getHistory(id);
      const timer = ofType(h, EventType.TimerCreated)[0]!;
      const started = ofType(h, EventType.OrchestratorStarted)[0]!;
      expect(Date.parse(timer.FireAt!) - Date.parse(started.Timestamp)).toBe(3 * 24 * 3600 * 1000);
      await host().terminate(id, 'cleanup');
    });
  });
}
