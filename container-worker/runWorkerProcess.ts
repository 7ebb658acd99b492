// The worker as a process (container-worker/main.ts; the container's entry point): configuration
// from the environment, structured logs, SIGTERM/SIGINT → graceful stop within
// DAG_WORKER_SHUTDOWN_TIMEOUT_SEC, a crash → exit 1 (the platform restarts the replica and the
// messages it held reappear when their lease ends).
import { existsSync } from 'node:fs';
import { createLogger } from '../handlers/createLogger';
import { shutdownTelemetry } from '../handlers/telemetry';
import type { HandlerRegistry } from '../handlers/handlerRegistry';
import { startContainerWorker, type ContainerWorker } from './startContainerWorker';
import { loadWorkerConfig } from './workerConfig';

export interface WorkerProcessOptions {
  env?: Record<string, string | undefined>;
  /** Handlers (default: every handler shipped in this build). Tests add theirs here. */
  registry?: HandlerRegistry;
}

export async function runWorkerProcess(o: WorkerProcessOptions = {}): Promise<ContainerWorker> {
  const env = o.env ?? process.env;
  const log = createLogger({ app: 'container-worker' }, env);
  let config;
  try {
    config = loadWorkerConfig(env);
  } catch (err) {
    log.error((err as Error).message);
    process.exit(2);
  }
  if (!existsSync(config.etlMountPath)) {
    log.warn(
      `DAG_WORKER_ETL_MOUNT_PATH ${config.etlMountPath} does not exist (raster handlers stage files there)`,
    );
  }
  process.on('uncaughtException', (err) => {
    log.error('uncaught exception: the worker exits (its messages reappear when their lease ends)', {
      error: err.stack ?? err.message,
    });
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    log.error('unhandled promise rejection', { error: (err as Error)?.stack ?? String(err) });
  });
  let worker: ContainerWorker;
  try {
    worker = await startContainerWorker({
      queues: config.queues,
      ...(config.storageConnectionString
        ? { storageConnectionString: config.storageConnectionString }
        : { queueServiceUrl: config.queueServiceUrl! }),
      db: config.db,
      schema: config.db.schema,
      ...(o.registry ? { registry: o.registry } : {}),
      maxConcurrent: config.maxConcurrent,
      visibilityTimeoutSeconds: config.visibilityTimeoutSeconds,
      maxDequeueCount: config.maxDequeueCount,
      shutdownTimeoutSeconds: config.shutdownTimeoutSeconds,
      ...(config.healthPort !== undefined ? { healthPort: config.healthPort } : {}),
      healthHost: config.healthHost,
      workerId: config.workerId,
      logger: log,
      pollIntervalMs: config.pollIntervalMs,
      cancelPollIntervalMs: config.cancelPollIntervalMs,
      ...(config.etlCleanup ? { etlCleanup: config.etlCleanup } : {}),
    });
  } catch (err) {
    log.error(`the container worker could not start: ${(err as Error).message}`);
    process.exit(1);
  }
  let stopping = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info(`${sig} received: stopping`);
    // The platform kills the replica after its grace period anyway; exit before it does.
    setTimeout(
      () => {
        log.error('shutdown took longer than DAG_WORKER_SHUTDOWN_TIMEOUT_SEC; exiting now');
        process.exit(1);
      },
      (config.shutdownTimeoutSeconds + 2) * 1000,
    ).unref();
    worker.stop().then(
      // What telemetry is buffered is sent before the process ends.
      () => shutdownTelemetry().finally(() => process.exit(0)),
      (err: unknown) => {
        log.error('stopping failed', { error: (err as Error).message });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // One line a supervisor (or a test) can wait for.
  log.info('container worker ready', { worker_id: worker.workerId, health: worker.url ?? null });
  return worker;
}
