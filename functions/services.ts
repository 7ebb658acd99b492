// The app's long-lived services, created on first use and shared by every function invocation of
// the worker process: the Postgres pool, the workflow catalog (reloaded when the files change),
// the handler registry, the queue sender and the logger.
import type { QueueClient } from '@azure/storage-queue';
import path from 'node:path';
import { statSync, readdirSync } from 'node:fs';
import type pg from 'pg';
import type { ActivityDeps, SentMessage } from '../activities/activityDeps';
import { closeTemplateWorkers } from '../activities/renderNodeTemplates';
import type { QueueConfig } from '../dag/runners';
import { AppError } from './appError';
import {
  checkSchemaReadiness,
  createPool,
  defaultAppRole,
  loadDbConfig,
  ResultKeys,
  runMigrations,
} from '../db';
import { createLogger, type Logger } from '../handlers/createLogger';
import { registerPoolGauges } from '../handlers/telemetry';
import { jsonToBase64 } from '../lib/base64';
import { createQueueService, QueueDirectory } from '../lib/io/queueDirectory';
import { usableConnectionString } from '../lib/storageNames';
import { defaultRegistry, type HandlerRegistry } from '../handlers/handlerRegistry';
import { loadConfig, type Config } from './config';
import { loadWorkflowDirectory, type WorkflowCatalog } from './workflowCatalog';

export interface Services {
  config: Config;
  pool: pg.Pool;
  schema: string;
  registry: HandlerRegistry;
  queueConfig: QueueConfig;
  log: Logger;
  /**
   * The workflows of DAG_WORKFLOWS_DIR, reloaded when a file changed (checked at most once a second,
   * or at once with `fresh`).
   */
  catalog(fresh?: boolean): WorkflowCatalog;
  sendToQueue(queue: string, message: unknown): Promise<SentMessage>;
  probeQueueMessage(queue: string, sent: SentMessage): Promise<'present' | 'gone'>;
  queueClient(queue: string): QueueClient;
  activityDeps(): ActivityDeps;
  /**
   * Resolves once the database is migrated far enough for this build (503 UNAVAILABLE otherwise, saying
   * to run `dagmaster db migrate`). With DAG_ENABLE_AUTO_BOOTSTRAP (local only) it applies the migrations.
   */
  ready(): Promise<void>;
  /** The keys that check container results' signatures (read from Postgres, kept a few minutes). */
  resultKeys: ResultKeys;
  /** The migration target of this app (schema, STAC schema, app role). */
  migrationTarget: { schema: string; stacSchema: string; appRole: string };
  close(): Promise<void>;
}

let current: Services | undefined;

export function services(): Services {
  current ??= createServices();
  return current;
}

/** Drops the services (tests and the dev host's stop); the next call creates them anew. */
export async function resetServices(): Promise<void> {
  const s = current;
  current = undefined;
  await s?.close();
}

