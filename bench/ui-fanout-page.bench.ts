// The dashboard's job page for a 100,000-child fan-out (issue "The operator dashboard"): the page
// must become interactive in under 2 s on this machine with a bounded number of DOM nodes, and a
// refresh while the job runs must cost one small request. The job is written straight into Postgres
// (job row, static nodes, 100,000 children with mixed statuses, as a running fan-out has them); the
// Function App runs in the dev host; headless Chromium (playwright-core, /usr/bin/chromium) opens it.
//   Time to interactive: navigation start → the graph drawn with the fan-out's progress bar (the
//   page's script has fetched the job state and laid out the graph; the buttons work from then on).
//   Also the children table (100 rows, filtered by status, jumped to an index near the end).
//   Poll cost: the state document (200, its bytes) and the 304 a poll gets when nothing changed.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { chromium } from 'playwright-core';
import { loadWorkflow } from '../dag/loadWorkflow';
import { createJob, insertFanOutChildren } from '../db';
import { nodeSpecs } from '../functions/jobService';
import { BENCH_DB, dropBenchSchema, migrateBenchSchema, startBenchApp } from './lib/appHost';
import { median, record } from './lib/record';

const N = Number(process.env.BENCH_CHILDREN ?? 100_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ROOT = path.join(__dirname, '..');

const YAML = `
workflow_id: bench_ui_fan
name: dashboard benchmark fan-out
version: 1
inputs:
  n: { type: integer, required: true }
nodes:
  start: { type: start, next: prepare }
  prepare: { type: task, handler: echo, next: split }
  split:
    type: fan_out
    source: "{{ range(0, inputs.n) }}"
    task: { handler: echo, params: { v: "{{ item }}" } }
    next: join
  join: { type: fan_in, next: report }
  report: { type: task, handler: echo, next: end }
  end: { type: end }
`;

async function main() {
  execFileSync(process.execPath, [path.join(ROOT, 'ui', 'build.mjs')], { stdio: 'inherit' });
  const schema = `benchui_${Date.now().toString(36)}`;
  const admin = new pg.Pool({ connectionString: BENCH_DB, max: 4 });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-ui-'));
  writeFileSync(path.join(dir, 'bench_ui_fan.yaml'), YAML);
  let app: Awaited<ReturnType<typeof startBenchApp>> | undefined;
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  try {
    await migrateBenchSchema(admin, schema);
    const wf = loadWorkflow(YAML, 'bench_ui_fan.yaml').workflow!;
    const { job } = await createJob(admin, schema, {
      workflowId: wf.workflow_id,
      workflowVersion: wf.version,
      workflowSnapshot: wf as unknown as Record<string, unknown>,
      inputParams: { n: N },
      nodes: nodeSpecs(wf),
    });
    const t0 = performance.now();
    await insertFanOutChildren(admin, schema, {
      jobId: job.job_id,
      parentNodeId: 'split',
      children: Array.from({ length: N }, (_, i) => ({ index: i, inputParams: { v: i } })),
      maxRetries: 3,
    });
    const insertMs = performance.now() - t0;
    // A fan-out in flight: 60% completed, 2% failed, 8% running, the rest pending.
    await admin.query(
      `UPDATE "${schema}".dag_node_states SET status = (CASE
         WHEN fan_out_index % 100 < 60 THEN 'completed' WHEN fan_out_index % 100 < 62 THEN 'failed'
         WHEN fan_out_index % 100 < 70 THEN 'running' ELSE 'pending' END)::"${schema}".node_status,
         error_message = CASE WHEN fan_out_index % 100 BETWEEN 60 AND 61 THEN 'boom' END,
         completed_at = CASE WHEN fan_out_index % 100 < 62 THEN now() END
       WHERE job_id = $1 AND parent_node_id = 'split'`,
      [job.job_id],
    );
    await admin.query(
      `UPDATE "${schema}".dag_node_states SET status = CASE node_id WHEN 'split' THEN 'running'::"${schema}".node_status
         ELSE 'completed'::"${schema}".node_status END, started_at = now() - interval '1 minute',
         completed_at = CASE WHEN node_id = 'split' THEN NULL ELSE now() END
       WHERE job_id = $1 AND node_id IN ('start', 'prepare', 'split')`,
      [job.job_id],
    );
    await admin.query(
      `UPDATE "${schema}".dag_jobs SET status = 'running', started_at = now() - interval '1 minute' WHERE job_id = $1`,
      [job.job_id],
    );
    await admin.query(`ANALYZE "${schema}".dag_node_states`);

    app = await startBenchApp({ schema, workflowsDir: dir, taskHub: `benchui${Date.now().toString(36)}` });
    const base = `${app.host.url}/api/ui`;
    const jobUrl = `${base}/jobs/${job.job_id}`;
    // 100 failed children (a filter over the whole fan-out), and 100 children from an index near the end.
    const childrenUrls = [
      `${jobUrl}/children/split?status=failed`,
      `${jobUrl}/children/split?index=${N - 150}`,
    ];

    const page = await (await browser.newContext({ viewport: { width: 1400, height: 1000 } })).newPage();
    const problems: string[] = [];
    page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    page.on('pageerror', (e) => problems.push(e.message));
    // Warm-up (template compilation, the first connections).
    await page.goto(jobUrl);
    await page.waitForSelector('#graph .node[data-node-id="split"] .fanout-bar');
    for (const u of childrenUrls) await page.goto(u);

    const tti: number[] = [];
    const domJob: number[] = [];
    const childTti: number[] = [];
    const domChildren: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      await page.goto('about:blank');
      const a = performance.now();
      await page.goto(jobUrl, { waitUntil: 'commit' });
      await page.waitForSelector('#graph .node[data-node-id="split"] .fanout-bar');
      tti.push(performance.now() - a);
      domJob.push((await page.evaluate("document.getElementsByTagName('*').length")) as number);
      const text = await page.textContent('#graph [data-children-graph-link="split"]');
      if (!text?.includes(`/${N} done`)) throw new Error(`the fan-out node says "${text}"`);

      for (const u of childrenUrls) {
        await page.goto('about:blank');
        const b = performance.now();
        await page.goto(u, { waitUntil: 'commit' });
        await page.waitForSelector('#children-table [data-child-index]');
        await page.waitForLoadState('load');
        childTti.push(performance.now() - b);
        domChildren.push((await page.evaluate("document.getElementsByTagName('*').length")) as number);
        const rows = await page.locator('#children-table [data-child-index]').count();
        if (rows !== 100) throw new Error(`${u}: ${rows} rows, expected 100`);
      }
    }

    // Poll cost: the state document, then If-None-Match → 304 with no body.
    const stateUrl = `${jobUrl}/state`;
    const full = await fetch(stateUrl);
    const body = await full.text();
    const etag = full.headers.get('etag')!;
    const lat200: number[] = [];
    const lat304: number[] = [];
    let bytes304 = 0;
    for (let i = 0; i < 20; i++) {
      let t = performance.now();
      await (await fetch(stateUrl)).arrayBuffer();
      lat200.push(performance.now() - t);
      t = performance.now();
      const r = await fetch(stateUrl, { headers: { 'if-none-match': etag } });
      bytes304 += (await r.arrayBuffer()).byteLength;
      lat304.push(performance.now() - t);
      if (r.status !== 304) throw new Error(`expected 304, got ${r.status}`);
    }
    // What one live refresh of the open page costs: the requests the page makes in 5 s of polling.
    await page.goto(jobUrl);
    await page.waitForSelector('#graph .fanout-bar');
    const polled: Array<{ status: number; bytes: number }> = [];
    page.on('response', (res) => {
      if (res.url() === stateUrl)
        void res.body().then(
          (b) => polled.push({ status: res.status(), bytes: b.length }),
          () => polled.push({ status: res.status(), bytes: 0 }),
        );
    });
    await page.waitForTimeout(5000);

    // What the browser downloads: the page, the script, the stylesheet (raw and gzipped).
    const manifest = JSON.parse(
      readFileSync(path.join(ROOT, 'dist', 'ui', 'manifest.json'), 'utf8'),
    ) as Record<string, string>;
    const size = (f: string) => {
      const b = readFileSync(path.join(ROOT, 'dist', 'ui', 'static', f));
      return { bytes: b.length, gzipBytes: gzipSync(b).length };
    };
    const html = Buffer.from(await (await fetch(jobUrl)).text());
    const weight = {
      jobPageHtml: { bytes: html.length, gzipBytes: gzipSync(html).length },
      script: size(manifest['app.js']!),
      stylesheet: size(manifest['style.css']!),
    };
    const r1 = (x: number) => Math.round(x * 10) / 10;
    const results = {
      children: N,
      insertChildrenMs: Math.round(insertMs),
      jobPageTimeToInteractiveMs: { median: r1(median(tti)), runs: tti.map(r1) },
      jobPageDomNodes: Math.max(...domJob),
      childrenPageTimeToInteractiveMs: { median: r1(median(childTti)), runs: childTti.map(r1) },
      childrenPageDomNodes: Math.max(...domChildren),
      stateDocumentBytes: Buffer.byteLength(body),
      state200MsMedian: r1(median(lat200)),
      state304MsMedian: r1(median(lat304)),
      state304BodyBytes: bytes304,
      livePollsIn5s: polled.length,
      livePollStatuses: [...new Set(polled.map((p) => p.status))],
      livePollBodyBytes: polled.reduce((s, p) => s + p.bytes, 0),
      consoleErrors: problems.length,
      weight,
    };
    const pass =
      median(tti) < 2000 &&
      Math.max(...domJob) < 3000 &&
      Math.max(...domChildren) < 3000 &&
      bytes304 === 0 &&
      problems.length === 0;
    record({
      name: 'ui-fanout-page',
      target:
        'job page of a 100,000-child fan-out interactive < 2 s with bounded DOM nodes (< 3,000); an unchanged poll is one 304 without a body',
      pass,
      results,
      notes: `median of ${ROUNDS} runs; Chromium ${browser.version()}; Postgres state, dev host, same 2 cores`,
    });
    if (!pass) process.exitCode = 1;
  } finally {
    await browser.close();
    await app?.stop();
    await dropBenchSchema(admin, schema);
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
