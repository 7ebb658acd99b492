// Application Insights (docs/monitoring.md): the `applicationinsights` 3.x SDK (the Azure Monitor
// OpenTelemetry distribution) started first thing in each process — the Function App
// (functions/telemetrySetup.ts) and the container worker (container-worker/telemetrySetup.ts) — from
// APPLICATIONINSIGHTS_CONNECTION_STRING. Without it nothing is loaded and every helper here is a
// plain function call: the SDK is required lazily, only when telemetry is on.
//
// What the app adds to the SDK's automatic requests/dependencies (HTTP, pg, the Azure SDK):
// * spans for its units of work — activities, the container enqueue (producer), the worker's receive
//   (consumer) and handler, GDAL child processes, the result trigger — all in the job's trace (the
//   submit request's W3C traceparent is stored with the job and carried in the queue messages);
// * the job's ids (job_id, workflow_id, node_id, task_id, attempt, ...) as custom dimensions of every
//   span and log of that work (kept in the OpenTelemetry context);
// * logs as OpenTelemetry log records (the JSON stdout lines stay as the local fallback);
// * exceptions for failed attempts, jobs and poison messages; the product's metrics.
// Orchestrations never call this module (they are replayed): activities and triggers do.
import { createNoopMeter } from '@opentelemetry/api';
import type * as PgInstr from '@opentelemetry/instrumentation-pg';
import type * as AppInsights from 'applicationinsights';
import os from 'node:os';
import { registerSecretValues, scrubSecrets, scrubValue } from '../scrubSecrets';

type ApplicationInsights = typeof AppInsights;

export type TelemetryRole = 'functionapp' | 'worker';

/** The tracer, logger and meter name of the app's own telemetry. */
export const TRACER = 'rmhdagmaster';

let enabled = false;
let roleName: string | undefined;
let stdout = true;
let shutdownFn: (() => Promise<void>) | undefined;
let flushFn: (() => Promise<void>) | undefined;

/** True once initTelemetry started the SDK in this process. */
export function telemetryEnabled(): boolean {
  return enabled;
}

/**
 * Whether log lines are also written to stdout. DAG_LOG_STDOUT=auto (default): yes, except in the
 * Function App on Azure with telemetry on — the Functions host forwards stdout to Application Insights
 * too, so each line would arrive twice. The container worker keeps stdout (Container Apps console logs).
 */
export function logToStdout(): boolean {
  return stdout;
}

/** The cloud role name this process reports (undefined when telemetry is off). */
export function telemetryRoleName(): string | undefined {
  return roleName;
}

function defaultRoleName(role: TelemetryRole, env: Record<string, string | undefined>): string {
  if (env.DAG_TELEMETRY_ROLE_NAME) return env.DAG_TELEMETRY_ROLE_NAME;
  if (role === 'functionapp') return env.WEBSITE_SITE_NAME || 'rmhdagmaster-functionapp';
  return env.CONTAINER_APP_NAME || 'rmhdagmaster-worker';
}

/**
 * Starts Application Insights for this process when APPLICATIONINSIGHTS_CONNECTION_STRING is set
 * (idempotent; returns whether telemetry is on). Call it before anything else is imported, so that the
 * pg, HTTP and Azure SDK instrumentations see those modules load.
 */
