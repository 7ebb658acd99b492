// Structured logger for the dev host. One line per record: JSON (LOG_FORMAT=json) or a compact
// human format. Under vitest only errors of the host itself show by default (LOG_LEVEL overrides).

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every record. */
  child(fields: LogFields): Logger;
  isEnabled(level: LogLevel): boolean;
}

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface LoggerOptions {
  level?: LogLevel;
  format?: 'json' | 'pretty';
  /** Where records go; defaults to stderr so stdout stays free for the "listening on" line. */
  write?: (line: string) => void;
  fields?: LogFields;
}

export function parseLogLevel(value: string | undefined): LogLevel | undefined {
  if (!value) return undefined;
  const v = value.toLowerCase();
  if (v === 'warning') return 'warn';
  if (v === 'trace') return 'debug';
  if (v === 'none' || v === 'off') return 'silent';
  return v in rank ? (v as LogLevel) : undefined;
}

export function defaultLogLevel(): LogLevel {
  return parseLogLevel(process.env.LOG_LEVEL) ?? (process.env.VITEST ? 'error' : 'info');
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? defaultLogLevel();
  const format = options.format ?? (process.env.LOG_FORMAT === 'json' ? 'json' : 'pretty');
  const write = options.write ?? ((line: string) => process.stderr.write(line + '\n'));
  return makeLogger(level, format, write, options.fields ?? {});
}

function makeLogger(
  level: LogLevel,
  format: 'json' | 'pretty',
  write: (line: string) => void,
  base: LogFields,
): Logger {
  const emit = (lvl: LogLevel, message: string, fields?: LogFields): void => {
    if (rank[lvl] < rank[level]) return;
    const all = { ...base, ...fields };
    if (format === 'json') {
      write(
        JSON.stringify({ time: new Date().toISOString(), level: lvl, msg: message, ...serializable(all) }),
      );
    } else {
      const extra = Object.entries(all)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(serializable({ v }).v)}`)
        .join(' ');
      write(`[devhost] ${lvl.toUpperCase().padEnd(5)} ${message}${extra ? ' ' + extra : ''}`);
    }
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => makeLogger(level, format, write, { ...base, ...fields }),
    isEnabled: (l) => rank[l] >= rank[level],
  };
}

/** Errors become {message, stack}; everything else is passed through. */
function serializable(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [k, v] of Object.entries(fields)) {
    out[k] = v instanceof Error ? { message: v.message, stack: v.stack } : v;
  }
  return out;
}

/** A logger that drops everything (handy default for benchmarks). */
export const silentLogger: Logger = createLogger({ level: 'silent', write: () => undefined });
