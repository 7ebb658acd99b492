// The connection pool: DATABASE_URL or DAG_DB_HOST/PORT/NAME/USER, password or Microsoft Entra token
// auth (Azure Database for PostgreSQL with a managed identity). Every variable is documented in
// docs/database.md.
import { withSettingAliases } from './settingAliases';
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import pg from 'pg';
import { z } from 'zod';
import { DbError } from './errors';
import { intSetting, optionalSetting, parseSettings, type Settings } from '../lib/loadSettings';
import { DEFAULT_SCHEMA } from './tables';

export const ENTRA_SCOPE = 'https://ossrdbms-aad.database.windows.net/.default';

export type DbAuth = 'password' | 'entra';
export type DbSslMode = 'disable' | 'require' | 'verify-full';

export interface DbConfig {
  /** postgres://user:pass@host:port/db?sslmode=... (wins over host/port/database/user when set). */
  connectionString?: string;
  host?: string;
  port?: number;
  database?: string;
  user?: string;
  password?: string;
  auth: DbAuth;
  /** undefined: as the connection string says (sslmode), else off; entra defaults to verify-full. */
  ssl?: DbSslMode;
  /** The schema holding the dag_* tables. */
  schema: string;
  poolMax: number;
  /** Server-side statement_timeout for every connection, 0 = none. */
  statementTimeoutMs: number;
  idleTimeoutMs: number;
  connectTimeoutMs: number;
  applicationName: string;
  /** Token scope for Entra auth. */
  entraScope: string;
}

/** The pool type every zone outside db/ names (they may not import pg). */
export type DbPool = pg.Pool;

const oneOf = <T extends string>(allowed: readonly T[]) =>
  z
    .string()
    .optional()
    .transform((s, ctx) => {
      const raw = s?.trim();
      if (!raw) return undefined;
      const v = raw.toLowerCase() as T;
      if (!allowed.includes(v)) {
        ctx.addIssue({ code: 'custom', message: `is not one of ${allowed.join(', ')}` });
        return z.NEVER;
      }
      return v;
    });
const int = (fallback: number, min: number, max: number) =>
  intSetting(fallback, min, max, `is not an integer between ${min} and ${max}`);

const DbEnvSchema = z.object({
  DAG_DB_AUTH: oneOf(['password', 'entra'] as const),
  DATABASE_URL: optionalSetting,
  DAG_DB_HOST: optionalSetting,
  DAG_DB_USER: optionalSetting,
  DAG_DB_SCHEMA: optionalSetting,
  DAG_DB_SSL: oneOf(['disable', 'require', 'verify-full'] as const),
  DAG_DB_PORT: int(5432, 1, 65535),
  DAG_DB_NAME: optionalSetting,
  DAG_DB_PASSWORD: z.string().optional(),
  DAG_DB_POOL_MAX: int(10, 1, 1000),
  DAG_DB_STATEMENT_TIMEOUT_MS: int(30_000, 0, 86_400_000),
  DAG_DB_IDLE_TIMEOUT_MS: int(30_000, 0, 86_400_000),
  DAG_DB_CONNECT_TIMEOUT_MS: int(10_000, 0, 600_000),
  DAG_DB_APPLICATION_NAME: optionalSetting,
  DAG_DB_ENTRA_SCOPE: optionalSetting,
});

/**
 * The settings without the blank ones: an app setting that is present but empty means "not set" (Core
 * Tools passes local.settings.json's empty values through, the portal keeps empty app settings).
 */
export function withoutBlankSettings<E extends Record<string, string | undefined>>(env: E): E {
  return Object.fromEntries(
    Object.entries(withSettingAliases(env)).filter(([, v]) => v !== undefined && v.trim() !== ''),
  ) as E;
}

