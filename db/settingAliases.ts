// The original system's setting names (docs/compatibility.md "Configuration"): each fills this
// product's name when that one is not set, so an app configured for the original starts unchanged.
// The product's own name always wins. Applied by every configuration reader (withoutBlankSettings,
// loadDbConfig, the logger).

type Env = Record<string, string | undefined>;

const blank = (v: string | undefined) => v === undefined || v.trim() === '';

const SSL_MODES: Record<string, string> = {
  disable: 'disable',
  allow: 'require',
  prefer: 'require',
  require: 'require',
  'verify-ca': 'verify-full',
  'verify-full': 'verify-full',
};
const LOG_LEVELS: Record<string, string> = {
  debug: 'debug',
  info: 'info',
  warning: 'warn',
  warn: 'warn',
  error: 'error',
  critical: 'error',
};
const blobUrl = (account: string) => `https://${account.trim()}.blob.core.windows.net`;

/** [original name, product name, value mapping]. */
export const SETTING_ALIASES: ReadonlyArray<readonly [string, string, (v: string) => string | undefined]> = [
  ['DAG_DB_URL', 'DATABASE_URL', (v) => v],
  ['DAG_DB_SSLMODE', 'DAG_DB_SSL', (v) => SSL_MODES[v.trim().toLowerCase()] ?? v],
  ['DAG_LOG_FORMAT', 'LOG_FORMAT', (v) => v.trim().toLowerCase()],
  ['DAG_LOG_LEVEL', 'LOG_LEVEL', (v) => LOG_LEVELS[v.trim().toLowerCase()] ?? v],
  ['DAG_STORAGE_BRONZE_ACCOUNT', 'DAG_STORAGE_BLOB_URL', blobUrl],
  ['DAG_STORAGE_SILVER_ACCOUNT', 'DAG_STORAGE_SILVER_BLOB_URL', blobUrl],
  ['DAG_WORKER_QUEUE', 'DAG_WORKER_QUEUES', (v) => v],
];

/**
 * The settings with the original's names copied to this product's where those are unset. The
 * original's silverext and gold zone accounts (DAG_STORAGE_SILVEREXT_ACCOUNT, DAG_STORAGE_GOLD_ACCOUNT)
 * are accepted and unused: no handler here writes those zones.
 */
export function withSettingAliases<E extends Env>(env: E): E {
  let out: E | undefined;
  for (const [from, to, map] of SETTING_ALIASES) {
    const v = env[from];
    if (blank(v) || !blank(env[to])) continue;
    const mapped = map(v!);
    if (mapped === undefined) continue;
    out ??= { ...env };
    (out as Env)[to] = mapped;
  }
  return out ?? env;
}
