// What the worker's parts share: who it is, its stores, its log and its counters.
import type { DbPool } from '../db';
import type { Logger } from '../handlers/createLogger';
import type { QueueDirectory } from '../lib/io/queueDirectory';
import type { WorkerStats } from './workerStats';

export interface WorkerContext {
  workerId: string;
  /** The Postgres schema of the dag_* tables. */
  schema: string;
  pool: DbPool;
  /** events.source_app. */
  sourceApp: string;
  log: Logger;
  queues: QueueDirectory;
  counters: WorkerStats;
  /** The lease: a received message stays invisible this long. */
  visibilitySec: number;
  /** Adds to a phase's timing (stats().phaseMs). */
  phase(name: keyof WorkerStats['phaseMs'], ms: number, count?: number): void;
  /** An infrastructure fault: stop receiving until Postgres and the queues answer (OutagePause). */
  pause(): void;
}
