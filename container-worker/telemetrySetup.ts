// Application Insights for the container worker, started before anything else is loaded (the first
// import of container-worker/main.ts). A no-op without APPLICATIONINSIGHTS_CONNECTION_STRING
// (docs/monitoring.md).
import { initTelemetry } from '../handlers/telemetry';

initTelemetry('worker');
