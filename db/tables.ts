// Every table model of the schema: the engine's (engineTables.ts) and the platform layer's
// (platformTables.ts), in the order the DDL creates them.
import {
  checkpointsTable,
  jobEventsTable,
  jobsTable,
  nodeStatesTable,
  resultKeysTable,
  taskMessagesTable,
  taskResultsTable,
} from './engineTables';
import {
  assetsTable,
  assetVersionsTable,
  auditLogTable,
  layerMetadataTable,
  platformsTable,
} from './platformTables';

export * from './engineTables';
export * from './platformTables';

/** Every table, in creation order (referenced tables first). */
export const ALL_TABLES = [
  jobsTable,
  nodeStatesTable,
  taskResultsTable,
  jobEventsTable,
  checkpointsTable,
  taskMessagesTable,
  resultKeysTable,
  platformsTable,
  assetsTable,
  assetVersionsTable,
  layerMetadataTable,
  auditLogTable,
] as const;
export type AnyTable = (typeof ALL_TABLES)[number];
