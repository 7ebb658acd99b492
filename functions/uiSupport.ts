// The dashboard's plumbing (docs/dashboard.md): nunjucks rendering with autoescape, the built assets
// (content-hashed names from dist/ui/manifest.json), security headers (a CSP without unsafe-inline),
// the login cookie, CSRF tokens and ETags.
//
// The key: the UI's routes are anonymous for the Functions host (a browser cannot send
// x-functions-key on a navigation), so the app checks the key itself — by asking the host. A key is
// valid when the host accepts it on the function-level route ui/keycheck, and a key is needed at all
// when the host refuses that route without one. The host is reached at WEBSITE_HOSTNAME (set by App
// Service, and by the dev host), never at the request's Host header, which a caller controls.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Cookie, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import nunjucks from 'nunjucks';
import { z } from 'zod';
import { AppError, isAppError } from './appError';
import { isDbError } from '../db';
import { HTTP_STATUS } from './http';
import { services } from './services';

export const UI_BASE = '/api/ui';

/** A text field of a query or form: at most `max` characters, trimmed, blank is none. */
export const optionalText = (max: number) =>
  z
    .string()
    .max(max)
    .optional()
    .transform((s) => (s === undefined || s.trim() === '' ? undefined : s.trim()));
const KEY_COOKIE = 'dag_ui_key';
const CSRF_COOKIE = 'dag_ui_csrf';

/** The package root, from the sources (functions/) or the build (dist/functions/). */
function packageRoot(): string {
  for (const c of [path.resolve(__dirname, '..'), path.resolve(__dirname, '..', '..')]) {
    if (existsSync(path.join(c, 'ui', 'templates'))) return c;
  }
  throw new Error(`The dashboard's templates (ui/templates) are not next to ${__dirname}.`);
}

let env: nunjucks.Environment | undefined;
function environment(): nunjucks.Environment {
  if (env) return env;
  const root = packageRoot();
  env = new nunjucks.Environment(new nunjucks.FileSystemLoader(path.join(root, 'ui', 'templates')), {
    autoescape: true,
    throwOnUndefined: false,
    trimBlocks: true,
    lstripBlocks: true,
  });
  env.addFilter('json', (v: unknown) => JSON.stringify(v ?? null, null, 2));
  env.addFilter('iso', (v: unknown) => (v instanceof Date ? v.toISOString().replace('.000Z', 'Z') : v));
  env.addFilter('duration', (ms: unknown) => formatDuration(typeof ms === 'number' ? ms : null));
  env.addFilter('underscores', (s: unknown) => String(s ?? '').replace(/_/g, ' '));
  return env;
}

export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 120) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 120) return `${m} min ${Math.round(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

interface Manifest {
  'app.js': string;
  'style.css': string;
}
let manifest: { value: Manifest; dir: string } | undefined;

/** The built assets; `npm run build` (or `node ui/build.mjs`) writes them. */
export function assets(): { value: Manifest; dir: string } {
  if (manifest) return manifest;
  const dir = path.join(packageRoot(), 'dist', 'ui');
  const file = path.join(dir, 'manifest.json');
  if (!existsSync(file)) {
    throw new AppError(
      'UNAVAILABLE',
      `The dashboard's assets are not built (${file} is missing): run npm run build.`,
    );
  }
  manifest = { value: JSON.parse(readFileSync(file, 'utf8')) as Manifest, dir };
  return manifest;
}

export const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

export function securityHeaders(): Record<string, string> {
  return {
    'content-security-policy': CSP,
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'same-origin',
  };
}

export interface UiSession {
  csrf: string;
  /** The CSRF cookie to set (first visit). */
  setCookies: Cookie[];
  loggedIn: boolean;
  keyRequired: boolean;
}

