// The container worker (SPEC §4): consumes Storage Queues of task messages and runs each attempt
// with the shared handler runtime (handlers/executeHandler).
//
// One message, in order: decode (base64 JSON, zod) → look at Postgres (job, node, recorded result,
// live holder) → markTaskStarted → run the handler while the message's visibility is renewed (the
// lease) and a heartbeat is written → recordTaskResult (idempotent by task id) → send the result
// message → delete the task message. A crash anywhere leaves the message to reappear; every step
// is safe to repeat:
// * a task that already has a result is acknowledged (its result message sent again) and not run;
// * a message for an attempt that is no longer current is recorded (result_ignored) and dropped;
// * an attempt held by a live worker (fresh heartbeat) is not run twice: the copy is deferred;
// * an attempt whose holder died is resumed (same task id) from its latest checkpoint;
// * a message delivered more than maxDequeueCount times goes to `<queue>-poison` and its node
//   fails (not retryable), as a Functions host does with a trigger that keeps failing.
// Running tasks are polled every ~1.5 s: a cancelled job or a superseded attempt aborts the handler.
//
// This file is the wiring. The parts: decideMessage (what to do with a message, pure),
// messageHandler (carries it out), messageLease (visibility, delete), resultReporter (record + send),
// supervisor (lease renewals, heartbeats, cancel polling, hand-back), outagePause, workerHealth,
// registerQueueGauges, etlSweeper.
import type { TokenCredential } from '@azure/identity';
import type { DequeuedMessageItem } from '@azure/storage-queue';
import { createPool, loadDbConfig, query, sql, type DbConfig, type DbPool } from '../db';
import { createLogger, type Logger } from '../handlers/createLogger';
import { errorMessage } from '../handlers/executeHandler';
import { defaultRegistry, type HandlerRegistry } from '../handlers/handlerRegistry';
import { registerPoolGauges, untraced } from '../handlers/telemetry';
import { EtlSweeper, type EtlCleanup } from './etlSweeper';
import { handlerServices } from '../handlers/handlerServices';
import { startHealthServer, type HealthServer } from './healthServer';
import { createQueueService, QueueDirectory } from '../lib/io/queueDirectory';
import { MessageHandler } from './messageHandler';
import { MessageLease, type Part } from './messageLease';
import { RecentMax } from './recentMax';
import { OutagePause } from './outagePause';
import { registerQueueGauges } from './registerQueueGauges';
import { ResultReporter } from './resultReporter';
import { SlotPool } from './slotPool';
import { Supervisor } from './supervisor';
import { defaultWorkerId } from './workerConfig';
import type { WorkerContext } from './workerContext';
import { workerHealth, workerReadiness, type QueueState, type Readiness } from './workerHealth';
import { emptyStats, type HealthReport, type WorkerStats } from './workerStats';

export interface ContainerWorkerOptions {
  /** The queues to consume (e.g. container-tasks, dag-worker-tasks). */
  queues: string[];
  /** A connection string (Azurite locally) … */
  storageConnectionString?: string;
  /** … or the queue service URL, reached with `credential` (default DefaultAzureCredential). */
  queueServiceUrl?: string;
  credential?: TokenCredential;
  /** A pool to use (not closed by stop()), or databaseUrl / db to create one (closed by stop()). */
  pool?: DbPool;
  databaseUrl?: string;
  db?: DbConfig;
  /** The Postgres schema of the dag_* tables. */
  schema: string;
  /** Handlers (default: every handler shipped in this build). */
  registry?: HandlerRegistry;
  /**
   * Handlers running at once (default 4): a slot per task from its receive until its result is
   * recorded; as many more may be sending their results meanwhile.
   */
  maxConcurrent?: number;
  /** The lease: a received message stays invisible this long, renewed every third of it (default 60). */
  visibilityTimeoutSeconds?: number;
  /** Deliveries before a message goes to `<queue>-poison` (default 5, as the Functions host). */
  maxDequeueCount?: number;
  /** stop()/SIGTERM: finish, else hand back, within this time (default 30). */
  shutdownTimeoutSeconds?: number;
  /** The /livez, /readyz, /health server: 0 = a free port, undefined = none. */
  healthPort?: number;
  /** Default 127.0.0.1 (the container entry point binds 0.0.0.0). */
  healthHost?: string;
  /** Written to the node rows, results and logs (default `<hostname>-<pid>`). */
  workerId?: string;
  logger?: Logger;
  /** Longest wait between polls of an empty queue (default 1000 ms; polling speeds up when busy). */
  pollIntervalMs?: number;
  /** How often running tasks are checked for cancel / supersede and heartbeats are due (default 1500 ms). */
  cancelPollIntervalMs?: number;
  /** events.source_app (default "container-worker"). */
  sourceApp?: string;
  /** Remove the ETL mount's files of ended jobs after their retention (see sweepEtlMount). */
  etlCleanup?: EtlCleanup;
}

