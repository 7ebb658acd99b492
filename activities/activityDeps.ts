// What the activities need from the outside world, passed in by the composition root
// (functions/index.ts) so that activities stay free of configuration and SDK set-up.
import type pg from 'pg';
import type { QueueConfig } from '../dag/runners';
import type { Logger } from '../handlers/createLogger';
import type { HandlerRegistry } from '../handlers/handlerRegistry';

export interface ActivityDeps {
  pool: pg.Pool;
  /** Postgres schema of the product's tables (DAG_DB_SCHEMA). */
  schema: string;
  registry: HandlerRegistry;
  queueConfig: QueueConfig;
  /** Fan-out children per sub-orchestration (DAG_FANOUT_CHUNK_SIZE). */
  chunkSize: number;
  /** Fan-out children per runner activity call (DAG_ACTIVITY_BATCH_SIZE). */
  activityBatchSize: number;
  /** The queue container workers send results to (DAG_RESULT_QUEUE). */
  resultQueue: string;
  /** Sends one message (JSON) to a Storage Queue, creating the queue if needed. */
  sendToQueue(queue: string, message: unknown): Promise<void>;
  log: Logger;
  /** Written to events' source_app. */
  sourceApp: string;
  /**
   * Fires when the process is shutting down (the app's terminate hook): handlers running here stop,
   * and their attempts are not recorded (the activity fails as an infrastructure fault and runs again).
   */
  shutdown?: AbortSignal;
}
