// Crash safety of the Postgres store: an orchestration of 200 activities runs in a dev host process
// that is killed with SIGKILL mid-run; a new process on the same schema finishes the instance and
// every activity result is applied exactly once (activities themselves run at least once).
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EventType, type HistoryEvent } from '../../devhost';
import { useTestSchema } from '../support/pg';
import { spawnDevHost, waitForExit, type HostProcess } from './devHostProcess';
import { fixtures, waitFor } from './helpers';

// The dev host's store and the test's bookkeeping table are not the app's: the administrator.
const schema = useTestSchema('devhost_crash');
const started: HostProcess[] = [];
afterEach(async () => {
  for (const p of started.splice(0)) {
    p.child.kill('SIGTERM');
    await waitForExit(p.child);
  }
});

describe('dev host crash safety (Postgres store)', () => {
  it('finishes an instance after SIGKILL and applies each activity result once', async () => {
    const t = schema();
    await t.adminPool.query('CREATE TABLE crash_runs (i int NOT NULL, pid int NOT NULL)');
    const args = [
      '--app',
      path.join(fixtures, 'crashApp.ts'),
      '--store',
      'postgres',
      '--database-url',
      t.adminUrl,
      '--store-schema',
      t.schema,
      '--port',
      '0',
      '--log-level',
      'warn',
    ];
    const env = { CRASH_DB_URL: t.adminUrl };
    const first = await spawnDevHost(args, env);
    started.push(first);
    const hook = (p: HostProcess) => `${p.url}/runtime/webhooks/durabletask`;
    const res = await fetch(`${hook(first)}/orchestrators/crashTest/crash-1`, {
      method: 'POST',
      body: JSON.stringify({ n: 200, batch: 10 }),
    });
    expect(res.status).toBe(202);
    const runs = async () =>
      (await t.adminPool.query<{ n: number }>('SELECT count(DISTINCT i)::int AS n FROM crash_runs')).rows[0]!
        .n;
    await waitFor(async () => ((await runs()) >= 80 ? true : undefined), 30_000, '80 activities');
    first.child.kill('SIGKILL');
    await waitForExit(first.child);
    const doneAtKill = await runs();
    expect(doneAtKill).toBeLessThan(200);

    const second = await spawnDevHost(args, env);
    started.push(second);
    const status = await waitFor(
      async () => {
        const r = await fetch(`${hook(second)}/instances/crash-1`);
        const s = (await r.json()) as { runtimeStatus: string; output: unknown };
        return s.runtimeStatus === 'Completed' || s.runtimeStatus === 'Failed' ? s : undefined;
      },
      60_000,
      'crash-1 to finish',
    );
    expect(status).toMatchObject({ runtimeStatus: 'Completed', output: 2 * ((199 * 200) / 2) });

    const rows = await t.adminPool.query<{ events: string }>(
      `SELECT events FROM ${t.schema}.history WHERE instance_id = 'crash-1' ORDER BY first_seq`,
    );
    const history = rows.rows.flatMap((r) => JSON.parse(r.events) as HistoryEvent[]);
    const scheduled = history.filter((e) => e.EventType === EventType.TaskScheduled).map((e) => e.EventId);
    const completed = history
      .filter((e) => e.EventType === EventType.TaskCompleted)
      .map((e) => e.TaskScheduledId);
    expect(scheduled).toHaveLength(200);
    expect(new Set(scheduled).size).toBe(200);
    expect(completed).toHaveLength(200);
    expect(new Set(completed)).toEqual(new Set(scheduled));
    expect(await runs()).toBe(200);
    const leftovers = await t.adminPool.query(`SELECT count(*)::int AS n FROM ${t.schema}.activity_tasks`);
    expect(leftovers.rows[0].n).toBe(0);
    const executions = await t.adminPool.query<{ n: number }>('SELECT count(*)::int AS n FROM crash_runs');
    // At-least-once: activities in flight when the first process died ran again.
    expect(executions.rows[0]!.n).toBeGreaterThanOrEqual(200);
    if (process.env.DEVHOST_TEST_VERBOSE) console.log({ doneAtKill, executions: executions.rows[0]!.n });
  });
});
