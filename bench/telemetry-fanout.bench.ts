// Issue 14 benchmark: the 10,000-child fan-out (the dag-fanout-10k job: echo activity children in
// sub-orchestration chunks, dev host + app in one process, Postgres state) with Application Insights
// off and on. Target: telemetry on slows it by at most 10%; telemetry off costs nothing (no SDK loaded).
// Each run is a fresh process (the SDK starts first thing, as in the Function App), alternating
// off/on, seven of each. Each process runs three 10,000-child jobs after a 200-child warm-up and counts
// their median, as dag-fanout-10k does (its first job is the slowest in both modes: JIT, plans, pools);
// the first job alone is reported too (`coldJob`). Both the medians of the two modes and the median of
// the seven paired ratios (round i on / round i off: robust to the machine's load drifting between
// rounds) are compared. With telemetry on, the process sends to a
// local ingestion endpoint (HTTPS, test/support/ingestion.ts) that decodes what it receives.
// Usage: npm run bench -- telemetry-fanout
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dump } from 'js-yaml';
import { startIngestionServer } from '../test/support/ingestion';
import { median, record } from './lib/record';

const CHILDREN = Number(process.env.BENCH_CHILDREN ?? 10_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);

interface JobRun {
  ms: number;
  status: string;
  queries: number;
  /** CPU time of the process during the job (less sensitive to a busy machine than wall time). */
  cpuMs: number;
}

/**
 * One process: three 10,000-child jobs after a 200-child warm-up (a Function App's process runs job
 * after job). Judged on their median, as dag-fanout-10k is; the first (cold) one is kept apart too.
 */
interface RunResult {
  mode: 'off' | 'on';
  jobs: JobRun[];
  sdkLoaded: boolean;
  /** The process's peak resident memory. */
  peakRssMiB: number;
  /** For the statistics below: the median job's (by wall time). */
  ms: number;
  status: string;
  queries: number;
  cpuMs: number;
}

const JOBS_PER_PROCESS = 3;

