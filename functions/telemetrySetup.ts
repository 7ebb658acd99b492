// Application Insights for the Function App, started before anything else is loaded (the first import
// of functions/index.ts), so that the HTTP, pg and Azure SDK instrumentations see those modules load.
// A no-op without APPLICATIONINSIGHTS_CONNECTION_STRING (docs/monitoring.md).
import { initTelemetry } from '../handlers/telemetry';

initTelemetry('functionapp');
