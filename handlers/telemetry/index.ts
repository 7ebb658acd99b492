// Application Insights for the app and the worker: setup, trace context, logs and metrics
// (docs/monitoring.md). Everything is a plain call while telemetry is off.
export * from './initTelemetry';
export * from './registerPoolGauges';
export * from './telemetryLogs';
export * from './telemetryMetrics';
export * from './traceContext';