/** Reads the database configuration from environment variables (see docs/database.md). */
export function loadDbConfig(settings: Settings = process.env): DbConfig {
  const r = parseSettings(DbEnvSchema, withSettingAliases(settings));
  if (!r.ok) {
    const p = r.problems[0]!;
    throw new DbError('CONFIG', `${p.variable}=${JSON.stringify(p.value)} ${p.message}.`);
  }
  const e = r.config;
  const auth = e.DAG_DB_AUTH ?? 'password';
  const connectionString = e.DATABASE_URL;
  const host = e.DAG_DB_HOST;
  if (!connectionString && !host) {
    throw new DbError(
      'CONFIG',
      'No database configured: set DATABASE_URL (postgres://user@host:5432/db) or DAG_DB_HOST, DAG_DB_NAME and DAG_DB_USER.',
    );
  }
  const user = e.DAG_DB_USER;
  if (auth === 'entra' && !connectionString && !user) {
    throw new DbError(
      'CONFIG',
      'DAG_DB_AUTH=entra needs DAG_DB_USER: the Entra principal name (the managed identity or group) granted in PostgreSQL.',
    );
  }
  const schema = e.DAG_DB_SCHEMA ?? DEFAULT_SCHEMA;
  if (Buffer.byteLength(schema) > 63 || schema.includes('\u0000')) {
    throw new DbError(
      'CONFIG',
      `DAG_DB_SCHEMA=${JSON.stringify(schema)} is not a valid schema name (1..63 bytes).`,
    );
  }
  return {
    ...(connectionString ? { connectionString } : {}),
    ...(host ? { host } : {}),
    port: e.DAG_DB_PORT,
    ...(e.DAG_DB_NAME ? { database: e.DAG_DB_NAME } : {}),
    ...(user ? { user } : {}),
    ...(e.DAG_DB_PASSWORD ? { password: e.DAG_DB_PASSWORD } : {}),
    auth,
    ...(e.DAG_DB_SSL ? { ssl: e.DAG_DB_SSL } : {}),
    schema,
    poolMax: e.DAG_DB_POOL_MAX,
    statementTimeoutMs: e.DAG_DB_STATEMENT_TIMEOUT_MS,
    idleTimeoutMs: e.DAG_DB_IDLE_TIMEOUT_MS,
    connectTimeoutMs: e.DAG_DB_CONNECT_TIMEOUT_MS,
    applicationName: e.DAG_DB_APPLICATION_NAME ?? 'rmhdagmaster',
    entraScope: e.DAG_DB_ENTRA_SCOPE ?? ENTRA_SCOPE,
  };
}

export interface TokenProviderOptions {
  /** Refresh this long before the token expires (default 5 minutes). */
  refreshMarginMs?: number;
  /** Clock, for tests. */
  now?: () => number;
}

/**
 * A pg password callback that returns a Microsoft Entra access token, cached and refreshed before
 * expiry. pg calls it for every new connection; concurrent calls share one token request.
 */
export function entraPasswordProvider(
  credential: TokenCredential,
  scope: string = ENTRA_SCOPE,
  opts: TokenProviderOptions = {},
): () => Promise<string> {
  const margin = opts.refreshMarginMs ?? 5 * 60_000;
  const now = opts.now ?? Date.now;
  let cached: { token: string; expiresAt: number } | undefined;
  let inflight: Promise<string> | undefined;
  return async () => {
    if (cached && now() < cached.expiresAt - margin) return cached.token;
    inflight ??= (async () => {
      try {
        const t = await credential.getToken(scope);
        if (!t?.token) throw new Error('the credential returned no token');
        cached = { token: t.token, expiresAt: t.expiresOnTimestamp };
        return t.token;
      } catch (err) {
        throw new DbError(
          'CONFIG',
          `Could not get a Microsoft Entra token for PostgreSQL (scope ${scope}): ${(err as Error).message}. ` +
            'Check the managed identity (AZURE_CLIENT_ID) or `az login`, and that the principal is a PostgreSQL Entra admin or role.',
          undefined,
          { cause: err },
        );
      } finally {
        inflight = undefined;
      }
    })();
    return inflight;
  };
}

export interface CreatePoolDeps {
  /** Entra credential (default: DefaultAzureCredential, which honours AZURE_CLIENT_ID). */
  credential?: TokenCredential;
  /** Called for errors on idle connections (default: logged to stderr). Without a handler they would crash the process. */
  onError?: (err: Error) => void;
}

/** The pg options createPool would use (exported for tests and diagnostics). */
export function poolOptions(config: DbConfig, deps: CreatePoolDeps = {}): pg.PoolConfig {
  const opts: pg.PoolConfig = {
    max: config.poolMax,
    idleTimeoutMillis: config.idleTimeoutMs,
    connectionTimeoutMillis: config.connectTimeoutMs,
    application_name: config.applicationName,
    ...(config.statementTimeoutMs > 0 ? { statement_timeout: config.statementTimeoutMs } : {}),
  };
  if (config.connectionString) opts.connectionString = config.connectionString;
  if (config.host) opts.host = config.host;
  if (config.port && !config.connectionString) opts.port = config.port;
  if (config.database) opts.database = config.database;
  if (config.user) opts.user = config.user;
  if (config.auth === 'entra') {
    opts.password = entraPasswordProvider(deps.credential ?? new DefaultAzureCredential(), config.entraScope);
  } else if (config.password !== undefined) {
    opts.password = config.password;
  }
  const ssl = config.ssl ?? (config.auth === 'entra' ? 'verify-full' : undefined);
  if (ssl === 'disable') opts.ssl = false;
  else if (ssl === 'require') opts.ssl = { rejectUnauthorized: false };
  else if (ssl === 'verify-full') opts.ssl = { rejectUnauthorized: true };
  return opts;
}

/** Creates the pool. The caller owns it and must end() it at shutdown. */
export function createPool(config: DbConfig = loadDbConfig(), deps: CreatePoolDeps = {}): pg.Pool {
  const pool = new pg.Pool(poolOptions(config, deps));
  pool.on(
    'error',
    deps.onError ??
      ((err) => {
        console.error(
          JSON.stringify({ level: 'error', msg: 'postgres idle connection error', error: err.message }),
        );
      }),
  );
  return pool;
}
