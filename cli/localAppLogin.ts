// The local stack's app login: as on Azure, the Function App and the worker connect as a login that is a
// member of the app role (data privileges only), not as the administrator that migrates. The login
// (<app role>_login) gets a fresh random password at every start. Where the administrator may not create
// roles (a managed server you do not own), the stack falls back to DATABASE_URL and says so.
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { sql } from '../db';

export interface LocalLogin {
  name: string;
  url: string;
}

export async function ensureLocalLogin(
  admin: pg.Pool,
  adminUrl: string,
  appRole: string,
): Promise<LocalLogin | undefined> {
  const name = `${appRole}_login`.slice(0, 63);
  const password = randomBytes(16).toString('hex');
  const exists = await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [name]);
  const verb = exists.rowCount ? 'ALTER' : 'CREATE';
  try {
    await admin.query(`${verb} ROLE ${sql.ident(name).text} LOGIN PASSWORD ${sql.literal(password).text}`);
  } catch (err) {
    if ((err as { code?: string }).code === '42501') return undefined;
    throw err;
  }
  const u = new URL(adminUrl);
  u.username = name;
  u.password = password;
  return { name, url: u.toString() };
}