function createServices(env: NodeJS.ProcessEnv = process.env): Services {
  const config = loadConfig(env);
  const pool = createPool(loadDbConfig(env));
  const log = createLogger({ app: 'rmhdagmaster' }, env);
  pool.on('error', (err) => log.error('idle Postgres client error', { error: err.message }));
  const unregisterPoolGauges = registerPoolGauges(pool, 'functionapp');
  const registry = defaultRegistry();
  const schema = config.DAG_DB_SCHEMA;
  const queueConfig: QueueConfig = {
    activityQueues: config.DAG_ACTIVITY_QUEUES,
    defaultContainerQueue: config.DAG_CONTAINER_QUEUE,
  };

  let catalog: WorkflowCatalog | undefined;
  let catalogStamp = '';
  let checkedAt = 0;
  const dir = path.resolve(config.DAG_WORKFLOWS_DIR);
  const stamp = () => {
    try {
      return readdirSync(dir)
        .filter((f) => /\.ya?ml$/i.test(f))
        .sort()
        .map((f) => {
          const st = statSync(path.join(dir, f));
          return `${f}:${st.mtimeMs}:${st.size}`;
        })
        .join('|');
    } catch {
      return 'missing';
    }
  };

  let queues: QueueDirectory | undefined;
  const directory = () =>
    (queues ??= new QueueDirectory(
      createQueueService(
        {
          storageConnectionString: usableConnectionString(
            config.DAG_QUEUE_CONNECTION ?? config.AzureWebJobsStorage,
          ),
          queueServiceUrl: config.DAG_QUEUE_SERVICE_URL,
        },
        'No queue storage configured: set DAG_QUEUE_CONNECTION or AzureWebJobsStorage to a connection string, or DAG_QUEUE_SERVICE_URL for managed identity (docs/configuration.md).',
      ),
    ));

  let bootstrapped: Promise<void> | undefined;
  // Aborted when the app terminates: handlers running in activities stop instead of holding the
  // process (a sleeping handler's timer would keep it alive after the host has stopped).
  const shutdown = new AbortController();
  const migrationTarget = {
    schema,
    stacSchema: config.DAG_STAC_SCHEMA,
    appRole: config.DAG_DB_APP_ROLE ?? defaultAppRole(schema),
  };
  const s: Services = {
    config,
    pool,
    schema,
    registry,
    queueConfig,
    log,
    resultKeys: new ResultKeys(pool, schema, (err) =>
      log.warn('could not read the result signing keys: container results are read from Postgres', {
        error: err instanceof Error ? err.message : String(err),
      }),
    ),
    catalog(fresh = false) {
      const now = Date.now();
      if (!catalog || fresh || now - checkedAt > 1000) {
        checkedAt = now;
        const st = stamp();
        if (!catalog || st !== catalogStamp) {
          catalog = loadWorkflowDirectory(dir, {
            handlers: registry.catalog(),
            activityQueues: queueConfig.activityQueues,
            defaultContainerQueue: queueConfig.defaultContainerQueue,
            workerQueues: config.DAG_WORKER_QUEUES,
          });
          catalogStamp = st;
          for (const f of catalog.files) {
            for (const i of f.issues)
              log.warn('invalid workflow file', { file: f.file, line: i.line, message: i.message });
          }
        }
      }
      return catalog;
    },
    queueClient: (name) => directory().client(name),
    async sendToQueue(name, message) {
      const client = await directory().ensure(name);
      // Functions queue triggers read base64 by default (host.json messageEncoding).
      const r = await client.sendMessage(jsonToBase64(message));
      return { messageId: r.messageId, popReceipt: r.popReceipt };
    },
    async probeQueueMessage(name, sent) {
      // Visibility 0 changes nothing for a message never dequeued (it is visible); a dequeued one no
      // longer matches the receipt and is left alone.
      try {
        await directory().client(name).updateMessage(sent.messageId, sent.popReceipt, undefined, 0);
        return 'present';
      } catch (err) {
        const status = (err as { statusCode?: number }).statusCode;
        const code = (err as { code?: string }).code;
        if (status === 404) return 'gone';
        if (status === 400 && code === 'PopReceiptMismatch') return 'present';
        throw err;
      }
    },
    activityDeps() {
      return {
        pool,
        schema,
        registry,
        queueConfig,
        chunkSize: config.DAG_FANOUT_CHUNK_SIZE,
        activityBatchSize: config.DAG_ACTIVITY_BATCH_SIZE,
        schedulerVersion: config.DAG_SCHEDULER_VERSION,
        chainBudgetMs: config.DAG_CHAIN_BUDGET_MS,
        tasksPerMessage: config.DAG_TASKS_PER_MESSAGE,
        batchQueues: config.DAG_WORKER_QUEUES,
        resultQueue: config.DAG_RESULT_QUEUE,
        sendToQueue: (q, m) => s.sendToQueue(q, m),
        probeQueueMessage: (q, m) => s.probeQueueMessage(q, m),
        log,
        sourceApp: 'functionapp',
        shutdown: shutdown.signal,
      };
    },
    migrationTarget,
    ready() {
      bootstrapped ??= (async () => {
        if (config.DAG_ENABLE_AUTO_BOOTSTRAP) {
          const r = await runMigrations(pool, { ...migrationTarget, log: (line) => log.info(line) });
          if (r.applied.length) log.info('database migrated', { from: r.from, to: r.to });
          return;
        }
        const r = await checkSchemaReadiness(pool, schema);
        if (!r.ok) throw new AppError('UNAVAILABLE', `The database is not ready: ${r.message}.`, r);
      })().catch((err: unknown) => {
        // Checked again on the next call (a deployment may be migrating right now).
        bootstrapped = undefined;
        throw err;
      });
      return bootstrapped;
    },
    async close() {
      unregisterPoolGauges();
      shutdown.abort(new Error('The Function App is shutting down'));
      await closeTemplateWorkers().catch(() => undefined);
      await pool.end().catch(() => undefined);
    },
  };
  return s;
}
