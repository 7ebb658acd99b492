// The worker process's configuration from the environment (container app settings, or the shell
// locally), validated with zod. Every variable is documented in docs/container-worker.md.
import os from 'node:os';
import { z } from 'zod';
import { loadDbConfig, withoutBlankSettings, type DbConfig } from '../db';
import { intSetting, parseSettings } from '../lib/loadSettings';
import { STORAGE_NAME, usableConnectionString } from '../lib/storageNames';

const queueList = z
  .string()
  .optional()
  .transform((s, ctx) => {
    const names = (s?.trim() ? s : 'container-tasks,dag-worker-tasks')
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
    const bad = names.filter((n) => !STORAGE_NAME.test(n));
    if (bad.length) {
      ctx.addIssue({
        code: 'custom',
        message: `${bad.map((b) => JSON.stringify(b)).join(', ')} ${bad.length > 1 ? 'are not valid queue names' : 'is not a valid queue name'} (3-63 lowercase letters, digits, single dashes)`,
      });
      return z.NEVER;
    }
    if (names.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'names no queue' });
      return z.NEVER;
    }
    return [...new Set(names)];
  });

const WorkerEnvSchema = z.object({
  DAG_WORKER_QUEUES: queueList,
  DAG_WORKER_MAX_CONCURRENT: intSetting(4, 1, 256),
  DAG_WORKER_SHUTDOWN_TIMEOUT_SEC: intSetting(30, 1, 3600),
  DAG_WORKER_ID: z.string().max(128).optional(),
  /** 0 = a free port; unset = 8080 (the container's probe port); "off" = no health server. */
  DAG_WORKER_HEALTH_PORT: z
    .string()
    .optional()
    .transform((s, ctx) => {
      if (s === undefined || s.trim() === '') return 8080;
      if (/^(off|none|false|disabled)$/i.test(s.trim())) return undefined;
      const n = Number(s);
      if (!Number.isInteger(n) || n < 0 || n > 65535) {
        ctx.addIssue({ code: 'custom', message: `must be a port (0-65535) or "off", got "${s}"` });
        return z.NEVER;
      }
      return n;
    }),
  DAG_WORKER_HEALTH_HOST: z.string().min(1).default('0.0.0.0'),
  DAG_WORKER_MAX_DEQUEUE_COUNT: intSetting(5, 1, 100),
  DAG_WORKER_VISIBILITY_TIMEOUT_SEC: intSetting(60, 2, 3600),
  DAG_WORKER_POLL_INTERVAL_MS: intSetting(1000, 10, 60_000),
  DAG_WORKER_CANCEL_POLL_MS: intSetting(1500, 100, 60_000),
  DAG_WORKER_ETL_MOUNT_PATH: z.string().min(1).default('/mnt/etl'),
  /** Hours the files of a completed or cancelled job stay on the mount. */
  DAG_WORKER_ETL_RETENTION_HOURS: intSetting(24, 0, 87_600),
  /** Hours for a failed job (a rerun reads what its earlier nodes staged). */
  DAG_WORKER_ETL_FAILED_RETENTION_HOURS: intSetting(168, 0, 87_600),
  /** Minutes between sweeps of the mount; 0 = no sweeping. */
  DAG_WORKER_ETL_SWEEP_MINUTES: intSetting(30, 0, 10_080),
  DAG_QUEUE_CONNECTION: z.string().optional(),
  AzureWebJobsStorage: z.string().optional(),
  DAG_QUEUE_SERVICE_URL: z.url().optional(),
});

export interface WorkerConfig {
  queues: string[];
  maxConcurrent: number;
  shutdownTimeoutSeconds: number;
  workerId: string;
  healthPort: number | undefined;
  healthHost: string;
  maxDequeueCount: number;
  visibilityTimeoutSeconds: number;
  pollIntervalMs: number;
  cancelPollIntervalMs: number;
  etlMountPath: string;
  /** Removal of ended jobs' files from the mount; undefined when DAG_WORKER_ETL_SWEEP_MINUTES=0. */
  etlCleanup?: {
    mountPath: string;
    retention: { completedMs: number; failedMs: number };
    intervalMs: number;
  };
  /** A connection string with an account (Azurite locally) … */
  storageConnectionString?: string;
  /** … or the queue service URL, reached with DefaultAzureCredential (managed identity on Azure). */
  queueServiceUrl?: string;
  db: DbConfig;
}

/** The default worker id: the replica's host name (unique per Container Apps replica) and the pid. */
export function defaultWorkerId(): string {
  return `${os.hostname()}-${process.pid}`.slice(0, 128);
}

export function loadWorkerConfig(settings: Record<string, string | undefined> = process.env): WorkerConfig {
  const env = withoutBlankSettings(settings);
  const r = parseSettings(WorkerEnvSchema, env);
  if (!r.ok) {
    const problems = r.problems.map((p) => `${p.variable} ${p.message}`).join('; ');
    throw new Error(`Invalid container worker configuration: ${problems}. See docs/container-worker.md.`);
  }
  const e = r.config;
  const conn =
    usableConnectionString(e.DAG_QUEUE_CONNECTION) ?? usableConnectionString(e.AzureWebJobsStorage);
  if (!conn && !e.DAG_QUEUE_SERVICE_URL) {
    throw new Error(
      'Invalid container worker configuration: no queue storage. Set DAG_QUEUE_CONNECTION or AzureWebJobsStorage to a connection string (Azurite locally), or DAG_QUEUE_SERVICE_URL (https://<account>.queue.core.windows.net) to use the managed identity. See docs/container-worker.md.',
    );
  }
  return {
    queues: e.DAG_WORKER_QUEUES,
    maxConcurrent: e.DAG_WORKER_MAX_CONCURRENT,
    shutdownTimeoutSeconds: e.DAG_WORKER_SHUTDOWN_TIMEOUT_SEC,
    workerId: e.DAG_WORKER_ID?.trim() || defaultWorkerId(),
    healthPort: e.DAG_WORKER_HEALTH_PORT,
    healthHost: e.DAG_WORKER_HEALTH_HOST,
    maxDequeueCount: e.DAG_WORKER_MAX_DEQUEUE_COUNT,
    visibilityTimeoutSeconds: e.DAG_WORKER_VISIBILITY_TIMEOUT_SEC,
    pollIntervalMs: e.DAG_WORKER_POLL_INTERVAL_MS,
    cancelPollIntervalMs: e.DAG_WORKER_CANCEL_POLL_MS,
    etlMountPath: e.DAG_WORKER_ETL_MOUNT_PATH,
    ...(e.DAG_WORKER_ETL_SWEEP_MINUTES > 0
      ? {
          etlCleanup: {
            mountPath: e.DAG_WORKER_ETL_MOUNT_PATH,
            retention: {
              completedMs: e.DAG_WORKER_ETL_RETENTION_HOURS * 3_600_000,
              failedMs: e.DAG_WORKER_ETL_FAILED_RETENTION_HOURS * 3_600_000,
            },
            intervalMs: e.DAG_WORKER_ETL_SWEEP_MINUTES * 60_000,
          },
        }
      : {}),
    ...(conn ? { storageConnectionString: conn } : { queueServiceUrl: e.DAG_QUEUE_SERVICE_URL! }),
    db: loadDbConfig(env),
  };
}
