// The known pitfall (durable-notes.md §a.6, durable-js #99/#485): a fail-fast Task.all beside a
// callActivityWithRetry sibling that is still retrying. Without test mode the dev host reproduces
// what Azure does; in test mode the task-id cross-check catches it before the wrong result lands.
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EventType, startDevHost, type DevHost } from '../../devhost';
import { sampleState } from '../fixtures/devhost/sampleState';
import { fixtures } from './helpers';

const appEntry = path.join(fixtures, 'pitfallApp.ts');
let host: DevHost | undefined;
afterEach(async () => {
  await host?.stop();
  host = undefined;
});

describe('Task.all fail-fast beside a retrying sibling', () => {
  it('reproduces the Azure behaviour: the next call "completes" with a retry timer of the sibling', async () => {
    host = await startDevHost({ appEntry, testMode: false });
    const id = await host.startNew('taskAllPitfall', { instanceId: 'pitfall-azure' });
    const s = await host.waitForCompletion(id, 20_000);
    expect(s.runtimeStatus, String(s.output)).toBe('Completed');
    // The orchestrator believes callActivity('next') returned undefined: it got TimerFired 5.
    expect(s.output).toEqual({ caught: "Activity function 'alwaysFails' failed: permanent failure" });
    const h = await host.getHistory(id);
    const timer5 = h.find((e) => e.EventType === EventType.TimerCreated && e.EventId === 5);
    expect(timer5).toBeDefined(); // the extension gave id 5 to failTwiceSlow's retry timer
    const next = h.find((e) => e.EventType === EventType.TaskScheduled && e.Name === 'next');
    expect(next?.EventId).toBe(9); // 'next' really ran only after the sibling's retries, as task 9
  });

  it('is caught by the test-mode task id cross-check with a clear message', async () => {
    host = await startDevHost({ appEntry, testMode: true });
    const id = await host.startNew('taskAllPitfall', { instanceId: 'pitfall-test-mode' });
    const s = await host.waitForCompletion(id, 20_000);
    expect(s.runtimeStatus).toBe('Failed');
    expect(s.output).toMatch(
      /Task id drift detected .*expects task id 5 to be activity 'next', but the host assigned id 5 to the retry timer of 'failTwiceSlow'/,
    );
    expect(s.output).toMatch(/fail-fast Task\.all beside a still-retrying sibling/);
  });

  it('the safe shape (retrying branches in sub-orchestrations returning envelopes) works', async () => {
    host = await startDevHost({ appEntry, testMode: true });
    const before = sampleState().pitfall.nextCalls ?? 0;
    const id = await host.startNew('taskAllSafe', { instanceId: 'pitfall-safe' });
    const s = await host.waitForCompletion(id, 20_000);
    expect(s.runtimeStatus).toBe('Completed');
    expect(s.output).toEqual({
      results: [
        { ok: false, error: "Activity function 'alwaysFails' failed: permanent failure" },
        { ok: true, value: 'B ok' },
      ],
      next: 'next-result',
    });
    expect((sampleState().pitfall.nextCalls ?? 0) - before).toBe(1);
  });
});
