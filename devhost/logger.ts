// The dev host's settings of the one logger (lib/io/logger.ts): every line to stderr, so stdout stays
// free for the "listening on" line; text lines start with "[devhost]"; under vitest only the host's own
// errors show unless LOG_LEVEL says otherwise.
import {
  createLogger as createBaseLogger,
  parseLogLevel,
  type Logger,
  type LoggerOptions,
  type LogLevel,
} from '../lib/io/logger';

export { parseLogLevel, silentLogger, type Logger, type LogFields, type LogLevel } from '../lib/io/logger';

export function defaultLogLevel(): LogLevel {
  return parseLogLevel(process.env.LOG_LEVEL) ?? (process.env.VITEST ? 'error' : 'info');
}

export function createLogger(options: Omit<LoggerOptions, 'prefix'> = {}): Logger {
  return createBaseLogger({
    ...options,
    level: options.level ?? defaultLogLevel(),
    write: options.write ?? ((line) => process.stderr.write(line + '\n')),
    prefix: '[devhost]',
  });
}