async function child(mode: 'off' | 'on'): Promise<void> {
  const step = (s: string) => process.env.BENCH_DEBUG && console.error(`[${mode}] ${s}`);
  // Telemetry starts before anything else is loaded, as functions/index.ts does.
  await import('../functions/telemetrySetup');
  step('telemetry set up');
  const pg = (await import('pg')).default;
  // Statements sent by this process (after the instrumentation's own wrapper): telemetry must not add any.
  let queries = 0;
  const sendQuery = pg.Client.prototype.query as (...a: unknown[]) => unknown;
  pg.Client.prototype.query = function (this: unknown, ...a: unknown[]) {
    queries++;
    return sendQuery.apply(this, a);
  } as typeof pg.Client.prototype.query;
  const { startBenchApp, migrateBenchSchema, dropBenchSchema, BENCH_DB } = await import('./lib/appHost');
  const { FAN_WORKFLOW } = await import('./lib/fanWorkflow');
  const schema = `benchtel_${mode}_${Date.now().toString(36)}`;
  const admin = new pg.Pool({ connectionString: BENCH_DB, max: 2 });
  await migrateBenchSchema(admin, schema);
  const wfDir = mkdtempSync(path.join(os.tmpdir(), 'bench-wf-'));
  writeFileSync(path.join(wfDir, 'fan.yaml'), dump(FAN_WORKFLOW));
  step('schema deployed');
  const app = await startBenchApp({ schema, workflowsDir: wfDir, taskHub: `tel${mode}` });
  const run = async (n: number) => {
    const t0 = performance.now();
    const r = await fetch(`${app.host.url}/api/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ workflow_id: 'bench_fan', inputs: { n } }),
    });
    const body = (await r.json()) as { job_id: string };
    step(`submitted: ${r.status} ${JSON.stringify(body).slice(0, 300)}`);
    const { job_id } = body;
    for (;;) {
      const st = await admin.query(`SELECT status FROM "${schema}".dag_jobs WHERE job_id = $1`, [job_id]);
      const s = st.rows[0]?.status as string;
      if (['completed', 'failed', 'cancelled'].includes(s)) return { status: s, ms: performance.now() - t0 };
      if (performance.now() - t0 > 600_000) throw new Error('the fan-out did not finish in 10 minutes');
      await new Promise((res) => setTimeout(res, 50));
    }
  };
  step('app started');
  try {
    await run(200); // warm-up: compiles, connections, first replays
    const measured = async (): Promise<JobRun> => {
      const before = queries;
      const cpu0 = process.cpuUsage();
      const r = await run(CHILDREN);
      const cpu = process.cpuUsage(cpu0);
      return { ...r, queries: queries - before, cpuMs: Math.round((cpu.user + cpu.system) / 1000) };
    };
    const jobs: JobRun[] = [];
    const profiler = await profileJobs(mode);
    for (let j = 0; j < JOBS_PER_PROCESS; j++) jobs.push(await measured());
    await profiler?.stop();
    const mid = [...jobs].sort((a, b) => a.ms - b.ms)[Math.floor(JOBS_PER_PROCESS / 2)]!;
    const sdkLoaded = Object.keys(require.cache).some((k) => /node_modules\/applicationinsights\//.test(k));
    const { flushTelemetry } = await import('../handlers/telemetry');
    await flushTelemetry();
    const result: RunResult = {
      mode,
      jobs,
      sdkLoaded,
      peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
      ms: mid.ms,
      cpuMs: median(jobs.map((j) => j.cpuMs)),
      queries: median(jobs.map((j) => j.queries)),
      status: jobs.every((j) => j.status === 'completed') ? 'completed' : 'failed',
    };
    process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
  } finally {
    await app.stop();
    await dropBenchSchema(admin, schema);
    await admin.end();
    rmSync(wfDir, { recursive: true, force: true });
  }
}

/**
 * BENCH_PROFILE_DIR: a CPU profile of the measured jobs of each child (where the telemetry time
 * goes), without the start-up and the warm-up that a whole-process profile would mix in.
 */
async function profileJobs(mode: 'off' | 'on'): Promise<{ stop(): Promise<void> } | undefined> {
  const dir = process.env.BENCH_PROFILE_DIR;
  if (!dir) return undefined;
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return {
    async stop() {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(path.join(dir, `telemetry-${mode}-${process.pid}.cpuprofile`), JSON.stringify(profile));
      session.disconnect();
    },
  };
}

function runChild(mode: 'off' | 'on', env: Record<string, string>): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', __filename, '--child', mode], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    p.once('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (code !== 0 || !line) reject(new Error(`${mode} run failed (${code}):\n${out.slice(-3000)}`));
      else resolve(JSON.parse(line.slice(7)) as RunResult);
    });
  });
}

async function main() {
  const ingest = await startIngestionServer();
  const results: RunResult[] = [];
  try {
    for (let i = 0; i < ROUNDS; i++) {
      const off = await runChild('off', { APPLICATIONINSIGHTS_CONNECTION_STRING: '' });
      console.log(`off: ${off.jobs.map((j) => Math.round(j.ms)).join(', ')} ms`);
      results.push(off);
      const on = await runChild('on', {
        APPLICATIONINSIGHTS_CONNECTION_STRING: ingest.connectionString,
        NODE_EXTRA_CA_CERTS: ingest.caFile,
      });
      console.log(
        `on: ${on.jobs.map((j) => Math.round(j.ms)).join(', ')} ms (envelopes so far: ${ingest.envelopes.length})`,
      );
      results.push(on);
    }
  } finally {
    await ingest.stop();
  }
  const off = results.filter((r) => r.mode === 'off');
  const on = results.filter((r) => r.mode === 'on');
  const offMs = median(off.map((r) => r.ms));
  const onMs = median(on.map((r) => r.ms));
  const slowdown = (onMs - offMs) / offMs;
  // Round i's on-run ran right after its off-run: their ratio cancels load that drifts over the rounds.
  const paired = median(on.map((r, i) => r.ms / off[i]!.ms - 1));
  const pct = (x: number) => Math.round(x * 1000) / 10;
  const coldOff = median(off.map((r) => r.jobs[0]!.ms));
  const coldOn = median(on.map((r) => r.jobs[0]!.ms));
  const byKind: Record<string, number> = {};
  const dependencies: Record<string, number> = {};
  const statements: Record<string, number> = {};
  for (const e of ingest.envelopes) {
    const k = e.name.replace('Microsoft.ApplicationInsights.', '');
    byKind[k] = (byKind[k] ?? 0) + 1;
    if (k === 'RemoteDependency') {
      const d = e.data?.baseData as { type?: string; name?: string } | undefined;
      const what = `${d?.type ?? '?'} ${(d?.name ?? '').replace(/\s+/g, ' ').slice(0, 40)}`;
      dependencies[what] = (dependencies[what] ?? 0) + 1;
      if (process.env.BENCH_DEBUG) {
        const sql = `${what} ${(d as { data?: string } | undefined)?.data?.replace(/\s+/g, ' ').slice(0, 160)}`;
        statements[sql] = (statements[sql] ?? 0) + 1;
      }
    }
  }
  if (process.env.BENCH_DEBUG)
    console.error(
      Object.entries(statements)
        .sort((a, b) => b[1] - a[1])
        .slice(0, 20),
    );
  record({
    name: 'telemetry-fanout-10k',
    target:
      'telemetry on slows the 10,000-child fan-out by at most 10% (median on vs median off, and the median of the paired rounds); telemetry off loads no SDK',
    pass:
      [...off, ...on].every((r) => r.status === 'completed') &&
      slowdown <= 0.1 &&
      paired <= 0.1 &&
      off.every((r) => !r.sdkLoaded) &&
      on.every((r) => r.sdkLoaded),
    results: {
      children: CHILDREN,
      rounds: ROUNDS,
      medianSecondsOff: Math.round(offMs) / 1000,
      medianSecondsOn: Math.round(onMs) / 1000,
      slowdownPercent: pct(slowdown),
      pairedMedianSlowdownPercent: pct(paired),
      runsOff: off.map((r) => Math.round(r.ms)),
      runsOn: on.map((r) => Math.round(r.ms)),
      coldJob: {
        medianSecondsOff: Math.round(coldOff) / 1000,
        medianSecondsOn: Math.round(coldOn) / 1000,
        slowdownPercent: pct((coldOn - coldOff) / coldOff),
        pairedMedianSlowdownPercent: pct(median(on.map((r, i) => r.jobs[0]!.ms / off[i]!.jobs[0]!.ms - 1))),
        cpuSlowdownPercent: pct(
          median(on.map((r) => r.jobs[0]!.cpuMs)) / median(off.map((r) => r.jobs[0]!.cpuMs)) - 1,
        ),
      },
      jobsOff: off.map((r) => r.jobs.map((j) => Math.round(j.ms))),
      jobsOn: on.map((r) => r.jobs.map((j) => Math.round(j.ms))),
      cpuMsOff: off.map((r) => r.cpuMs),
      cpuMsOn: on.map((r) => r.cpuMs),
      cpuSlowdownPercent: pct(median(on.map((r) => r.cpuMs)) / median(off.map((r) => r.cpuMs)) - 1),
      peakRssMiB: { off: median(off.map((r) => r.peakRssMiB)), on: median(on.map((r) => r.peakRssMiB)) },
      postgresStatementsOff: off.map((r) => r.queries),
      postgresStatementsOn: on.map((r) => r.queries),
      envelopesSentOn: ingest.envelopes.length,
      envelopesByKind: byKind,
      dependencyEnvelopes: Object.fromEntries(
        Object.entries(dependencies)
          .sort((a, b) => b[1] - a[1])
          .slice(0, 12),
      ),
    },
    notes:
      'echo activity children (dag-fanout-10k); each round a fresh process (dev host + app) per mode, alternating off/on; on = applicationinsights 3.x exporting to a local HTTPS ingestion endpoint. Each process runs a 200-child warm-up, then three 10,000-child jobs (a Function App runs job after job) and counts their median, as dag-fanout-10k does (runs*, cpuMs*, postgresStatements*: per process; jobs*: every job); coldJob compares the first job of each process alone (JIT, query plans, pools and the SDK’s first use are paid there); the envelopes are those of every job of the on processes.',
  });
}

if (process.argv[2] === '--child') {
  child(process.argv[3] as 'off' | 'on').then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
} else {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
