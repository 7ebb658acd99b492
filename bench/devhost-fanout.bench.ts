// Dev host fan-out: one orchestration with N activities (N = 1,000 and 10,000), memory and Postgres
// stores, two activity kinds: "noop" (returns at once: results arrive in one burst) and "tick"
// (completes after a 1 ms timer: results trickle in while the orchestrator replays, the case where
// per-episode batching matters). Reports completions per second (start to completion), history
// events per activity, episodes, and orchestrator replay time per activity (time inside orchestrator
// invocations: SDK replay + JSON, single-threaded CPU). Replay per activity must not grow
// quadratically with N.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { silentLogger, startDevHost } from '../devhost';
import { record } from './lib/record';

const databaseUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const appEntry = path.join(__dirname, '../test/fixtures/devhost/bench/benchApp.ts');

interface Run {
  activity: 'noop' | 'tick';
  store: 'memory' | 'postgres';
  n: number;
  seconds: number;
  completionsPerSecond: number;
  historyEventsPerActivity: number;
  episodes: number;
  replayMsPerActivity: number;
  episodeCpuMsPerActivity: number;
}

async function run(
  activity: 'noop' | 'tick',
  store: 'memory' | 'postgres',
  n: number,
  schema: string,
): Promise<Run> {
  const host = await startDevHost({
    appEntry,
    store,
    databaseUrl,
    storeSchema: schema,
    logger: silentLogger,
    testMode: false,
  });
  try {
    // Warm up (module loading, JIT, connections).
    await host.waitForCompletion(await host.startNew('benchFanOut', { input: { n: 50, activity } }), 60_000);
    const before = host.stats();
    const t0 = performance.now();
    const id = await host.startNew('benchFanOut', { input: { n, activity } });
    const status = await host.waitForCompletion(id, 600_000);
    const seconds = (performance.now() - t0) / 1000;
    if (status.output !== n) throw new Error(`unexpected output ${JSON.stringify(status.output)}`);
    const after = host.stats();
    const history = await host.getHistory(id);
    const o = after.orchestrations;
    const b = before.orchestrations;
    return {
      activity,
      store,
      n,
      seconds: round(seconds, 3),
      completionsPerSecond: Math.round(n / seconds),
      historyEventsPerActivity: round(history.length / n, 3),
      episodes: o.episodes - b.episodes,
      replayMsPerActivity: round((o.invocationMs - b.invocationMs) / n, 4),
      episodeCpuMsPerActivity: round((o.episodeCpuMs - b.episodeCpuMs) / n, 4),
    };
  } finally {
    await host.stop();
  }
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

async function main(): Promise<void> {
  const schema = `bench_devhost_${randomBytes(4).toString('hex')}`;
  const runs: Run[] = [];
  try {
    for (const activity of ['noop', 'tick'] as const) {
      for (const store of ['memory', 'postgres'] as const) {
        for (const n of [1000, 10_000]) {
          const r = await run(activity, store, n, schema);
          console.log(JSON.stringify(r));
          runs.push(r);
          (globalThis as { gc?: () => void }).gc?.();
        }
      }
    }
  } finally {
    const c = new pg.Client({ connectionString: databaseUrl });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await c.end();
  }
  const get = (activity: string, store: string, n: number) =>
    runs.find((r) => r.activity === activity && r.store === store && r.n === n)!;
  const growth = (activity: string, store: string) =>
    round(
      get(activity, store, 10_000).replayMsPerActivity / get(activity, store, 1000).replayMsPerActivity,
      2,
    );
  const growths = {
    noop: { memory: growth('noop', 'memory'), postgres: growth('noop', 'postgres') },
    tick: { memory: growth('tick', 'memory'), postgres: growth('tick', 'postgres') },
  };
  const pgRate = Math.min(
    get('noop', 'postgres', 10_000).completionsPerSecond,
    get('tick', 'postgres', 10_000).completionsPerSecond,
  );
  record({
    name: 'devhost-fanout',
    target:
      'Postgres 10,000-activity fan-out >= 1,000 completions/s; replay per activity at 10k within 3x of 1k (no quadratic growth)',
    pass: pgRate >= 1000 && Object.values(growths).every((g) => g.memory <= 3 && g.postgres <= 3),
    results: { runs, replayGrowth10kVs1k: growths },
    notes:
      'replayMsPerActivity = wall time inside orchestrator invocations (SDK replay of the full history + JSON) / N; ' +
      'episodeCpuMsPerActivity = process CPU during episodes / N (includes activity work interleaved during store I/O).',
  });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
