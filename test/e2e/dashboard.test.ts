// The operator dashboard in a real browser (docs/dashboard.md): headless Chromium driven by
// playwright-core against the local stack (dev host + Postgres + Azurite) running jobs for real.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { describeBrowser, launchBrowser, openPage, screenshot, type WatchedPage } from './browser';
import { ROOT, startStack, type Stack } from './stack';

const BRANCH = {
  workflow_id: 'ui_branch',
  name: 'branching for the dashboard',
  inputs: { count: { type: 'integer' } },
  nodes: {
    start: { type: 'start', next: 'measure' },
    measure: { type: 'task', handler: 'echo', params: { count: '{{ inputs.count }}' }, next: 'is_big' },
    is_big: {
      type: 'conditional',
      condition: '{{ inputs.count > 10 }}',
      branches: { true: 'big', false: 'small' },
    },
    big: { type: 'task', handler: 'echo', params: { mode: 'big' }, next: 'end' },
    small: { type: 'task', handler: 'echo', params: { mode: 'small' }, next: 'end' },
    end: { type: 'end', depends_on: { any_of: ['big', 'small'] } },
  },
};

const FAN = {
  workflow_id: 'ui_fan',
  name: 'a fan-out for the dashboard',
  inputs: { n: { type: 'integer' } },
  nodes: {
    start: { type: 'start', next: 'split' },
    split: {
      type: 'fan_out',
      source: '{{ range(0, inputs.n) }}',
      task: { handler: 'echo', params: { v: '{{ item }}' } },
      next: 'join',
    },
    join: { type: 'fan_in', next: 'end' },
    end: { type: 'end' },
  },
};

const SLOW = {
  workflow_id: 'ui_slow',
  name: 'a slow job to cancel',
  nodes: {
    start: { type: 'start', next: 'slow' },
    slow: { type: 'task', handler: 'sleep', params: { duration_seconds: 60 }, next: 'end' },
    end: { type: 'end' },
  },
};

const RERUN = {
  workflow_id: 'ui_rerun',
  name: 'fails once, then passes on rerun',
  nodes: {
    start: { type: 'start', next: 'flaky' },
    flaky: {
      type: 'task',
      handler: 'flaky_echo',
      params: { failure_rate: 0, fail_first_attempts: 2 },
      retry: { max_attempts: 0 },
      next: 'end',
    },
    end: { type: 'end' },
  },
};

const XSS = '<script>window.__xss = 1</script>';
const IMG = '"><img src=x onerror="window.__xss = 2">';
const HOSTILE = {
  workflow_id: 'ui_hostile',
  name: 'inputs that look like HTML',
  description: `a description with ${IMG} and ${XSS}`,
  inputs: { a: { type: 'string' }, b: { type: 'string' } },
  nodes: {
    start: { type: 'start', next: 'echoes' },
    echoes: {
      type: 'task',
      handler: 'echo',
      params: { a: '{{ inputs.a }}', b: '{{ inputs.b }}' },
      next: 'boom',
    },
    boom: {
      type: 'task',
      handler: 'fail',
      params: { error_message: '{{ inputs.b }} {{ inputs.a }}' },
      retry: { max_attempts: 0 },
      next: 'end',
    },
    end: { type: 'end' },
  },
};