export interface ContainerWorker {
  workerId: string;
  /** The health server's base URL (when healthPort was given). */
  url?: string;
  stats(): WorkerStats;
  health(): Promise<HealthReport>;
  /** Stops receiving, lets running tasks finish or hands them back, closes what it opened. */
  stop(): Promise<void>;
}

const MIN_IDLE_MS = 50;
const BATCH_MAX = 32;
const BATCH_PATIENCE_MS = 2000;
const SIZE_MEMORY_MS = 60_000;

export async function startContainerWorker(options: ContainerWorkerOptions): Promise<ContainerWorker> {
  const w = new Worker(options);
  await w.start();
  return {
    workerId: w.workerId,
    ...(w.url ? { url: w.url } : {}),
    stats: () => w.stats(),
    health: () => w.health(),
    stop: () => w.stop(),
  };
}

class Worker {
  readonly workerId: string;
  url: string | undefined;
  private readonly o: ContainerWorkerOptions;
  private readonly log: Logger;
  private readonly pool: DbPool;
  private readonly ownsPool: boolean;
  private readonly queues: QueueDirectory;
  private readonly slots: SlotPool;
  private readonly visibilitySec: number;
  private readonly maxDequeue: number;
  private readonly pollMs: number;
  private readonly counters: WorkerStats = emptyStats();
  private readonly stopping = new AbortController();
  private readonly outage: OutagePause;
  private readonly ctx: WorkerContext;
  private readonly lease: MessageLease;
  private readonly supervisor: Supervisor;
  private readonly handler: MessageHandler;
  private readonly etl: EtlSweeper | undefined;
  private readonly handling = new Set<Promise<void>>();
  /** Tasks whose result is recorded and being sent, their slot given back (at most one per slot). */
  private reporting = 0;
  private loops: Promise<void>[] = [];
  private ticker: NodeJS.Timeout | undefined;
  private unregisterGauges: (() => void) | undefined;
  private health_: HealthServer | undefined;
  private started = false;
  private stopped: Promise<void> | undefined;
  private readonly startedAt = Date.now();
  private readonly queueState = new Map<string, QueueState>();

