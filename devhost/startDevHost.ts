// Composition root of the dev host: loads the app's registrations through the fake functions-core
// module, opens the store, and starts the orchestration dispatcher, the activity runner, the HTTP
// front, queue listeners and timer schedules.
import path from 'node:path';
import { ActivityRunner, type ActivityStats } from './activityRunner';
import { readLocalSettings, type Env } from './appSettings';
import { DevHostError, errorMessage } from './devHostError';
import { durableClientBinding } from './durableClientBinding';
import {
  DurableOperations,
  type OrchestrationStatus,
  type StartOptions,
  type StatusOptions,
} from './durableOperations';
import { FunctionInvoker } from './functionInvoker';
import { setCoreLogger } from './functionsCore';
import type { HistoryEvent } from './historyEvents';
import { findHostJson, loadHostConfig, type HostConfig } from './hostConfig';
import { DEFAULT_MAX_BODY_BYTES, HttpHost } from './httpServer';
import { checkCapabilities, loadApp, type Registration } from './loadApp';
import { createLogger, type Logger, type LogLevel } from './logger';
import { OrchestrationDispatcher, type DispatcherStats } from './orchestrationDispatcher';
import { OutputBindings } from './outputBindings';
import { QueueTriggerListener } from './queueTriggerListener';
import { StorageConnections, defaultConnectionName } from './storageConnections';
import type { InstanceFilter, InstanceStore } from './store/instanceStore';
import { MemoryStore } from './store/memoryStore';
import { PostgresStore } from './store/postgresStore';
import { TimerTriggerScheduler } from './timerTriggerScheduler';

export interface DevHostOptions {
  /** Module that performs the registrations (app.* / df.app.*), .ts or .js, loaded with require. */
  appEntry: string;
  /** 'memory' (default): fast, lost on exit. 'postgres': crash-safe, resumes on restart. */
  store?: 'memory' | 'postgres';
  /** Postgres connection string (default: DATABASE_URL). */
  databaseUrl?: string;
  /** Schema for the dev host's own tables (default 'devhost'). */
  storeSchema?: string;
  /** Interface to bind (default 127.0.0.1). */
  host?: string;
  /** Public port (0, the default, picks a free one). */
  port?: number;
  /** host.json (default: found next to the app entry or in a parent directory). */
  hostJsonPath?: string;
  /** Storage connection string (Azurite); becomes AzureWebJobsStorage unless that is set. */
  storageConnectionString?: string;
  /** Function key for non-anonymous routes and the Durable webhooks (default: DAG_API_KEY; '' disables). */
  apiKey?: string;
  /** Durable task hub (default: host.json extensions.durableTask.hubName). */
  taskHub?: string;
  /** App settings applied to process.env while the host runs (restored by stop()). */
  env?: Record<string, string>;
  /** Read local.settings.json "Values" next to host.json (default true). */
  loadLocalSettings?: boolean;
  /** After every episode, check that the host's pending task ids match the SDK's open tasks. */
  testMode?: boolean;
  logger?: Logger;
  logLevel?: LogLevel;
  /** Overrides host.json. */
  maxConcurrentActivityFunctions?: number;
  maxConcurrentOrchestratorFunctions?: number;
  /** Run storageQueue triggers (default true when the app has any). */
  queueTriggers?: boolean;
  /** Run timer triggers (default true). */
  timerTriggers?: boolean;
  /** Safety-net poll for work from other processes (Postgres store), ms (default 1000). */
  pollIntervalMs?: number;
  /**
   * Where the app's durable clients send management calls (default: this host's own RPC listener,
   * `rpcBaseUrl`). Tests put a fault-injecting proxy in front of the listener here.
   */
  durableClientRpcBaseUrl?: string;
}

export interface DevHostStats {
  orchestrations: DispatcherStats;
  activities: ActivityStats;
}

export interface DevHost {
  /** Public base URL, e.g. http://127.0.0.1:7071 */
  readonly url: string;
  readonly port: number;
  /** The Durable client's local RPC base URL (no key needed, loopback only). */
  readonly rpcBaseUrl: string;
  readonly taskHub: string;
  readonly config: HostConfig;
  readonly registrations: ReadonlyMap<string, Registration>;
  startNew(orchestrator: string, options?: StartOptions): Promise<string>;
  getStatus(instanceId: string, options?: StatusOptions): Promise<OrchestrationStatus | undefined>;
  listInstances(filter?: InstanceFilter): Promise<OrchestrationStatus[]>;
  raiseEvent(instanceId: string, eventName: string, data?: unknown): Promise<void>;
  terminate(instanceId: string, reason?: string): Promise<void>;
  purge(instanceId: string): Promise<number>;
  /** The raw DTFx-style history of the instance's current execution. */
  getHistory(instanceId: string): Promise<HistoryEvent[]>;
  /** Resolves with the final status (Completed, Failed, Terminated); rejects after timeoutMs. */
  waitForCompletion(instanceId: string, timeoutMs?: number): Promise<OrchestrationStatus>;
  /** Runs a timer-triggered function now (like the admin API of the Functions host). */
  runTimer(functionName: string): Promise<void>;
  stats(): DevHostStats;
  /** Stops everything this host started; the process can exit afterwards. */
  stop(): Promise<void>;
}

