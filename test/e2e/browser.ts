// Headless Chromium for the dashboard's browser tests: Debian's package (apt-get install chromium)
// driven by playwright-core through its executable path. Without it the tests skip locally and
// fail under CI=true. Each page records console errors and uncaught exceptions (CSP violations
// are console errors too) so a test can assert there were none.
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { describe } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const chromiumReady = existsSync(CHROMIUM);
export const describeBrowser = chromiumReady || process.env.CI === 'true' ? describe : describe.skip;
/** Screenshots the tests take (gitignored; a few are copied to docs/images by hand). */
export const SCREENSHOTS = path.join(__dirname, '..', '..', '.tmp', 'screenshots');

export async function launchBrowser(): Promise<Browser> {
  if (!chromiumReady) {
    throw new Error(`Chromium is not at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH).`);
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
}

export interface WatchedPage {
  page: Page;
  /** Console errors, page errors and failed requests seen so far. */
  problems: string[];
}

export async function openPage(browser: Browser): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  return { page, problems };
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`) });
}