export function render(
  template: string,
  ctx: Record<string, unknown>,
  session: UiSession,
  status = 200,
): HttpResponseInit {
  const a = assets().value;
  for (const k of ['base', 'csrf', 'session', 'assets']) {
    if (k in ctx) throw new Error(`render(${template}): "${k}" is reserved for the layout`);
  }
  const body = environment().render(template, {
    ...ctx,
    base: UI_BASE,
    csrf: session.csrf,
    session,
    assets: { js: `${UI_BASE}/static/${a['app.js']}`, css: `${UI_BASE}/static/${a['style.css']}` },
  });
  return {
    status,
    body,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      ...securityHeaders(),
    },
    cookies: session.setCookies,
  };
}

export function redirect(location: string, cookies: Cookie[] = []): HttpResponseInit {
  return { status: 303, headers: { location, 'cache-control': 'no-store', ...securityHeaders() }, cookies };
}

export function readCookies(req: HttpRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (req.headers.get('cookie') ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i <= 0) continue;
    const k = part.slice(0, i).trim();
    if (!Object.hasOwn(out, k)) out[k] = decodeURIComponent(part.slice(i + 1).trim());
  }
  return out;
}

function isHttps(req: HttpRequest): boolean {
  return new URL(req.url).protocol === 'https:' || req.headers.get('x-forwarded-proto') === 'https';
}

export function cookie(req: HttpRequest, name: string, value: string, maxAge?: number): Cookie {
  return {
    name,
    value,
    path: UI_BASE,
    httpOnly: true,
    sameSite: 'Strict',
    secure: isHttps(req),
    ...(maxAge !== undefined ? { maxAge } : {}),
  };
}

// ----------------------------------------------------------------------------------------------- key

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
/** Keys the host accepted (by hash) and until when; whether the host needs a key at all. */
const validKeys = new Map<string, number>();
let requirement: { required: boolean; until: number } | undefined;
const KEY_TTL_MS = 60_000;