export function initTelemetry(
  role: TelemetryRole,
  env: Record<string, string | undefined> = process.env,
): boolean {
  if (enabled) return true;
  registerSecretValues(env);
  const connectionString = env.APPLICATIONINSIGHTS_CONNECTION_STRING?.trim();
  if (!connectionString || /^(1|true|yes|on)$/i.test(env.DAG_TELEMETRY_DISABLED ?? '')) return false;
  roleName = defaultRoleName(role, env);
  const stdoutSetting = (env.DAG_LOG_STDOUT ?? 'auto').toLowerCase();
  stdout =
    stdoutSetting === 'auto'
      ? !(role === 'functionapp' && !!env.WEBSITE_SITE_NAME)
      : /^(1|true|yes|on)$/.test(stdoutSetting);
  // The cloud role name is the OpenTelemetry service.name (the resource is read from the environment).
  process.env.OTEL_SERVICE_NAME = roleName;
  const instance =
    env.WEBSITE_INSTANCE_ID || env.CONTAINER_APP_REPLICA_NAME || `${os.hostname()}-${process.pid}`;
  process.env.OTEL_RESOURCE_ATTRIBUTES = [
    process.env.OTEL_RESOURCE_ATTRIBUTES,
    `service.instance.id=${instance}`,
  ]
    .filter(Boolean)
    .join(',');
  // No calls home besides the ingestion endpoint (statsbeat is the SDK's own usage telemetry).
  process.env.APPLICATIONINSIGHTS_STATSBEAT_DISABLED ??= 'true';
  process.env.APPLICATION_INSIGHTS_NO_STATSBEAT ??= 'true';
  if (env.DAG_TELEMETRY_METRIC_INTERVAL_MS)
    process.env.OTEL_METRIC_EXPORT_INTERVAL = env.DAG_TELEMETRY_METRIC_INTERVAL_MS;
  const ratio = Number(env.DAG_TELEMETRY_SAMPLING_RATIO ?? '1');
  // Loaded only now: without a connection string the SDK is never required.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ai = require('applicationinsights') as ApplicationInsights;
  ai.useAzureMonitor({
    azureMonitorExporterOptions: { connectionString, disableOfflineStorage: true },
    // Fixed-ratio sampling (default: everything). The distro's default rate limit (5 traces/s) would
    // drop whole jobs of a busy fan-out; failures and job logs must not be sampled away.
    samplingRatio: Number.isFinite(ratio) && ratio > 0 && ratio <= 1 ? ratio : 1,
    tracesPerSecond: 0,
    enableTraceBasedSamplingForLogs: false,
    enableLiveMetrics: /^(1|true|yes|on)$/i.test(env.DAG_TELEMETRY_LIVE_METRICS ?? ''),
    enableAutoCollectExceptions: true,
    instrumentationOptions: {
      http: { enabled: true },
      azureSdk: { enabled: true },
      // Registered below, without its metrics.
      postgreSql: { enabled: false },
      mongoDb: { enabled: false },
      mySql: { enabled: false },
      redis: { enabled: false },
      redis4: { enabled: false },
      bunyan: { enabled: false },
      winston: { enabled: false },
      // Our logger emits log records itself (createLogger); console capture would duplicate them.
      console: { enabled: false },
    } as Record<string, { enabled: boolean }>,
    spanProcessors: [scrubbingSpanProcessor() as never],
  });
  startPgInstrumentation();
  shutdownFn = ai.shutdownAzureMonitor;
  flushFn = ai.flushAzureMonitor;
  enabled = true;
  return true;
}

/**
 * The pg dependency spans, as the distro would make them, but without the pg instrumentation's own
 * metrics: it updates three connection-count counters on every pool acquire and every release and
 * records a duration histogram per statement, each hashing its attribute set — a tenth of telemetry's
 * whole cost on a wide fan-out (docs/monitoring.md "Cost"). The dependency durations are in the
 * standard metrics the distro derives from the spans; the pool's connections are observed at export
 * instead (registerPoolGauges).
 */
function startPgInstrumentation(): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { PgInstrumentation } = require('@opentelemetry/instrumentation-pg') as typeof PgInstr;
  // pg-pool is patched only for its checkout spans (ignored: a checkout is not a dependency call,
  // its span doubled the envelopes) and to hang the connection counters on the pool's events.
  class PgClientInstrumentation extends PgInstrumentation {
    protected override init() {
      return super.init().filter((m) => m.name !== 'pg-pool');
    }
  }
  // The global tracer provider is the distro's (started above); the constructor enables the hooks.
  const pgInstrumentation = new PgClientInstrumentation({
    // Only queries made inside a unit of work (a request, an activity, a task): pool housekeeping and
    // the local dev host's own store polling are not dependencies of anything.
    requireParentSpan: true,
    // Nor is a connection's opening (pg.connect) a dependency call of the work that needed it.
    ignoreConnectSpans: true,
  });
  // The per-statement duration histogram, recorded into nothing.
  pgInstrumentation.setMeterProvider({ getMeter: () => createNoopMeter() });
}

/** Sends what is buffered (before a process exits, or in tests). */
export async function flushTelemetry(): Promise<void> {
  if (enabled) await flushFn?.().catch(() => undefined);
}

/** Flushes and stops the SDK (the process is ending). */
export async function shutdownTelemetry(): Promise<void> {
  if (!enabled) return;
  await flushFn?.().catch(() => undefined);
  await shutdownFn?.().catch(() => undefined);
}

/**
 * A span processor that removes secrets from what the automatic instrumentations record (URLs with
 * SAS tokens, SQL text, exception messages) before the exporter sees the span.
 */
function scrubbingSpanProcessor() {
  type Readable = {
    attributes: Record<string, unknown>;
    events?: Array<{ attributes?: Record<string, unknown> }>;
    status?: { message?: string };
  };
  const scrubAttrs = (a: Record<string, unknown> | undefined) => {
    if (!a) return;
    for (const k of Object.keys(a)) a[k] = scrubValue(a[k]);
  };
  return {
    onStart() {},
    onEnd(span: Readable) {
      scrubAttrs(span.attributes);
      for (const e of span.events ?? []) scrubAttrs(e.attributes);
      if (span.status?.message) span.status.message = scrubSecrets(span.status.message);
    },
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  };
}
