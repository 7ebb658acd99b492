// Structured logs (ARCHITECTURE principle 9): LOG_LEVEL (debug|info|warn|error, default info) and
// LOG_FORMAT=json for one JSON object per line with the job/node/task ids as fields. Secrets are
// scrubbed from every line. With Application Insights on (handlers/telemetry.ts) each line is also an
// OpenTelemetry log record carrying the current job's dimensions, and the JSON lines name the
// operation (operation_id = the trace id) so that Container Apps console logs join the portal's view.
import { trace } from '@opentelemetry/api';
import { withSettingAliases } from '../db/settingAliases';
import { scrubSecrets } from './scrubSecrets';
import { currentDimensions, emitLog, logToStdout, telemetryEnabled } from './telemetry';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(message: string, data?: Record<string, unknown>): void;
  info(message: string, data?: Record<string, unknown>): void;
  warn(message: string, data?: Record<string, unknown>): void;
  error(message: string, data?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function createLogger(
  fields: Record<string, unknown> = {},
  env: Record<string, string | undefined> = process.env,
  sink: (line: string, level: LogLevel) => void = (line, level) =>
    (level === 'error' || level === 'warn' ? process.stderr : process.stdout).write(line + '\n'),
): Logger {
  const settings = withSettingAliases(env);
  const min = RANK[(settings.LOG_LEVEL as LogLevel) ?? 'info'] ?? RANK.info;
  const json = settings.LOG_FORMAT === 'json';
  const emit = (level: LogLevel, message: string, data?: Record<string, unknown>) => {
    if (RANK[level] < min) return;
    let all = { ...fields, ...data };
    if (telemetryEnabled()) {
      all = { ...currentDimensions(), ...all };
      emitLog(level, message, all);
      const op = trace.getActiveSpan()?.spanContext().traceId;
      if (op) all.operation_id = op;
      if (!logToStdout()) return;
    }
    if (json) {
      sink(scrubSecrets(JSON.stringify({ time: new Date().toISOString(), level, message, ...all })), level);
    } else {
      const extra = Object.keys(all).length ? ' ' + JSON.stringify(all) : '';
      sink(scrubSecrets(`${new Date().toISOString()} ${level.toUpperCase()} ${message}${extra}`), level);
    }
  };
  return {
    debug: (m, d) => emit('debug', m, d),
    info: (m, d) => emit('info', m, d),
    warn: (m, d) => emit('warn', m, d),
    error: (m, d) => emit('error', m, d),
    child: (more) => createLogger({ ...fields, ...more }, env, sink),
  };
}
