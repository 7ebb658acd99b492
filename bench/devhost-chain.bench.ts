// Dev host chain: one orchestration calling 100 activities one after another, Postgres store.
// Per-hop latency = time between two consecutive activity executions (episode commit, activity
// hand-over, completion write, wake-up, claim, replay, commit). Target: median <= 5 ms.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { silentLogger, startDevHost } from '../devhost';
import { median, record } from './lib/record';

const databaseUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const appEntry = path.join(__dirname, '../test/fixtures/devhost/bench/benchApp.ts');
const g = globalThis as unknown as { __devhostBenchHops?: number[] };

async function main(): Promise<void> {
  const schema = `bench_devhost_${randomBytes(4).toString('hex')}`;
  const hops = 100;
  const host = await startDevHost({
    appEntry,
    store: 'postgres',
    databaseUrl,
    storeSchema: schema,
    logger: silentLogger,
  });
  let results: Record<string, unknown>;
  let medianMs: number;
  try {
    await host.waitForCompletion(await host.startNew('benchChain', { input: 10 }), 60_000); // warm-up
    const samples: number[] = [];
    const totals: number[] = [];
    for (let rep = 0; rep < 3; rep++) {
      g.__devhostBenchHops = [];
      const t0 = performance.now();
      const s = await host.waitForCompletion(await host.startNew('benchChain', { input: hops }), 120_000);
      totals.push(performance.now() - t0);
      if (s.output !== hops) throw new Error(`unexpected output ${JSON.stringify(s.output)}`);
      const t = g.__devhostBenchHops;
      for (let i = 1; i < t.length; i++) samples.push(t[i]! - t[i - 1]!);
    }
    samples.sort((a, b) => a - b);
    medianMs = median(samples);
    const pct = (p: number) =>
      Math.round(samples[Math.min(samples.length - 1, Math.floor(p * samples.length))]! * 100) / 100;
    results = {
      hops,
      repetitions: 3,
      medianHopMs: Math.round(medianMs * 100) / 100,
      p90HopMs: pct(0.9),
      p99HopMs: pct(0.99),
      meanChainMs: Math.round(totals.reduce((a, b) => a + b, 0) / totals.length),
      episodes: host.stats().orchestrations.episodes,
    };
  } finally {
    await host.stop();
    const c = new pg.Client({ connectionString: databaseUrl });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await c.end();
  }
  record({
    name: 'devhost-chain',
    target: 'median per-hop latency <= 5 ms (Postgres store, 100 sequential activities)',
    pass: medianMs <= 5,
    results,
  });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