  constructor(o: ContainerWorkerOptions) {
    if (!o.queues.length) throw new Error('startContainerWorker: `queues` names no queue to consume.');
    if (!o.schema)
      throw new Error(
        'startContainerWorker: `schema` (the Postgres schema of the dag_* tables) is required.',
      );
    this.o = o;
    this.workerId = (o.workerId?.trim() || defaultWorkerId()).slice(0, 128);
    this.log = (o.logger ?? createLogger({ app: 'container-worker' })).child({ worker_id: this.workerId });
    const maxConcurrent = o.maxConcurrent ?? 4;
    if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1)
      throw new Error(`startContainerWorker: maxConcurrent must be an integer ≥ 1, got ${maxConcurrent}.`);
    this.slots = new SlotPool(maxConcurrent);
    if (o.pool) {
      this.pool = o.pool;
      this.ownsPool = false;
    } else {
      const config: DbConfig =
        o.db ??
        (o.databaseUrl
          ? { ...loadDbConfig({ DATABASE_URL: o.databaseUrl, DAG_DB_SCHEMA: o.schema }) }
          : (() => {
              throw new Error('startContainerWorker: pass `pool`, `databaseUrl` or `db`.');
            })());
      this.pool = createPool(
        {
          ...config,
          poolMax: Math.max(config.poolMax, Math.min(maxConcurrent + 4, 50)),
          applicationName: 'dag-container-worker',
        },
        { onError: (err) => this.log.warn('idle Postgres connection error', { error: err.message }) },
      );
      this.ownsPool = true;
    }
    this.queues = new QueueDirectory(
      createQueueService({
        ...(o.storageConnectionString ? { storageConnectionString: o.storageConnectionString } : {}),
        ...(o.queueServiceUrl ? { queueServiceUrl: o.queueServiceUrl } : {}),
        ...(o.credential ? { credential: o.credential } : {}),
      }),
    );
    this.visibilitySec = Math.max(2, Math.round(o.visibilityTimeoutSeconds ?? 60));
    this.maxDequeue = o.maxDequeueCount ?? 5;
    this.pollMs = Math.max(MIN_IDLE_MS, o.pollIntervalMs ?? 1000);
    const sourceApp = o.sourceApp ?? 'container-worker';
    this.outage = new OutagePause({
      pool: this.pool,
      queues: this.queues,
      probeQueue: o.queues[0]!,
      log: this.log,
      counters: this.counters,
      stopping: this.stopping.signal,
    });
    const ctx: WorkerContext = (this.ctx = {
      workerId: this.workerId,
      schema: o.schema,
      pool: this.pool,
      sourceApp,
      log: this.log,
      queues: this.queues,
      counters: this.counters,
      visibilitySec: this.visibilitySec,
      phase: (name, ms, count = 1) => {
        const p = this.counters.phaseMs[name];
        p.total += ms;
        p.count += count;
      },
      pause: () => this.outage.pause(),
    });
    this.lease = new MessageLease(ctx);
    this.supervisor = new Supervisor(ctx, this.lease, o.cancelPollIntervalMs ?? 1500);
    this.handler = new MessageHandler({
      ctx,
      lease: this.lease,
      reporter: new ResultReporter(ctx),
      supervisor: this.supervisor,
      execDeps: {
        pool: this.pool,
        schema: o.schema,
        registry: this.supervisor.trackingRegistry(o.registry ?? defaultRegistry()),
        log: this.log,
        sourceApp,
        // Handlers use this worker's pool and the process's handler configuration.
        services: handlerServices(this.pool),
      },
      maxDequeueCount: this.maxDequeue,
      // A holder whose heartbeat is older than this is taken for dead: a live one beats every third
      // of the lease.
      staleAfterMs: Math.round((this.visibilitySec * 1000 * 2) / 3),
      stopping: this.stopping.signal,
    });
    if (o.etlCleanup)
      this.etl = new EtlSweeper(o.etlCleanup, {
        pool: this.pool,
        schema: o.schema,
        log: this.log,
        stopping: this.stopping.signal,
      });
  }

  async start(): Promise<void> {
    // Fail fast on a wrong configuration: both stores must answer before any message is taken.
    await query(this.pool, sql`SELECT 1`).catch((err: unknown) => {
      throw new Error(`The container worker cannot reach Postgres: ${errorMessage(err)}`);
    });
    for (const q of this.o.queues) {
      await this.queues.ensure(q).catch((err: unknown) => {
        throw new Error(`The container worker cannot open queue "${q}": ${errorMessage(err)}`);
      });
      this.queueState.set(q, { ok: true, at: Date.now() });
    }
    if (this.o.healthPort !== undefined) {
      this.health_ = await startHealthServer({
        port: this.o.healthPort,
        host: this.o.healthHost ?? '127.0.0.1',
        live: () => true,
        ready: () => Promise.resolve(this.readiness()),
        report: () => this.health(),
      });
      this.url = this.health_.url;
    }
    this.started = true;
    const queueGauges = registerQueueGauges(this.queues, this.o.queues);
    const poolGauges = registerPoolGauges(this.pool, 'worker');
    this.unregisterGauges = () => {
      queueGauges();
      poolGauges();
    };
    // Polling, lease renewals and sweeps are not traced (each message's work is: a consumer span).
    this.ticker = setInterval(
      () => void untraced(() => this.supervisor.tick()),
      Math.min(250, this.lease.renewEveryMs / 2),
    );
    this.loops = this.o.queues.map((q) => untraced(() => this.receiveLoop(q)));
    this.etl?.start();
    this.log.info('container worker started', {
      queues: this.o.queues,
      max_concurrent: this.slots.size,
      visibility_timeout_s: this.visibilitySec,
      max_dequeue_count: this.maxDequeue,
      health: this.url,
    });
  }

  stats(): WorkerStats {
    return {
      ...this.counters,
      running: this.supervisor.handlersRunning().length,
      inHand: this.slots.inUse + this.reporting,
      // A snapshot: callers compare two of them.
      phaseMs: Object.fromEntries(
        Object.entries(this.counters.phaseMs).map(([k, v]) => [k, { ...v }]),
      ) as WorkerStats['phaseMs'],
    };
  }

  private async receiveLoop(queue: string): Promise<void> {
    const client = this.queues.client(queue);
    let idle = MIN_IDLE_MS;
    // The most tasks a message of this queue carried in the last minute: a loop waits for that many
    // free slots before it receives and asks for as many messages as its free slots take, so the
    // tasks of a batch rarely exceed them (those that do go back to the queue: MessageLease.spill).
    // A loop that waited BATCH_PATIENCE_MS takes what is free: a long task in one slot must not idle
    // the others, nor another queue's loop starve this one. Unknown at first: one message is asked for.
    const sizes = new RecentMax(SIZE_MEMORY_MS);
    while (!this.stopping.signal.aborted) {
      if (this.outage.current) await this.outage.current;
      const free = await this.slots.acquireUpTo(
        BATCH_MAX,
        this.stopping.signal,
        sizes.value ?? 1,
        BATCH_PATIENCE_MS,
      );
      if (free === 0) break;
      let items: DequeuedMessageItem[] = [];
      const t0 = Date.now();
      try {
        this.counters.receiveCalls++;
        const numberOfMessages = sizes.value ? Math.max(1, Math.floor(free / sizes.value)) : 1;
        items = (await client.receiveMessages({ numberOfMessages, visibilityTimeout: this.visibilitySec }))
          .receivedMessageItems;
        this.queueState.set(queue, { ok: true, at: Date.now() });
        if (items.length) this.ctx.phase('receive', Date.now() - t0, items.length);
      } catch (err) {
        this.queueState.set(queue, { ok: false, error: errorMessage(err), at: Date.now() });
        this.log.warn(`receiving from queue "${queue}" failed; retrying`, { error: errorMessage(err) });
      }
      this.counters.messages += items.length;
      const held = items.flatMap((item) => this.lease.take(queue, item) ?? []);
      if (held.length) sizes.add(Math.max(...held.map((h) => h.parts.length)));
      const parts = held.flatMap((h) => h.parts);
      // A slot per task: those beyond the free slots go back to the queue for another worker (or this
      // one, once a slot is free) rather than wait here.
      if (parts.length > free) {
        // Tracked like a task in hand: shutdown waits for it before it closes the pool.
        const spill: Promise<void> = this.lease
          .spill(parts.slice(free))
          .finally(() => this.handling.delete(spill));
        this.handling.add(spill);
      }
      this.slots.release(free - Math.min(free, parts.length));
      for (const part of parts.slice(0, free)) {
        // A slot is for running a task: once its result is recorded, sending it and settling the
        // message (group commits, ~20 ms of waiting) need not keep the next task waiting. At most one
        // such task per slot, so that a slow result queue cannot gather an unbounded number.
        // Reporting: its slot was given back when its result was recorded.
        let reporting = false;
        const p: Promise<void> = this.handler
          .handle(part, () => {
            if (reporting || this.reporting >= this.slots.size) return;
            this.reporting++;
            reporting = true;
            this.slots.release(1);
          })
          .catch((err: unknown) => this.onHandleError(part, err))
          .finally(() => {
            this.handling.delete(p);
            if (reporting) this.reporting--;
            else this.slots.release(1);
          });
        this.handling.add(p);
      }
      if (items.length === 0) {
        await this.outage.sleep(idle);
        idle = Math.min(idle * 2, this.pollMs);
      } else idle = MIN_IDLE_MS;
    }
  }

  private async onHandleError(p: Part, err: unknown): Promise<void> {
    const h = p.held;
    this.counters.errors++;
    this.log.error(`handling message ${h.messageId} from "${h.queue}" failed; it will be delivered again`, {
      error: errorMessage(err),
    });
    this.outage.pause();
    // The task comes back with its message (once the message's other tasks are done): the message is
    // no longer held here, so its next delivery is handled afresh (not taken for this worker's own).
    await this.lease.comeBackLater(p);
  }

  // ---------------------------------------------------------------- health and shutdown

  private readiness(): Readiness {
    return workerReadiness({
      started: this.started,
      stopping: this.stopping.signal.aborted,
      paused: !!this.outage.current,
      queueState: this.queueState,
    });
  }

  health(): Promise<HealthReport> {
    const etl = this.etl;
    return workerHealth({
      workerId: this.workerId,
      pool: this.pool,
      queues: this.queues,
      queueNames: this.o.queues,
      startedAt: this.startedAt,
      readiness: () => this.readiness(),
      stats: () => this.stats(),
      running: () => this.supervisor.handlersRunning(),
      config: {
        queues: this.o.queues,
        max_concurrent: this.slots.size,
        visibility_timeout_s: this.visibilitySec,
        max_dequeue_count: this.maxDequeue,
        shutdown_timeout_s: this.o.shutdownTimeoutSeconds ?? 30,
        poll_interval_ms: this.pollMs,
      },
      ...(etl ? { etlCleanup: () => etl.report() } : {}),
    });
  }

  stop(): Promise<void> {
    this.stopped ??= this.shutdown();
    return this.stopped;
  }

  private async shutdown(): Promise<void> {
    this.unregisterGauges?.();
    const budget = (this.o.shutdownTimeoutSeconds ?? 30) * 1000;
    const began = Date.now();
    // Keep a margin for handing tasks back and closing connections.
    this.supervisor.settleBy = began + Math.max(0, budget - 1000);
    const settleMs = Math.min(5000, budget / 3);
    const drainUntil = this.supervisor.settleBy - settleMs;
    this.log.info('container worker stopping: no new messages; running tasks finish or are handed back', {
      running: this.supervisor.active.size,
      budget_s: budget / 1000,
    });
    this.stopping.abort();
    await Promise.allSettled(this.loops);
    const all = () => Promise.allSettled([...this.handling]);
    await Promise.race([
      all(),
      new Promise((r) => setTimeout(r, Math.max(0, drainUntil - Date.now())).unref()),
    ]);
    for (const t of this.supervisor.active.values()) {
      this.supervisor.stopTask(
        t,
        'shutdown',
        new Error('The worker is shutting down; the task resumes on another worker'),
      );
    }
    await Promise.race([all(), this.supervisor.settleDeadline()]);
    if (this.ticker) clearInterval(this.ticker);
    await this.etl?.stop();
    await this.health_?.close().catch(() => undefined);
    if (this.handling.size)
      this.log.warn('tasks still running at the end of the shutdown budget', { count: this.handling.size });
    if (this.ownsPool) await this.pool.end().catch(() => undefined);
    const { phaseMs: _p, ...counts } = this.stats();
    this.log.info('container worker stopped', { took_ms: Date.now() - began, ...counts });
  }
}