export async function startDevHost(options: DevHostOptions): Promise<DevHost> {
  const logger = options.logger ?? createLogger({ level: options.logLevel });
  const env = process.env as Env;
  // Environment changes are undone by stop() unless someone changed the value since.
  const restoreEnv = new Map<string, { before: string | undefined; set: string }>();
  const setEnv = (k: string, v: string) => {
    restoreEnv.set(k, { before: restoreEnv.get(k)?.before ?? env[k], set: v });
    env[k] = v;
  };
  // Stop order: triggers (timers, queues, HTTP) → dispatcher → activities → appTerminate → store.
  const cleanups: { order: number; run: () => Promise<void> }[] = [];
  const onStop = (order: number, run: () => Promise<void>) => cleanups.push({ order, run });
  const cleanup = async () => {
    for (const c of cleanups.sort((a, b) => a.order - b.order)) {
      await c.run().catch((err) => logger.warn(`stop: ${errorMessage(err)}`));
    }
    for (const [k, { before, set }] of restoreEnv) {
      if (env[k] !== set) continue;
      if (before === undefined) delete env[k];
      else env[k] = before;
    }
  };

  try {
    if (!options.appEntry) throw new DevHostError('config', 'startDevHost: appEntry is required');
    const hostJson = options.hostJsonPath
      ? path.resolve(options.hostJsonPath)
      : findHostJson(options.appEntry);
    for (const [k, v] of Object.entries(options.env ?? {})) setEnv(k, v);
    if (options.loadLocalSettings !== false) {
      const dir = hostJson ? path.dirname(hostJson) : path.dirname(path.resolve(options.appEntry));
      for (const [k, v] of Object.entries(readLocalSettings(path.join(dir, 'local.settings.json')))) {
        if (env[k] === undefined) setEnv(k, v);
      }
    }
    if (options.storageConnectionString) {
      const current = env[defaultConnectionName];
      if (!current || /UseDevelopmentStorage=true/i.test(current))
        setEnv(defaultConnectionName, options.storageConnectionString);
    }
    const config = loadHostConfig(hostJson, env);
    if (options.taskHub) config.hubName = options.taskHub;
    if (options.maxConcurrentActivityFunctions)
      config.maxConcurrentActivityFunctions = options.maxConcurrentActivityFunctions;
    if (options.maxConcurrentOrchestratorFunctions)
      config.maxConcurrentOrchestratorFunctions = options.maxConcurrentOrchestratorFunctions;
    const apiKey = options.apiKey ?? env.DAG_API_KEY ?? undefined;

    setCoreLogger(logger.child({ category: 'functions' }));
    const app = loadApp(options.appEntry);
    await checkCapabilities();
    const registrations = app.registrations;
    for (const r of registrations.values()) {
      if (!r.supported) {
        logger.warn(
          `Function '${r.name}' uses a '${r.trigger.type}' trigger, which the dev host does not run`,
        );
      }
      if (app.registry.functions.get(r.name)?.metadata.retryOptions) {
        logger.warn(`Function '${r.name}' declares a retry policy, which the dev host does not apply`);
      }
    }

    const store: InstanceStore = await openStore(options, env, config, logger);
    onStop(90, () => store.close());

    const invoker = new FunctionInvoker(app.registry, logger);
    const storage = new StorageConnections(env);
    // The durable client binding needs the ports, known once the HTTP front listens.
    const front: { http?: HttpHost } = {};
    const outputs = new OutputBindings({
      env,
      storage,
      messageEncoding: config.queues.messageEncoding,
      durableClientData: () =>
        durableClientBinding({
          publicOrigin: front.http!.url,
          rpcBaseUrl: options.durableClientRpcBaseUrl ?? front.http!.rpcBaseUrl,
          taskHub: config.hubName,
          connectionName: 'Storage',
          key: apiKey || undefined,
        }),
    });
    const pollIntervalMs = options.pollIntervalMs ?? 1000;
    const dispatcher = new OrchestrationDispatcher({
      store,
      episode: { invoker, registrations, testMode: options.testMode === true, logger },
      logger,
      // Each running episode holds a pooled connection (see openStore).
      maxConcurrency:
        store.kind === 'postgres'
          ? Math.min(config.maxConcurrentOrchestratorFunctions, 8)
          : config.maxConcurrentOrchestratorFunctions,
      pollIntervalMs: store.kind === 'postgres' ? pollIntervalMs : Math.max(pollIntervalMs, 5000),
      onActivities: (items) => runner.enqueue(items),
    });
    const runner = new ActivityRunner({
      store,
      invoker,
      registrations,
      outputs,
      logger,
      maxConcurrency: config.maxConcurrentActivityFunctions,
      pollIntervalMs: store.kind === 'postgres' ? pollIntervalMs : 0,
      onCompleted: (ids) => dispatcher.markReady(ids),
    });
    store.onExternalWork((ids, activities) => {
      dispatcher.markReady(ids);
      if (activities) runner.wake();
    });
    const ops = new DurableOperations(store, dispatcher, registrations);

    const http = new HttpHost({
      host: options.host ?? '127.0.0.1',
      port: options.port ?? 0,
      routePrefix: config.routePrefix,
      apiKey: apiKey || undefined,
      registrations,
      invoker,
      outputs,
      management: {
        ops,
        taskHub: config.hubName,
        connectionName: 'Storage',
        key: apiKey || undefined,
        logger: logger.child({ category: 'durable-http' }),
      },
      logger,
      maxBodyBytes: bodySizeLimit(env.FUNCTIONS_REQUEST_BODY_SIZE_LIMIT),
    });
    front.http = http;
    await http.start();
    onStop(30, () => http.stop());
    // durable-functions rewrites client URLs to localhost:7071 unless WEBSITE_HOSTNAME is set.
    setEnv('WEBSITE_HOSTNAME', `${options.host ?? '127.0.0.1'}:${http.boundPort}`);

    for (const hook of app.registry.hooks.appStart) {
      await hook({
        hookData: {},
        appHookData: app.registry.appHookData,
        functionAppDirectory: path.dirname(app.appEntry),
      });
    }

    dispatcher.start();
    onStop(40, () => dispatcher.stop());
    runner.start();
    onStop(50, () => runner.stop(2000));

    const queues: QueueTriggerListener[] = [];
    if (options.queueTriggers !== false) {
      for (const r of registrations.values()) {
        if (r.kind !== 'queue') continue;
        const l = new QueueTriggerListener({
          reg: r,
          invoker,
          outputs,
          storage,
          env,
          config: config.queues,
          logger,
        });
        await l.start();
        queues.push(l);
      }
    }
    onStop(20, async () => {
      await Promise.all(queues.map((q) => q.stop()));
    });
    const timers = new TimerTriggerScheduler({
      registrations,
      invoker,
      outputs,
      env,
      logger,
      enabled: options.timerTriggers !== false,
    });
    timers.start();
    onStop(10, () => timers.stop());
    onStop(60, async () => {
      for (const hook of app.registry.hooks.appTerminate) {
        await hook({ hookData: {}, appHookData: app.registry.appHookData });
      }
    });

    logger.info(`dev host listening on ${http.url}`, {
      functions: registrations.size,
      store: store.kind,
      taskHub: config.hubName,
    });

    let stopped: Promise<void> | undefined;
    const host: DevHost = {
      url: http.url,
      port: http.boundPort,
      rpcBaseUrl: http.rpcBaseUrl,
      taskHub: config.hubName,
      config,
      registrations,
      startNew: (name, o) => ops.startNew(name, o),
      getStatus: (id, o) => ops.getStatus(id, o),
      listInstances: async (filter = {}) => {
        const all: OrchestrationStatus[] = [];
        let token: string | undefined;
        do {
          const page = await ops.list(filter, 500, token);
          all.push(...page.items);
          token = page.continuation;
        } while (token);
        return all;
      },
      raiseEvent: (id, name, data) =>
        ops.raiseEvent(id, name, data === undefined ? null : JSON.stringify(data)),
      terminate: (id, reason = '') => ops.terminate(id, reason),
      purge: (id) => ops.purge(id),
      getHistory: (id) => ops.getHistory(id),
      waitForCompletion: (id, timeoutMs) => ops.waitForCompletion(id, timeoutMs),
      runTimer: (name) => timers.fire(name),
      stats: () => ({
        orchestrations: { ...dispatcher.stats, openTaskReturns: [...dispatcher.stats.openTaskReturns] },
        activities: { ...runner.stats, byFunction: { ...runner.stats.byFunction } },
      }),
      stop: () => (stopped ??= cleanup().then(() => logger.info('dev host stopped'))),
    };
    return host;
  } catch (err) {
    await cleanup();
    throw err;
  }
}