function hostOrigin(): string {
  const h = services().config.WEBSITE_HOSTNAME;
  if (!h) {
    throw new AppError(
      'UNAVAILABLE',
      'WEBSITE_HOSTNAME is not set, so the dashboard cannot check keys with the Functions host.',
    );
  }
  return /^(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/.test(h) ? `http://${h}` : `https://${h}`;
}

async function hostAccepts(key: string | null): Promise<boolean> {
  const res = await fetch(`${hostOrigin()}/api/ui/keycheck`, {
    headers: key ? { 'x-functions-key': key } : {},
    redirect: 'manual',
    signal: AbortSignal.timeout(10_000),
  });
  await res.arrayBuffer().catch(() => undefined);
  if (res.status === 204) return true;
  if (res.status === 401 || res.status === 403) return false;
  throw new AppError('UNAVAILABLE', `The Functions host answered ${res.status} to the key check.`);
}

export async function keyRequired(): Promise<boolean> {
  if (requirement && requirement.until > Date.now()) return requirement.required;
  const required = !(await hostAccepts(null));
  requirement = { required, until: Date.now() + KEY_TTL_MS };
  return required;
}

export async function keyValid(key: string): Promise<boolean> {
  if (!key || key.length > 512) return false;
  const h = sha(key);
  const until = validKeys.get(h);
  if (until && until > Date.now()) return true;
  const ok = await hostAccepts(key);
  if (ok) validKeys.set(h, Date.now() + KEY_TTL_MS);
  return ok;
}

/** The session of a request: its CSRF token (made on the first visit) and whether it is logged in. */
export async function session(req: HttpRequest): Promise<UiSession> {
  const cookies = readCookies(req);
  const setCookies: Cookie[] = [];
  let csrf = cookies[CSRF_COOKIE] ?? '';
  if (!/^[0-9a-f]{64}$/.test(csrf)) {
    csrf = randomBytes(32).toString('hex');
    setCookies.push(cookie(req, CSRF_COOKIE, csrf));
  }
  const required = await keyRequired();
  const loggedIn = !required || (await keyValid(cookies[KEY_COOKIE] ?? ''));
  return { csrf, setCookies, loggedIn, keyRequired: required };
}

export function loginCookie(req: HttpRequest, key: string): Cookie {
  return cookie(req, KEY_COOKIE, key, 12 * 3600);
}

export function logoutCookie(req: HttpRequest): Cookie {
  return cookie(req, KEY_COOKIE, '', 0);
}

/** Sign-out: the key is checked with the host again at its next use. */
export function forgetKey(key: string): void {
  validKeys.delete(sha(key));
}

/** Reads a urlencoded form (≤ 64 KiB) and checks its CSRF token and Origin. */
export async function readForm(req: HttpRequest, s: UiSession): Promise<URLSearchParams> {
  const text = await req.text();
  if (text.length > 65536) throw new AppError('PAYLOAD_TOO_LARGE', 'The form is larger than 64 KiB.');
  const form = new URLSearchParams(text);
  const origin = req.headers.get('origin');
  if (origin && origin !== 'null' && origin !== new URL(req.url).origin) {
    throw new AppError('FORBIDDEN', `A form from ${origin} is refused (cross-site request).`);
  }
  const token = form.get('csrf') ?? '';
  const a = Buffer.from(token);
  const b = Buffer.from(s.csrf);
  if (!token || a.length !== b.length || !timingSafeEqual(a, b)) {
    throw new AppError(
      'FORBIDDEN',
      'The form has no valid CSRF token (it is older than your session cookie): reload the page and retry.',
    );
  }
  return form;
}

// ---------------------------------------------------------------------------------------------- etag

export function etagOf(body: string): string {
  return `"${createHash('sha1').update(body).digest('base64url')}"`;
}

/** A JSON response with an ETag; 304 without a body when the client has it already. */
export function jsonWithEtag(req: HttpRequest, value: unknown): HttpResponseInit {
  const body = JSON.stringify(value);
  const etag = etagOf(body);
  const headers = {
    etag,
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
  };
  const inm = req.headers.get('if-none-match');
  if (inm && inm.split(',').some((t) => t.trim() === etag)) return { status: 304, headers };
  return { status: 200, body, headers: { ...headers, 'content-type': 'application/json; charset=utf-8' } };
}

// -------------------------------------------------------------------------------------------- errors

type Handler = (req: HttpRequest, ctx: InvocationContext, s: UiSession) => Promise<HttpResponseInit>;

/**
 * Wraps a page or an action: the session first (a logged-out browser goes to the login page, a
 * script gets 401), and errors as an HTML page.
 */
export function uiRoute(
  fn: Handler,
  opts: { public?: boolean; json?: boolean } = {},
): (req: HttpRequest, ctx: InvocationContext) => Promise<HttpResponseInit> {
  return async (req, ctx) => {
    let s: UiSession = { csrf: '', setCookies: [], loggedIn: false, keyRequired: true };
    try {
      s = await session(req);
      if (!s.loggedIn && !opts.public) {
        if (opts.json) return { status: 401, jsonBody: { error: { code: 'UNAUTHORIZED' } } };
        const next = new URL(req.url);
        return redirect(
          `${UI_BASE}/login?next=${encodeURIComponent(next.pathname + next.search)}`,
          s.setCookies,
        );
      }
      return await fn(req, ctx, s);
    } catch (err) {
      let status = 500;
      let message = `Internal error (invocation ${ctx.invocationId}); see the logs.`;
      if (isAppError(err)) {
        status = HTTP_STATUS[err.code];
        message = err.message;
      } else if (isDbError(err) && err.code === 'VALIDATION') {
        status = 400;
        message = err.message;
      } else {
        services().log.error('unhandled error in a dashboard page', {
          invocation: ctx.invocationId,
          function: ctx.functionName,
          error: err instanceof Error ? err.stack : String(err),
        });
      }
      if (opts.json) return { status, jsonBody: { error: { message } } };
      try {
        return render('error.njk', { status, message, title: `Error ${status}` }, s, status);
      } catch {
        return { status, body: message, headers: { 'content-type': 'text/plain; charset=utf-8' } };
      }
    }
  };
}
