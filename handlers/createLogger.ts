// The app's logger (the Function App, the container worker and the CLI's local stack): the one logger of
// lib/io/logger.ts configured by the settings (ARCHITECTURE principle 9): LOG_LEVEL (debug|info|warn|
// error, default info; DAG_LOG_LEVEL is an alias) and LOG_FORMAT=json for one JSON object per line with
// the job/node/task ids as fields. Secrets are scrubbed from every line. With Application Insights on
// (handlers/telemetry.ts) each line is also an OpenTelemetry log record carrying the current job's
// dimensions, and the JSON lines name the operation (operation_id = the trace id) so that Container
// Apps console logs join the portal's view.
import { trace } from '@opentelemetry/api';
import { withSettingAliases } from '../db/settingAliases';
import {
  createLogger as createBaseLogger,
  parseLogLevel,
  type LogFields,
  type Logger,
  type LogRecordHook,
  type RecordLevel,
} from '../lib/io/logger';
import { scrubSecrets } from './scrubSecrets';
import { currentDimensions, emitLog, logToStdout, telemetryEnabled } from './telemetry';

export type { Logger };
export type LogLevel = RecordLevel;

/** Application Insights, when it is on: the record goes there, and to stdout unless DAG_LOG_STDOUT says no. */
const toTelemetry: LogRecordHook = (level, message, fields) => {
  if (!telemetryEnabled()) return { fields, writeLine: true };
  const all: LogFields = { ...currentDimensions(), ...fields };
  emitLog(level, message, all);
  const op = trace.getActiveSpan()?.spanContext().traceId;
  if (op) all.operation_id = op;
  return { fields: all, writeLine: logToStdout() };
};

export function createLogger(
  fields: LogFields = {},
  env: Record<string, string | undefined> = process.env,
  sink?: (line: string, level: LogLevel) => void,
): Logger {
  const settings = withSettingAliases(env);
  return createBaseLogger({
    fields,
    level: parseLogLevel(settings.LOG_LEVEL) ?? 'info',
    format: settings.LOG_FORMAT === 'json' ? 'json' : 'text',
    ...(sink ? { write: sink } : {}),
    onRecord: toTelemetry,
    scrub: scrubSecrets,
  });
}
