// The container worker runtime (SPEC §4): the Storage Queue consumer that runs heavy nodes.
export {
  startContainerWorker,
  type ContainerWorker,
  type ContainerWorkerOptions,
} from './startContainerWorker';
export { runWorkerProcess, type WorkerProcessOptions } from './runWorkerProcess';
export { loadWorkerConfig, defaultWorkerId, type WorkerConfig } from './workerConfig';
export {
  runProcess,
  runningProcessGroups,
  ProcessError,
  type ProcessResult,
  type RunProcessOptions,
} from '../handlers/runProcess';
export { decodeTaskMessage, encodeQueueMessage, decodeQueueJson } from './taskMessageCodec';
export type { WorkerStats, HealthReport } from './workerStats';
