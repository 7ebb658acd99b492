// Public API of the dev host: run any Azure Functions v4 + durable-functions v3 app without the
// Functions host (see docs/devhost.md).
export { startDevHost, type DevHost, type DevHostOptions, type DevHostStats } from './startDevHost';
export type { OrchestrationStatus, StartOptions, StatusOptions } from './durableOperations';
export type { Registration, FunctionKind } from './loadApp';
export type { HostConfig } from './hostConfig';
export { EventType, eventTypeName, type HistoryEvent, type RuntimeStatus } from './historyEvents';
export { createLogger, silentLogger, type Logger, type LogLevel } from './logger';
export { DevHostError, type DevHostErrorCode } from './devHostError';
export { launchAzurite, azuriteEndpoints, type AzuriteInstance, type AzuriteOptions } from './launchAzurite';
export {
  launchEmbeddedPostgres,
  type EmbeddedPostgresInstance,
  type EmbeddedPostgresOptions,
} from './launchEmbeddedPostgres';