async function openStore(
  options: DevHostOptions,
  env: Env,
  config: HostConfig,
  logger: Logger,
): Promise<InstanceStore> {
  if ((options.store ?? 'memory') === 'memory') {
    const s = new MemoryStore();
    await s.init();
    return s;
  }
  const url = options.databaseUrl ?? env.DATABASE_URL;
  if (!url) {
    throw new DevHostError(
      'config',
      "The 'postgres' store needs a database: pass databaseUrl or set DATABASE_URL " +
        '(or start one with launchEmbeddedPostgres()).',
    );
  }
  const s = new PostgresStore({
    connectionString: url,
    schema: options.storeSchema ?? 'devhost',
    taskHub: config.hubName,
    // Replay is single-threaded: a few connections overlap I/O well enough; more only crowd Postgres.
    poolSize: Math.min(config.maxConcurrentOrchestratorFunctions, 8) + 4,
    logger,
  });
  await s.init();
  return s;
}

/** FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: bytes, as the Functions host reads it (default 100 MB). */
function bodySizeLimit(value: string | undefined): number {
  if (value === undefined || value === '') return DEFAULT_MAX_BODY_BYTES;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new DevHostError(
      'config',
      `FUNCTIONS_REQUEST_BODY_SIZE_LIMIT must be a positive number of bytes, got ${JSON.stringify(value)}`,
    );
  }
  return n;
}
