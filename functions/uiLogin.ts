// The dashboard's sign-in (docs/dashboard.md): a function key checked against the host, kept in a
// cookie; sign-out forgets it.
import type { HttpRequest, InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { parseQuery } from './http';
import {
  forgetKey,
  keyValid,
  loginCookie,
  logoutCookie,
  optionalText,
  readCookies,
  readForm,
  redirect,
  render,
  UI_BASE,
  type UiSession,
} from './uiSupport';

const LoginQuery = z.strictObject({ next: optionalText(2000), error: optionalText(10) });

/** Only a path of the dashboard is a valid place to go back to after login. */
function safeNext(next: string | undefined | null): string {
  return next && next.startsWith(`${UI_BASE}/`) && !next.startsWith(`${UI_BASE}//`) && !/[\\\s]/.test(next)
    ? next
    : UI_BASE;
}

export async function loginPage(req: HttpRequest, _ctx: InvocationContext, sess: UiSession) {
  const q = parseQuery(req, LoginQuery);
  if (sess.loggedIn && sess.keyRequired) return redirect(safeNext(q.next), sess.setCookies);
  return render(
    'login.njk',
    { title: 'Sign in', next: safeNext(q.next), failed: q.error === '1', keyRequired: sess.keyRequired },
    sess,
  );
}

export async function loginAction(req: HttpRequest, _ctx: InvocationContext, sess: UiSession) {
  const form = await readForm(req, sess);
  const key = form.get('key') ?? '';
  const next = safeNext(form.get('next'));
  if (!(await keyValid(key))) {
    return redirect(`${UI_BASE}/login?error=1&next=${encodeURIComponent(next)}`, sess.setCookies);
  }
  return redirect(next, [...sess.setCookies, loginCookie(req, key)]);
}

export async function logoutAction(req: HttpRequest, _ctx: InvocationContext, sess: UiSession) {
  await readForm(req, sess);
  const key = readCookies(req).dag_ui_key;
  if (key) forgetKey(key);
  return redirect(`${UI_BASE}/login`, [logoutCookie(req)]);
}
