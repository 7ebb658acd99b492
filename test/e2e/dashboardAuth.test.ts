// The dashboard behind a function key (docs/dashboard.md "Security"): a login form, the key in an
// HttpOnly SameSite=Strict cookie (checked by the Functions host itself), CSRF tokens on actions,
// no open redirect after login.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { describeBrowser, launchBrowser, openPage, screenshot, type WatchedPage } from './browser';
import { ROOT, startStack, type Stack } from './stack';

const KEY = 'dashboard-key-1';
const SLOW = {
  workflow_id: 'ui_auth_slow',
  name: 'a slow job to cancel',
  nodes: {
    start: { type: 'start', next: 'slow' },
    slow: { type: 'task', handler: 'sleep', params: { duration_seconds: 60 }, next: 'end' },
    end: { type: 'end' },
  },
};

describeBrowser('the dashboard with DAG_API_KEY set', () => {
  let stack: Stack;
  let browser: Browser;
  let w: WatchedPage;
  let page: Page;
  let context: BrowserContext;
  let failed = false;
  const ui = (p = '') => `${stack.url}/api/ui${p}`;
  const check = async <T>(fn: () => Promise<T>) => {
    try {
      return await fn();
    } catch (err) {
      failed = true;
      throw err;
    }
  };
  const cookieHeader = async () => (await context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');

  beforeAll(async () => {
    execFileSync(process.execPath, [path.join(ROOT, 'ui', 'build.mjs')], { stdio: 'pipe' });
    stack = await startStack({ apiKey: KEY, shippedWorkflows: false });
    stack.writeWorkflow(SLOW);
    browser = await launchBrowser();
    w = await openPage(browser);
    page = w.page;
    context = page.context();
    page.on('dialog', (d) => void d.accept());
  }, 120_000);

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    await stack?.stop(failed);
  });

  it('without the key, pages redirect to the login form and the state document answers 401', () =>
    check(async () => {
      const r = await fetch(ui('/jobs?status=failed'), { redirect: 'manual' });
      expect(r.status).toBe(303);
      expect(r.headers.get('location')).toBe('/api/ui/login?next=%2Fapi%2Fui%2Fjobs%3Fstatus%3Dfailed');
      const s = await fetch(ui('/jobs/j_nope/state'));
      expect(s.status).toBe(401);
      // A forged key cookie is not enough.
      const forged = await fetch(ui(), { redirect: 'manual', headers: { cookie: 'dag_ui_key=guess' } });
      expect(forged.status).toBe(303);
    }));

  it('a wrong key is refused; the right one sets an HttpOnly SameSite=Strict cookie and returns to the page', () =>
    check(async () => {
      await page.goto(ui('/jobs?status=failed'));
      expect(new URL(page.url()).pathname).toBe('/api/ui/login');
      await page.fill('#key', 'wrong-key');
      await page.click('button[type=submit]');
      await page.waitForSelector('#login-error');
      await screenshot(page, 'login');
      await page.fill('#key', KEY);
      await page.click('main button[type=submit]');
      await page.waitForURL(/\/api\/ui\/jobs\?status=failed$/);
      const key = (await context.cookies()).find((c) => c.name === 'dag_ui_key');
      expect(key).toMatchObject({ value: KEY, httpOnly: true, sameSite: 'Strict', path: '/api/ui' });
      const csrf = (await context.cookies()).find((c) => c.name === 'dag_ui_csrf');
      expect(csrf).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
      // The cookie is invisible to scripts.
      expect(await page.evaluate('document.cookie')).toBe('');
    }));

  it('actions need the CSRF token of the session and a same-origin Origin', () =>
    check(async () => {
      const jobId = await stack.submit('ui_auth_slow', {});
      const cookie = await cookieHeader();
      const token = (await context.cookies()).find((c) => c.name === 'dag_ui_csrf')!.value;
      const post = (body: string, headers: Record<string, string> = {}) =>
        fetch(ui(`/jobs/${jobId}/cancel`), {
          method: 'POST',
          redirect: 'manual',
          headers: { 'content-type': 'application/x-www-form-urlencoded', cookie, ...headers },
          body,
        });
      expect((await post('csrf=' + '0'.repeat(64))).status).toBe(403);
      expect((await post(`csrf=${token}`, { origin: 'https://evil.example' })).status).toBe(403);
      // Without the key cookie the token alone does nothing.
      const noKey = await fetch(ui(`/jobs/${jobId}/cancel`), {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `dag_ui_csrf=${token}` },
        body: `csrf=${token}`,
      });
      expect(noKey.status).toBe(303);
      expect(noKey.headers.get('location')).toMatch(/^\/api\/ui\/login/);
      const job = await stack.api<{ job: { status: string; cancel_requested_at: string | null } }>(
        'GET',
        `/api/jobs/${jobId}`,
        undefined,
        { 'x-functions-key': KEY },
      );
      expect(job.body.job.cancel_requested_at).toBeNull();
      // The browser's form carries it: cancel from the page.
      await page.goto(ui(`/jobs/${jobId}`));
      await page.click('#cancel-button');
      await page.waitForSelector('#job-status.status-cancelled', { timeout: 30_000 });
      await stack.waitForJob(jobId);
    }));

  it('login never redirects off the dashboard', () =>
    check(async () => {
      // Logged in, the login page sends the browser on to `next` — only a dashboard path.
      await page.goto(ui('/login?next=https%3A%2F%2Fevil.example%2F'));
      expect(page.url()).toBe(ui());
      await page.goto(ui('/login?next=%2Fapi%2Fui%2F%2Fevil.example'));
      expect(page.url()).toBe(ui());
      await page.goto(ui('/login?next=%2Fapi%2Fui%2Fworkflows'));
      expect(page.url()).toBe(ui('/workflows'));
      // The form post too.
      const token = (await context.cookies()).find((c) => c.name === 'dag_ui_csrf')!.value;
      const r = await fetch(ui('/login'), {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `dag_ui_csrf=${token}` },
        body: new URLSearchParams({ csrf: token, key: KEY, next: 'https://evil.example/' }).toString(),
      });
      expect(r.status).toBe(303);
      expect(r.headers.get('location')).toBe('/api/ui');
    }));

  it('sign out forgets the key', () =>
    check(async () => {
      await page.goto(ui());
      await page.click('header button[type=submit]');
      await page.waitForURL(/\/api\/ui\/login$/);
      expect((await context.cookies()).find((c) => c.name === 'dag_ui_key')).toBeUndefined();
      await page.goto(ui('/jobs'));
      expect(new URL(page.url()).pathname).toBe('/api/ui/login');
      expect(w.problems).toEqual([]);
    }));
});
