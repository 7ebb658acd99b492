// Secrets never reach telemetry or logs (docs/monitoring.md "Secrets"): connection strings' keys,
// SAS signatures, passwords in URLs and key=value pairs, bearer tokens and function keys are replaced
// by "***", and so is the literal value of every setting whose name says it holds a secret.
const REDACTED = '***';

const PATTERNS: Array<[RegExp, string]> = [
  // Storage / Service Bus / Event Hubs connection strings and their keys.
  [/((?:Account|SharedAccess|Primary|Secondary)?Key\s*=\s*)[^;"'\s&]+/gi, `$1${REDACTED}`],
  [/(SharedAccessSignature\s*=\s*)[^;"'\s]+/gi, `$1${REDACTED}`],
  // SAS query parameters (the signature is the secret) and function keys in URLs.
  [/([?&](?:sig|code|se?cret|token|access_token|api[-_]?key)=)[^&#\s"']+/gi, `$1${REDACTED}`],
  // user:password@ in URLs (postgres://, https://).
  [/(\b[a-z][a-z0-9+.-]*:\/\/[^:/?#\s@"']*:)[^@/?#\s"']+@/gi, `$1${REDACTED}@`],
  // password=..., pwd=..., "password": "...", --password ..., PGPASSWORD=..., AZURE_STORAGE_SAS_TOKEN=...
  [
    /(\b(?:[A-Z_]*(?:PASSWORD|SECRET|ACCESS_KEY|SAS_TOKEN|API_KEY)|passwd|pwd|client[_-]?secret|secret)\b\s*[=:]\s*"?)[^\s;&"',}]+/gi,
    `$1${REDACTED}`,
  ],
  // GDAL config options given as arguments: --config AZURE_STORAGE_ACCESS_KEY <key>.
  [/(--config\s+[A-Z0-9_]*(?:KEY|SECRET|PASSWORD|TOKEN|SAS)[A-Z0-9_]*\s+)\S+/gi, `$1${REDACTED}`],
  [/("(?:[a-z_]*password|[a-z_]*secret|[a-z_]*token|account[_-]?key)"\s*:\s*")[^"]*/gi, `$1${REDACTED}`],
  [/(--(?:password|secret|token|key)[= ])\S+/gi, `$1${REDACTED}`],
  // Authorization headers.
  [/\b(Bearer|Basic|SharedKey)\s+[A-Za-z0-9._~+/=:-]{8,}/g, `$1 ${REDACTED}`],
  [/(x-functions-key["']?\s*[:=]\s*["']?)[^\s"',}]+/gi, `$1${REDACTED}`],
];

/** Names of settings whose values are secrets (their literal values are removed wherever they appear). */
const SECRET_SETTING =
  /(KEY|SECRET|PASSWORD|PWD|TOKEN|SAS|CONNECTION|CONNECTION_STRING|DATABASE_URL|AzureWebJobsStorage)/i;
/** Connection strings hold non-secret parts too: only the values of these keys are literal secrets. */
const SECRET_PARTS = /(?:AccountKey|SharedAccessKey|SharedAccessSignature|Password|pwd)=([^;]+)/gi;

let literals: string[] = [];

/**
 * Remembers the secret values of a configuration (app settings, the environment) so that they are
 * removed even where no pattern recognises them (a key pasted into an error message).
 */
export function registerSecretValues(env: Record<string, string | undefined>): void {
  const found = new Set(literals);
  for (const [name, value] of Object.entries(env)) {
    if (!value) continue;
    // A password in any URL setting (DATABASE_URL, DAG_PGSTAC_URL, ...).
    const url = /^[a-z][a-z0-9+.-]*:\/\/[^:/@]+:([^@]+)@/i.exec(value);
    if (url?.[1] && url[1].length >= 4) {
      found.add(url[1]);
      found.add(decodeURIComponent(url[1]));
    }
    if (!SECRET_SETTING.test(name)) continue;
    if (name === 'APPLICATIONINSIGHTS_CONNECTION_STRING') continue; // the ingestion key is not a secret
    for (const m of value.matchAll(SECRET_PARTS)) if (m[1] && m[1].length >= 6) found.add(m[1]);
    // A value that is itself a key or token (no structure to take apart).
    if (!/[=;:/]/.test(value) && value.length >= 12) found.add(value);
  }
  literals = [...found].sort((a, b) => b.length - a.length);
  memo.clear();
  memoChars = 0;
}

/** Every pattern needs one of these characters: text without any can only hold a literal secret. */
const PATTERN_TRIGGER = /[=:\s]/;
/**
 * Results for recent texts: span attributes repeat (the same SQL statement, URL and ids thousands of
 * times in a fan-out), and ten regular expressions per attribute were the largest cost of telemetry.
 * Bounded by characters held (a batch INSERT's text can be long); emptied when full.
 */
const memo = new Map<string, string>();
const MEMO_CHARS = 2_000_000;
const MEMO_MAX_LENGTH = 65_536;
let memoChars = 0;

/** The text with every secret it contains replaced by "***". */
export function scrubSecrets(text: string): string {
  const cacheable = text.length <= MEMO_MAX_LENGTH;
  if (cacheable) {
    const hit = memo.get(text);
    if (hit !== undefined) return hit;
  }
  let out = text;
  for (const lit of literals) if (out.includes(lit)) out = out.split(lit).join(REDACTED);
  if (PATTERN_TRIGGER.test(out)) for (const [re, to] of PATTERNS) out = out.replace(re, to);
  if (cacheable) {
    if (memoChars + text.length > MEMO_CHARS) {
      memo.clear();
      memoChars = 0;
    }
    memo.set(text, out);
    memoChars += text.length;
  }
  return out;
}

/** scrubSecrets for any attribute value (strings and arrays of strings; other values unchanged). */
export function scrubValue<T>(value: T): T {
  if (typeof value === 'string') return scrubSecrets(value) as T;
  if (Array.isArray(value))
    return value.map((v: unknown) => (typeof v === 'string' ? scrubSecrets(v) : v)) as T;
  return value;
}

/** A command line as it may be shown: the program and its arguments, secrets removed. */
export function displayCommand(command: string, args: readonly string[]): string {
  return scrubSecrets(
    [command, ...args].map((a) => (/[\s"'$`\\]/.test(a) ? JSON.stringify(a) : a)).join(' '),
  );
}
