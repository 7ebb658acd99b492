// The one structured logger of every process (the Function App, the container worker, the dev host,
// the CLI): one line per record, JSON (`LOG_FORMAT=json`: {time, level, message, ...fields}) or text
// (`<time> <LEVEL> <message> {fields}`), below a level threshold. What differs between processes is
// configuration: handlers/createLogger.ts adds Application Insights and secret scrubbing, devhost/logger.ts
// writes everything to stderr under a "[devhost]" prefix.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
export type LogFields = Record<string, unknown>;
/** The levels a record can have (a threshold may also be 'silent'). */
export type RecordLevel = Exclude<LogLevel, 'silent'>;

export interface Logger {
  debug(message: string, data?: LogFields): void;
  info(message: string, data?: LogFields): void;
  warn(message: string, data?: LogFields): void;
  error(message: string, data?: LogFields): void;
  /** A logger that adds `fields` to every record. */
  child(fields: LogFields): Logger;
}

/**
 * What happens to a record besides its line: may add fields (the telemetry dimensions), and says
 * whether the line is still written (false: the record went elsewhere, e.g. to Application Insights).
 */
export type LogRecordHook = (
  level: RecordLevel,
  message: string,
  fields: LogFields,
) => { fields: LogFields; writeLine: boolean };

export interface LoggerOptions {
  /** The lowest level written (default: LOG_LEVEL, else info). */
  level?: LogLevel;
  /** Default: LOG_FORMAT (json), else text. */
  format?: 'json' | 'text';
  /** Where lines go; default warn and error to stderr, the rest to stdout. */
  write?: (line: string, level: RecordLevel) => void;
  fields?: LogFields;
  /** Text lines start with it (the dev host's "[devhost]" tells its lines from the app's). */
  prefix?: string;
  onRecord?: LogRecordHook;
  /** Applied to every line before it is written (secret scrubbing). */
  scrub?: (line: string) => string;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/** LOG_LEVEL as people write it: any case, Python's names (warning), trace, none/off. */
export function parseLogLevel(value: string | undefined): LogLevel | undefined {
  if (!value) return undefined;
  const v = value.trim().toLowerCase();
  if (v === 'warning') return 'warn';
  if (v === 'trace') return 'debug';
  if (v === 'critical' || v === 'fatal') return 'error';
  if (v === 'none' || v === 'off') return 'silent';
  return Object.hasOwn(RANK, v) ? (v as LogLevel) : undefined;
}

const toStreams = (line: string, level: RecordLevel): void => {
  (level === 'error' || level === 'warn' ? process.stderr : process.stdout).write(line + '\n');
};

export function createLogger(options: LoggerOptions = {}): Logger {
  const o: Required<Omit<LoggerOptions, 'prefix' | 'onRecord' | 'scrub'>> & LoggerOptions = {
    ...options,
    level: options.level ?? parseLogLevel(process.env.LOG_LEVEL) ?? 'info',
    format: options.format ?? (process.env.LOG_FORMAT?.toLowerCase() === 'json' ? 'json' : 'text'),
    write: options.write ?? toStreams,
    fields: options.fields ?? {},
  };
  return new FieldLogger(o, o.fields);
}

type ResolvedOptions = Required<Pick<LoggerOptions, 'level' | 'format' | 'write'>> & LoggerOptions;

/**
 * One object per logger and its methods on the prototype: a child is one allocation (a fan-out makes
 * a child logger per attempt, 100,000 of them, and most never log).
 */
class FieldLogger implements Logger {
  constructor(
    private readonly o: ResolvedOptions,
    private readonly base: LogFields,
  ) {}

  debug(message: string, data?: LogFields): void {
    this.emit('debug', message, data);
  }
  info(message: string, data?: LogFields): void {
    this.emit('info', message, data);
  }
  warn(message: string, data?: LogFields): void {
    this.emit('warn', message, data);
  }
  error(message: string, data?: LogFields): void {
    this.emit('error', message, data);
  }
  child(more: LogFields): Logger {
    return new FieldLogger(this.o, { ...this.base, ...more });
  }

  private emit(level: RecordLevel, message: string, data?: LogFields): void {
    const o = this.o;
    if (RANK[level] < RANK[o.level]) return;
    let all = { ...this.base, ...data };
    if (o.onRecord) {
      const r = o.onRecord(level, message, all);
      if (!r.writeLine) return;
      all = r.fields;
    }
    const fields = serializable(all);
    const time = new Date().toISOString();
    let line: string;
    if (o.format === 'json') {
      line = JSON.stringify({ time, level, message, ...fields });
    } else {
      const extra = Object.keys(fields).length ? ' ' + JSON.stringify(fields) : '';
      line = `${o.prefix ? o.prefix + ' ' : ''}${time} ${level.toUpperCase()} ${message}${extra}`;
    }
    o.write(o.scrub ? o.scrub(line) : line, level);
  }
}

/** Errors become {message, stack} (JSON.stringify would print {}); everything else is kept. */
function serializable(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [k, v] of Object.entries(fields)) {
    out[k] = v instanceof Error ? { message: v.message, stack: v.stack } : v;
  }
  return out;
}

/** A logger that drops everything (handy default for benchmarks and tests). */
export const silentLogger: Logger = createLogger({ level: 'silent', write: () => undefined });
