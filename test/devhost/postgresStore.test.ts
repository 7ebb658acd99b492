// The Postgres store: the same Durable flows as the memory store, durable timers and work surviving a
// restart of the host, and two hosts sharing one schema (claims with FOR UPDATE SKIP LOCKED,
// wake-ups with LISTEN/NOTIFY).
import { describe, expect, it } from 'vitest';
import { EventType, startDevHost, type DevHost, type DevHostOptions } from '../../devhost';
import { useTestSchema } from '../support/pg';
import { countStatements } from '../support/pgCounter';
import { count, sampleApp, waitFor } from './helpers';

// The dev host's own store is a local tool's, not the app's: it creates its tables, so it connects as the
// administrator (the app's login has data privileges only).
const schema = useTestSchema('devhost');

function start(extra: Partial<DevHostOptions> = {}): Promise<DevHost> {
  const t = schema();
  return startDevHost({
    appEntry: sampleApp,
    store: 'postgres',
    databaseUrl: t.adminUrl,
    storeSchema: t.schema,
    testMode: true,
    pollIntervalMs: 200,
    ...extra,
  });
}

describe('dev host: Postgres store', () => {
  it('runs the Durable flows and keeps their history in Postgres', async () => {
    const host = await start();
    try {
      const ids = {
        seq: await host.startNew('helloSequence'),
        fan: await host.startNew('fanOut', { input: 200 }),
        parent: await host.startNew('parent', { instanceId: 'pg-parent' }),
        counter: await host.startNew('counter', { input: 1 }),
        timer: await host.startNew('timerRace', { input: { timeoutMs: 100 } }),
        failing: await host.startNew('failingOrchestrator'),
        forever: await host.startNew('waitForever'),
      };
      expect((await host.waitForCompletion(ids.seq)).output).toEqual([
        'Hello Tokyo!',
        'Hello Seattle!',
        'Hello London!',
      ]);
      expect((await host.waitForCompletion(ids.fan)).output).toBe(2_646_700);
      expect((await host.waitForCompletion(ids.parent)).output).toMatchObject({
        a: { square: 9 },
        b: { square: 16 },
      });
      expect((await host.waitForCompletion(ids.counter)).output).toBe('counted to 3');
      expect((await host.waitForCompletion(ids.timer)).output).toEqual({ approved: null, timedOut: true });
      expect((await host.waitForCompletion(ids.failing)).runtimeStatus).toBe('Failed');
      await waitFor(async () => (await host.getStatus(ids.forever))?.runtimeStatus === 'Running');
      await host.terminate(ids.forever, 'bye');
      expect((await host.waitForCompletion(ids.forever)).runtimeStatus).toBe('Terminated');

      const h = await host.getHistory(ids.fan);
      expect(count(h, EventType.TaskScheduled)).toBe(200);
      expect(count(h, EventType.TaskCompleted)).toBe(200);
      const rows = await schema().adminPool.query(
        `SELECT count(*)::int AS n FROM ${schema().schema}.activity_tasks`,
      );
      expect(rows.rows[0].n).toBe(0);
      expect((await host.listInstances({ instanceIdPrefix: 'pg-parent' })).length).toBe(2); // parent + explicit child
    } finally {
      await host.stop();
    }
  });

  it('resumes instances, activity work and durable timers after a restart', async () => {
    let host = await start();
    const timer = await host.startNew('timerRace', { instanceId: 'pg-timer', input: { timeoutMs: 800 } });
    const waiting = await host.startNew('customStatus', { instanceId: 'pg-waiting' });
    await waitFor(
      async () =>
        ((await host.getStatus(waiting))?.customStatus as { stage?: string } | null)?.stage === 'two',
    );
    await waitFor(async () => (await host.getStatus(timer))?.runtimeStatus === 'Running');
    await host.stop();

    host = await start();
    try {
      await host.raiseEvent(waiting, 'finish');
      expect((await host.waitForCompletion(waiting)).output).toBe('done');
      expect((await host.waitForCompletion(timer)).output).toEqual({ approved: null, timedOut: true });
    } finally {
      await host.stop();
    }
  });

  it('shares one schema between two hosts', async () => {
    const a = await start({ maxConcurrentActivityFunctions: 2 });
    const b = await start({ maxConcurrentActivityFunctions: 2 });
    try {
      const ids = await Promise.all(
        Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).startNew('fanOut', { input: 30 })),
      );
      for (const id of ids) expect((await a.waitForCompletion(id, 30_000)).output).toBe(8555);
      const episodes = a.stats().orchestrations.episodes + b.stats().orchestrations.episodes;
      expect(episodes).toBeGreaterThanOrEqual(12);
      expect(a.stats().activities.completed + b.stats().activities.completed).toBe(180);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('raises events in one statement per group: checked and queued together, unknown 404, finished 410', async () => {
    const host = await start();
    const sends = countStatements((q) => !!q.name?.startsWith('devhost_send_'));
    try {
      const ids = await Promise.all(Array.from({ length: 20 }, () => host.startNew('waitForever')));
      for (const id of ids)
        await waitFor(async () => (await host.getStatus(id))?.runtimeStatus === 'Running');
      // Issued together: the first goes out alone, the 20 that arrive while it is in flight share one.
      const outcomes = await Promise.allSettled([
        ...ids.map((id) => host.raiseEvent(id, 'never', { id })),
        host.raiseEvent('pg-no-such-instance', 'never'),
      ]);
      expect(sends.count()).toBe(2);
      expect(outcomes.slice(0, 20).every((o) => o.status === 'fulfilled')).toBe(true);
      expect(outcomes[20]).toMatchObject({ status: 'rejected', reason: { code: 'not-found' } });
      for (const id of ids) expect((await host.waitForCompletion(id)).runtimeStatus).toBe('Completed');
      await expect(host.raiseEvent(ids[0]!, 'never')).rejects.toMatchObject({ code: 'gone' });
      await expect(host.terminate(ids[1]!, 'late')).rejects.toMatchObject({ code: 'gone' });
    } finally {
      sends.stop();
      await host.stop();
    }
  });
});