describeBrowser('the dashboard in Chromium', () => {
  let stack: Stack;
  let browser: Browser;
  let w: WatchedPage;
  let page: Page;
  let failed = false;
  const ui = (p = '') => `${stack.url}/api/ui${p}`;
  const jobs: Record<string, string> = {};

  beforeAll(async () => {
    execFileSync(process.execPath, [path.join(ROOT, 'ui', 'build.mjs')], { stdio: 'pipe' });
    stack = await startStack();
    for (const wf of [BRANCH, FAN, SLOW, RERUN, HOSTILE]) stack.writeWorkflow(wf);
    stack.writeWorkflow(
      'workflow_id: ui_bad\nname: broken\nnodes:\n  start:\n    type: start\n    next: nowhere\n',
      'ui_bad.yaml',
    );
    browser = await launchBrowser();
    w = await openPage(browser);
    page = w.page;
    page.on('dialog', (d) => void d.accept());
    jobs.branch = await stack.submit('ui_branch', { count: 12 }, { correlation_id: 'corr-branch' });
    jobs.fan = await stack.submit('ui_fan', { n: 250 });
    jobs.rerun = await stack.submit('ui_rerun', {});
    jobs.hostile = await stack.submit('ui_hostile', { a: XSS, b: IMG }, { correlation_id: '<b>corr</b>' });
    await Promise.all(
      [jobs.branch, jobs.fan, jobs.rerun, jobs.hostile].map((j) => stack.waitForJob(j!, 120_000)),
    );
  }, 240_000);

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    await stack?.stop(failed);
  });

  const check = async <T>(fn: () => Promise<T>) => {
    try {
      return await fn();
    } catch (err) {
      failed = true;
      throw err;
    }
  };

  it('the overview counts jobs by status and lists recent jobs and workflows', () =>
    check(async () => {
      const res = await page.goto(ui());
      expect(res?.status()).toBe(200);
      const csp = res?.headers()['content-security-policy'] ?? '';
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
      // The first Tab reaches the skip link.
      await page.keyboard.press('Tab');
      expect(await page.evaluate('document.activeElement.className')).toBe('skip-link');
      expect(await page.textContent('[data-count="completed"] .n')).toBe('2');
      expect(await page.textContent('[data-count="failed"] .n')).toBe('2');
      expect(await page.locator('#recent-jobs [data-job-row]').count()).toBe(4);
      expect(await page.locator('#workflows a', { hasText: 'ui_fan' }).count()).toBe(1);
      await screenshot(page, 'overview');
    }));

  it('the job page draws the DAG: statuses as colour and text, the untaken branch greyed with its reason', () =>
    check(async () => {
      await page.goto(ui(`/jobs/${jobs.branch}`));
      await page.waitForSelector('#graph svg .node[data-node-id="end"]');
      const status = async (id: string) =>
        page.getAttribute(`#graph .node[data-node-id="${id}"]`, 'data-status');
      expect(await page.locator('#graph .node').count()).toBe(6);
      for (const id of ['start', 'measure', 'is_big', 'big', 'end'])
        expect(await status(id)).toBe('completed');
      expect(await status('small')).toBe('skipped');
      expect(await page.textContent('#graph .node[data-node-id="small"] .node-status')).toContain(
        'skipped: branch not taken',
      );
      expect(await page.textContent('#graph .node[data-node-id="big"] .node-status')).toContain('completed');
      // The edge into the untaken branch is drawn as untaken; its label names the branch.
      expect(await page.locator('#graph path.edge.untaken').count()).toBeGreaterThanOrEqual(1);
      expect(await page.locator('#graph text.edge-label', { hasText: 'false' }).count()).toBe(1);
      await screenshot(page, 'job-branching');
      // Keyboard: the graph's nodes are links in the tab order; Enter opens the panel.
      await page.focus('#graph .node[data-node-id="is_big"]');
      await page.keyboard.press('Enter');
      await page.waitForURL(/node=is_big/);
      await page.waitForSelector('#node-panel #node-output');
      expect(await page.textContent('#node-output')).toContain('"taken_branch": "big"');
      // A node opens its panel: rendered params, output, attempts.
      await page.click('#graph .node[data-node-id="measure"]');
      await page.waitForSelector('#node-panel #node-output');
      expect(await page.textContent('#node-params')).toContain('"count": 12');
      expect(await page.textContent('#node-output')).toContain('echoed_params');
      expect(await page.locator('#attempts tbody tr').first().textContent()).toContain('applied');
      await screenshot(page, 'node-panel');
    }));

  it('the job state answers 304 when nothing changed (one small request per poll)', () =>
    check(async () => {
      const url = ui(`/jobs/${jobs.branch}/state`);
      const first = await fetch(url);
      expect(first.status).toBe(200);
      const etag = first.headers.get('etag');
      expect(etag).toMatch(/^".+"$/);
      const again = await fetch(url, { headers: { 'if-none-match': etag! } });
      expect(again.status).toBe(304);
      expect(await again.text()).toBe('');
    }));

  it('a fan-out is one node with a progress bar and a link to its paged children', () =>
    check(async () => {
      await page.goto(ui(`/jobs/${jobs.fan}`));
      await page.waitForSelector('#graph .node[data-node-id="split"] .fanout-bar');
      expect(await page.locator('#graph .node').count()).toBe(4);
      expect(await page.textContent('#graph [data-children-graph-link="split"]')).toContain('250/250 done');
      expect(await page.locator('#graph .node[data-node-id="split"] rect.bar.status-completed').count()).toBe(
        1,
      );
      await screenshot(page, 'job-fan-out');
      // From the graph to the children's table.
      await page.click('#graph [data-children-graph-link="split"]');
      await page.waitForSelector('#children-table');
      expect(await page.locator('#children-table [data-child-index]').count()).toBe(100);
      expect(
        await page.getAttribute('#children-table [data-child-index]:first-child', 'data-child-index'),
      ).toBe('0');
      await page.click('#children-next');
      await page.waitForSelector('#children-table [data-child-index="100"]');
      // Jump to an index.
      await page.fill('#children-index', '245');
      await page.click('form.filters button[type=submit]');
      await page.waitForSelector('#children-table [data-child-index="245"]');
      expect(await page.locator('#children-table [data-child-index]').count()).toBe(5);
      // Filter by status: none failed.
      await page.selectOption('#children-status', 'failed');
      await page.waitForSelector('#children-table td.muted');
      await screenshot(page, 'fan-out-children');
      // A child opens in the job's node panel.
      await page.goto(ui(`/jobs/${jobs.fan}/children/split`));
      await page.click('#children-table [data-child-index="7"] a');
      await page.waitForSelector('#node-panel #node-output');
      expect(await page.textContent('#node-params')).toContain('"v": 7');
    }));

  it('cancel: the button asks, the job stops, the page follows it live', () =>
    check(async () => {
      const jobId = await stack.submit('ui_slow', {});
      await page.goto(ui(`/jobs/${jobId}`));
      await page.waitForSelector('#graph .node[data-node-id="slow"][data-status="running"]', {
        timeout: 30_000,
      });
      // The nodes monitor lists it among the running nodes.
      await page.goto(ui('/nodes'));
      expect(await page.locator(`#running-nodes [data-monitor-node="${jobId}/slow"]`).count()).toBe(1);
      await screenshot(page, 'nodes');
      await page.goto(ui(`/jobs/${jobId}`));
      await page.waitForSelector('#graph .node[data-node-id="slow"][data-status="running"]');
      expect(await page.isVisible('#cancel-button')).toBe(true);
      let asked = '';
      page.once('dialog', (d) => {
        asked = d.message();
      });
      await page.click('#cancel-button');
      await page.waitForSelector('#flash');
      expect(asked).toContain(`Cancel job ${jobId}?`);
      await page.waitForSelector('#job-status.status-cancelled', { timeout: 30_000 });
      expect(await page.textContent('#job-status')).toBe('cancelled');
      expect(await page.isVisible('#cancel-button')).toBe(false);
      await page.waitForSelector('#graph .node[data-node-id="end"][data-status="skipped"]');
      await screenshot(page, 'job-cancelled');
      await stack.waitForJob(jobId);
    }));

  it('the job page follows a change made elsewhere without reloading: status, graph and timeline', () =>
    check(async () => {
      const jobId = await stack.submit('ui_slow', {});
      await page.goto(ui(`/jobs/${jobId}`));
      await page.waitForSelector('#graph .node[data-node-id="slow"][data-status="running"]', {
        timeout: 30_000,
      });
      await page.evaluate('globalThis.__sameDocument = true');
      const before = await page.locator('#timeline-table [data-event-type]').count();
      // Cancelled through the JSON API, not the page.
      const r = await stack.api('POST', `/api/jobs/${jobId}/cancel`, { reason: 'from elsewhere' });
      expect(r.status).toBe(202);
      await page.waitForSelector('#job-status.status-cancelled', { timeout: 30_000 });
      await page.waitForSelector('#timeline-table [data-event-type="job_cancelled"]', { timeout: 30_000 });
      expect(await page.locator('#timeline-table [data-event-type]').count()).toBeGreaterThan(before);
      expect(await page.locator('#timeline-table tr.live').count()).toBeGreaterThan(0);
      expect(await page.evaluate('globalThis.__sameDocument')).toBe(true);
      // The events arrived once each.
      const types = await page
        .locator('#timeline-table [data-event-type]')
        .evaluateAll((rows) => rows.map((x) => x.getAttribute('data-event-type')));
      expect(types.filter((t) => t === 'job_cancelled')).toHaveLength(1);
      expect(types.filter((t) => t === 'job_created')).toHaveLength(1);
      await stack.waitForJob(jobId);
    }));

  it('rerun: a failed job runs again and the page follows it to completed', () =>
    check(async () => {
      await page.goto(ui(`/jobs/${jobs.rerun}`));
      expect(await page.textContent('#job-status')).toBe('failed');
      await page.waitForSelector('#graph .node[data-node-id="flaky"][data-status="failed"]');
      // Attempt 1 fails; the next attempt passes (fail_first_attempts 2): rerun until completed.
      for (let run = 2; run <= 4; run++) {
        await page.click('#rerun-button');
        await page.waitForSelector('#flash');
        expect(await page.textContent('#flash')).toContain(`run ${run}`);
        await page.waitForSelector('#job-status.status-completed, #job-status.status-failed', {
          timeout: 30_000,
        });
        await stack.waitForJob(jobs.rerun!);
        if ((await page.textContent('#job-status')) === 'completed') break;
        await page.reload();
      }
      await page.waitForSelector('#job-status.status-completed', { timeout: 30_000 });
      await page.waitForSelector('#graph .node[data-node-id="flaky"][data-status="completed"]');
      // The attempts view has every attempt of the node: the failed ones and the one that passed.
      await page.reload();
      const flaky = page.locator('#gantt [data-attempt^="flaky #"]');
      expect(await flaky.count()).toBeGreaterThanOrEqual(2);
      expect(
        await page.locator('#gantt [data-attempt^="flaky #"] rect.attempt-failed').count(),
      ).toBeGreaterThanOrEqual(1);
      expect(await page.locator('#gantt [data-attempt^="flaky #"] rect.attempt-completed').count()).toBe(1);
      await screenshot(page, 'attempts');
    }));

  it('the timeline filters by event type and node', () =>
    check(async () => {
      await page.goto(ui(`/jobs/${jobs.branch}`));
      const all = await page.locator('#timeline-table [data-event-type]').count();
      expect(all).toBeGreaterThan(8);
      await page.selectOption('#timeline-type', 'node_skipped');
      await page.waitForURL(/ev_type=node_skipped/);
      const types = await page
        .locator('#timeline-table [data-event-type]')
        .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-event-type')));
      expect(types).toEqual(['node_skipped']);
      expect(await page.textContent('#timeline-table tbody')).toContain('small');
      await page.selectOption('#timeline-type', '');
      await page.fill('#timeline-node', 'measure');
      await page.click('#timeline ~ form button[type=submit]');
      await page.waitForURL(/ev_node=measure/);
      const nodes = await page.locator('#timeline-table [data-event-type] td:nth-child(3)').allTextContents();
      expect(nodes.length).toBeGreaterThan(1);
      expect(new Set(nodes)).toEqual(new Set(['measure']));
      await screenshot(page, 'timeline');
    }));

  it('the jobs list filters by status, workflow and correlation id, and pages with a cursor', () =>
    check(async () => {
      await page.goto(ui('/jobs?limit=2'));
      expect(await page.locator('#jobs-table [data-job-row]').count()).toBe(2);
      const seen = new Set(
        await page
          .locator('#jobs-table [data-job-row]')
          .evaluateAll((r) => r.map((x) => x.getAttribute('data-job-row'))),
      );
      await page.click('#next-page');
      await page.waitForURL(/cursor=/);
      const second = await page
        .locator('#jobs-table [data-job-row]')
        .evaluateAll((r) => r.map((x) => x.getAttribute('data-job-row')));
      expect(second.length).toBe(2);
      for (const id of second) expect(seen.has(id)).toBe(false);
      await page.goto(ui('/jobs'));
      await page.selectOption('#filter-status', 'failed');
      await page.waitForURL(/status=failed/);
      const statuses = await page.locator('#jobs-table [data-job-row] .badge').allTextContents();
      expect(statuses.length).toBeGreaterThan(0);
      expect(new Set(statuses)).toEqual(new Set(['failed']));
      await page.goto(ui('/jobs'));
      await page.selectOption('#filter-workflow', 'ui_fan');
      await page.waitForURL(/workflow_id=ui_fan/);
      expect(await page.locator('#jobs-table [data-job-row]').count()).toBe(1);
      await page.goto(ui('/jobs'));
      await page.fill('#filter-correlation', 'corr-branch');
      await page.press('#filter-correlation', 'Enter');
      await page.waitForURL(/correlation_id=corr-branch/);
      expect(
        await page
          .locator('#jobs-table [data-job-row]')
          .evaluateAll((r) => r.map((x) => x.getAttribute('data-job-row'))),
      ).toEqual([jobs.branch]);
      // Time range (UTC): nothing was created in 2000; everything in the last day.
      await page.goto(ui('/jobs?from=2000-01-01T00:00&to=2000-01-02T00:00'));
      expect(await page.locator('#jobs-table [data-job-row]').count()).toBe(0);
      const since = new Date(Date.now() - 86_400_000).toISOString().slice(0, 16);
      await page.goto(ui(`/jobs?from=${since}`));
      expect(await page.locator('#jobs-table [data-job-row]').count()).toBeGreaterThanOrEqual(5);
      expect(await page.inputValue('#filter-from')).toBe(since);
      await screenshot(page, 'jobs');
      // Cancel from the list (it asks first, then shows the job).
      const slow = await stack.submit('ui_slow', {});
      await page.goto(ui('/jobs?workflow_id=ui_slow'));
      await page.waitForSelector(`[data-job-row="${slow}"] button.danger`);
      await page.click(`[data-job-row="${slow}"] button.danger`);
      await page.waitForSelector('#flash');
      await page.waitForSelector('#job-status.status-cancelled', { timeout: 30_000 });
      await stack.waitForJob(slow);
    }));

  it('inputs, outputs and errors holding <script> and "><img onerror> render as inert text', () =>
    check(async () => {
      for (const url of [
        ui(`/jobs/${jobs.hostile}?node=echoes`),
        ui(`/jobs/${jobs.hostile}?node=boom`),
        ui('/jobs'),
        ui(),
        ui('/workflows/ui_hostile'),
        ui('/nodes'),
      ]) {
        await page.goto(url);
        await page.waitForLoadState('load');
        expect(
          await page.evaluate(() => (globalThis as unknown as { __xss?: number }).__xss),
        ).toBeUndefined();
        expect(await page.locator('img').count()).toBe(0);
        expect(await page.locator('main script').count()).toBe(0);
      }
      await page.goto(ui(`/jobs/${jobs.hostile}?node=boom`));
      await page.waitForSelector('#graph svg');
      expect(await page.textContent('#job-inputs')).toContain(XSS);
      expect(await page.textContent('#node-error')).toContain(IMG);
      expect(await page.textContent('#node-params')).toContain('onerror');
      // The graph's tooltips carry the error as text too.
      expect(await page.textContent('#graph .node[data-node-id="boom"] title')).toContain(IMG);
      await page.goto(ui('/jobs?correlation_id=%3Cb%3Ecorr%3C%2Fb%3E'));
      expect(await page.textContent('#jobs-table')).toContain('<b>corr</b>');
      expect(await page.locator('#jobs-table b').count()).toBe(0);
      expect(await page.evaluate(() => (globalThis as unknown as { __xss?: number }).__xss)).toBeUndefined();
    }));

  it('the nodes monitor lists failed nodes across jobs; the health page shows every check', () =>
    check(async () => {
      await page.goto(ui('/nodes'));
      expect(await page.locator(`#failed-nodes [data-monitor-node="${jobs.hostile}/boom"]`).count()).toBe(1);
      expect(await page.textContent(`#failed-nodes [data-monitor-node="${jobs.hostile}/boom"]`)).toContain(
        IMG,
      );
      await page.goto(ui('/health'));
      const checks = await page
        .locator('#health-checks [data-check]')
        .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-check')));
      // Every check of GET /api/health, in its order.
      const api = await stack.api<{ checks: Record<string, unknown> }>('GET', '/api/health');
      expect(checks).toEqual(Object.keys(api.body.checks));
      expect(checks).toEqual(expect.arrayContaining(['postgres', 'queues', 'workflows', 'attempts']));
      expect(await page.textContent('#health-checks [data-check="postgres"]')).toContain('healthy');
      await screenshot(page, 'health');
    }));

  it('a workflow page draws the graph from the YAML and shows its source', () =>
    check(async () => {
      await page.goto(ui('/workflows/ui_branch'));
      await page.waitForSelector('#graph .node[data-node-id="small"]');
      expect(await page.locator('#graph .node').count()).toBe(6);
      expect(await page.textContent('#yaml-source')).toContain('workflow_id: ui_branch');
      await screenshot(page, 'workflow');
      // An invalid file: its problems at file:line:col, and its source.
      await page.goto(ui('/workflows'));
      expect(await page.textContent('#workflows')).toContain('ui_bad.yaml');
      await page.goto(ui('/workflows/ui_bad'));
      expect(await page.textContent('#problems')).toMatch(/ui_bad\.yaml:\d+:\d+: .*nowhere/);
      expect(await page.textContent('#yaml-source')).toContain('next: nowhere');
    }));

  it('assets: a version approved and the asset cleared from the page, each step in the audit log', () =>
    check(async () => {
      type Body = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
      expect((await stack.api('POST', '/api/bootstrap/seed-platforms?confirm=yes')).status).toBe(200);
      const sub = await stack.api<Body>('POST', '/api/platform/submit', {
        platform_id: 'ddh',
        workflow_id: 'hello_world',
        input_params: {},
        platform_refs: { dataset_id: 'ds-ui', resource_id: 'res-<b>1</b>' },
      });
      expect(sub.status, JSON.stringify(sub.body)).toBe(202);
      const assetId = sub.body.asset_id as string;
      for (let i = 0; ; i++) {
        const v = await stack.api<Body>('GET', `/api/assets/${assetId}/versions/0`);
        if (v.body.processing_state === 'completed') break;
        if (i > 300) throw new Error(`version not processed: ${JSON.stringify(v.body)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      await page.goto(ui('/assets'));
      expect(await page.textContent(`[data-asset-row="${assetId}"]`)).toContain('res-<b>1</b>');
      await page.click(`[data-asset-row="${assetId}"] a`);
      await page.waitForSelector('#versions-table [data-version="0"] form');
      // A rejection needs a reason: the API's rule, shown on the page.
      await page.fill('#versions-table [data-version="0"] .reviewer', 'alice');
      await page.click('#versions-table [data-version="0"] button.reject');
      await page.waitForSelector('#action-error');
      expect(await page.textContent('#action-error')).toContain('reason is required');
      await page.fill('#versions-table [data-version="0"] .reviewer', 'alice');
      await page.click('#versions-table [data-version="0"] button.approve');
      await page.waitForSelector('#flash');
      expect(await page.textContent('#flash')).toBe('Version 0 approved.');
      expect(await page.textContent('#versions-table [data-version="0"] .approval')).toBe(
        'approved by alice',
      );
      await page.fill('#clearance-actor', 'steward');
      await page.click('#clearance-button');
      await page.waitForSelector('#flash');
      expect(await page.textContent('#asset-clearance-state')).toContain('ouo · cleared by steward');
      const audit = await page.textContent('#audit-table');
      expect(audit).toContain('alice');
      expect(audit).toContain('steward');
      expect(await page.locator('#audit-table [data-audit-action]').count()).toBeGreaterThanOrEqual(3);
      await screenshot(page, 'asset');
    }));

  it('actions need the CSRF token; assets are content-hashed and cached', () =>
    check(async () => {
      const res = await fetch(ui(`/jobs/${jobs.branch}/cancel`), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'csrf=x',
        redirect: 'manual',
      });
      expect(res.status).toBe(403);
      await page.goto(ui());
      const css = await page.getAttribute('link[rel=stylesheet]', 'href');
      expect(css).toMatch(/\/api\/ui\/static\/style\.[0-9a-f]{12}\.css$/);
      const asset = await fetch(`${stack.url}${css}`);
      expect(asset.status).toBe(200);
      expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect((await fetch(`${stack.url}/api/ui/static/style.000000000000.css`)).status).toBe(404);
    }));

  it('status text meets WCAG AA contrast (4.5:1) on every page it appears on', () =>
    check(async () => {
      const worst: string[] = [];
      for (const url of [
        ui(),
        ui('/jobs'),
        ui(`/jobs/${jobs.branch}`),
        ui(`/jobs/${jobs.fan}/children/split`),
        ui('/nodes'),
      ]) {
        await page.goto(url);
        await page.waitForLoadState('load');
        if (url.includes('/jobs/') && !url.includes('/children/')) await page.waitForSelector('#graph svg');
        const found = (await page.evaluate(`(() => {
          const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
          const lum = ([r, g, b]) => {
            const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
            return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
          };
          const bg = (el) => {
            for (let e = el; e; e = e.parentElement) {
              const c = rgb(getComputedStyle(e).backgroundColor);
              if (c.length >= 3 && (c.length < 4 || c[3] > 0)) return c;
            }
            return [255, 255, 255];
          };
          const out = [];
          for (const el of document.querySelectorAll('[class*="status-"]')) {
            const texts = el instanceof SVGElement ? el.querySelectorAll('text') : [el];
            for (const t of texts) {
              if (!t.textContent.trim()) continue;
              const cs = getComputedStyle(t);
              const fg = rgb(t instanceof SVGElement ? cs.fill : cs.color);
              const back = t instanceof SVGElement ? [255, 255, 255] : bg(t);
              const [a, b] = [lum(fg), lum(back)].sort((x, y) => y - x);
              out.push({ text: t.textContent.trim().slice(0, 30), ratio: (a + 0.05) / (b + 0.05) });
            }
          }
          return out;
        })()`)) as Array<{ text: string; ratio: number }>;
        expect(found.length).toBeGreaterThan(0);
        for (const f of found) if (f.ratio < 4.5) worst.push(`${url}: "${f.text}" ${f.ratio.toFixed(2)}:1`);
      }
      expect(worst).toEqual([]);
    }));

  it('no page logged a console error or threw', () =>
    check(async () => {
      expect(w.problems).toEqual([]);
    }));
});
