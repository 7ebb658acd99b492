// What the activities need from the outside world, passed in by the composition root
// (functions/index.ts) so that activities stay free of configuration and SDK set-up.
import type { DbPool } from '../db/createPool';
import type { QueueConfig } from '../dag/runners';
import type { Logger } from '../handlers/createLogger';
import type { HandlerRegistry } from '../handlers/handlerRegistry';
import { handlerServices } from '../handlers/handlerServices';
import type { HandlerServices } from '../handlers/handlerTypes';

/** What Put Message returns: the message's id and a receipt valid until it is dequeued. */
export interface SentMessage {
  messageId: string;
  popReceipt: string;
}

export interface ActivityDeps {
  pool: DbPool;
  /** Postgres schema of the product's tables (DAG_DB_SCHEMA). */
  schema: string;
  registry: HandlerRegistry;
  queueConfig: QueueConfig;
  /** Fan-out children per sub-orchestration (DAG_FANOUT_CHUNK_SIZE). */
  chunkSize: number;
  /** Fan-out children per runner activity call (DAG_ACTIVITY_BATCH_SIZE). */
  activityBatchSize: number;
  /**
   * The scheduling behaviour new jobs start with (DAG_SCHEDULER_VERSION, at most SCHEDULER_VERSION);
   * default: the newest. Optional: callers that build deps by hand get the newest.
   */
  schedulerVersion?: number;
  /**
   * How long a runner call may go on starting chained tasks that are not light (DAG_CHAIN_BUDGET_MS,
   * pinned per job by loadJob); 0 or absent: only light ones are chained.
   */
  chainBudgetMs?: number;
  /**
   * Tasks one queue message may carry (DAG_TASKS_PER_MESSAGE), on `batchQueues` only (the product's
   * workers read batches: DAG_WORKER_QUEUES); default 1.
   */
  tasksPerMessage?: number;
  batchQueues?: readonly string[];
  /** The queue container workers send results to (DAG_RESULT_QUEUE). */
  resultQueue: string;
  /** Sends one message (JSON) to a Storage Queue, creating the queue if needed. */
  sendToQueue(queue: string, message: unknown): Promise<SentMessage>;
  /**
   * Whether a sent message still exists, asked with the receipt its send returned: 'present' (it
   * waits in the queue, or a worker dequeued it since: receipt mismatch) or 'gone' (404). Throws when
   * the queue service cannot tell.
   */
  probeQueueMessage(queue: string, sent: SentMessage): Promise<'present' | 'gone'>;
  log: Logger;
  /** Written to events' source_app. */
  sourceApp: string;
  /**
   * Fires when the process is shutting down (the app's terminate hook): handlers running here stop,
   * and their attempts are not recorded (the activity fails as an infrastructure fault and runs again).
   */
  shutdown?: AbortSignal;
}

const servicesByDeps = new WeakMap<ActivityDeps, HandlerServices>();

/**
 * The handler services of these deps (their pool, the process's handler configuration), built on
 * first use and kept with them: the composition root builds the deps once per process.
 */
export function handlerServicesOf(deps: ActivityDeps): HandlerServices {
  let s = servicesByDeps.get(deps);
  if (!s) {
    s = handlerServices(deps.pool);
    servicesByDeps.set(deps, s);
  }
  return s;
}
