// Where a node runs (SPEC §4): queues listed as activity queues run inside the Function App; any
// other queue is a Storage Queue consumed by container workers; no queue → the handler's default.

export type Runner = 'activity' | 'container';

export interface HandlerInfo {
  /** The runners that can execute this handler. */
  runners: readonly Runner[];
  /** Where a node without `queue` runs. */
  defaultRunner: Runner;
  /** The container queue used when the handler runs on containers and the node names no queue. */
  defaultQueue?: string;
}

export type HandlerCatalog = ReadonlyMap<string, HandlerInfo>;

export interface QueueConfig {
  /** Queue names served by the activity runner (DAG_ACTIVITY_QUEUES). */
  activityQueues: readonly string[];
  /** The container queue for container nodes without an explicit queue (DAG_CONTAINER_QUEUE). */
  defaultContainerQueue: string;
}

export const DEFAULT_QUEUE_CONFIG: QueueConfig = {
  activityQueues: ['functionapp-tasks'],
  defaultContainerQueue: 'container-tasks',
};

export function runnerForQueue(queue: string, config: Partial<QueueConfig> = {}): Runner {
  const activity = config.activityQueues ?? DEFAULT_QUEUE_CONFIG.activityQueues;
  return activity.includes(queue) ? 'activity' : 'container';
}

/** The runner and (for containers) the Storage Queue a task node is sent to. */
export function placeTask(
  handler: HandlerInfo | undefined,
  queue: string | undefined,
  config: Partial<QueueConfig> = {},
): { runner: Runner; queue?: string } {
  if (queue !== undefined) {
    const runner = runnerForQueue(queue, config);
    return runner === 'activity' ? { runner } : { runner, queue };
  }
  const runner = handler?.defaultRunner ?? 'activity';
  if (runner === 'activity') return { runner };
  return {
    runner,
    queue:
      handler?.defaultQueue ?? config.defaultContainerQueue ?? DEFAULT_QUEUE_CONFIG.defaultContainerQueue,
  };
}
