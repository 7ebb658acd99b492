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
import type { TokenCredential } from '@azure/identity';
import type { DequeuedMessageItem } from '@azure/storage-queue';
import type pg from 'pg';
import type { ContainerResultMessage, ContainerTaskMessage } from '../lib/containerMessages';
import { retryDelaySeconds } from '../dag/retryDelay';
import type { RetryPolicy } from '../dag/workflowModel';
import {
  createPool,
  loadDbConfig,
  markTaskStarted,
  query,
  recordTaskResult,
  sql,
  type DbConfig,
  type TaskResultInput,
  type TaskResultOutcome,
} from '../db';
import { createLogger, type Logger } from '../handlers/createLogger';
import {
  errorMessage,
  executeHandler,
  type AttemptResult,
  type ExecuteDeps,
} from '../handlers/executeHandler';
import { defaultRegistry, HandlerRegistry } from '../handlers/handlerRegistry';
import {
  currentTraceparent,
  metrics,
  registerGauge,
  reportResultRecorded,
  trackException,
  untraced,
  withSpan,
} from '../handlers/telemetry';
import type { HandlerDefinition } from '../handlers/handlerTypes';
import { startHealthServer, type HealthServer } from './healthServer';
import { createQueueService, QueueDirectory, storageStatus } from './queueService';
import { SlotPool } from './slotPool';
import { ResultBatcher } from './resultBatcher';
import { sweepEtlMount, type EtlRetention } from './sweepEtlMount';
import { decodeTaskMessage, type AttemptIdentity } from './taskMessageCodec';
import { defaultWorkerId } from './workerConfig';
import {
  claimRunningTask,
  pollRunningTasks,
  preflightTask,
  releaseRunningTasks,
  retryPolicyOf,
  type Preflight,
} from './workerQueries';
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
  pool?: pg.Pool;
  databaseUrl?: string;
  db?: DbConfig;
  /** The Postgres schema of the dag_* tables. */
  schema: string;
  /** Handlers (default: every handler shipped in this build). */
  registry?: HandlerRegistry;
  /** Tasks in hand at once (default 4). */
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
  etlCleanup?: { mountPath: string; retention: EtlRetention; intervalMs: number };
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

interface ActiveTask {
  msg: ContainerTaskMessage;
  queue: string;
  messageId: string;
  popReceipt: string;
  controller: AbortController;
  stopReason?: 'cancelled' | 'superseded' | 'shutdown';
  /** The handler returned: its result is being recorded and sent (which moves the node on). */
  finishing: boolean;
  startedAt: number;
  lastRenewAt: number;
  lastBeatAt: number;
  leaseLost: boolean;
  /** Serializes the operations on this message (renewals, delete, release): each needs the latest pop receipt. */
  leaseOp: Promise<unknown>;
}

/** A queue message being handled (its pop receipt changes with every visibility update). */
interface Held {
  queue: string;
  messageId: string;
  popReceipt: string;
  dequeueCount: number;
  text: string;
}

const MIN_IDLE_MS = 50;
/** A result message send that takes longer is abandoned and retried. */
const RESULT_SEND_TIMEOUT_MS = 30_000;
const BATCH_MAX = 32;
const TERMINAL_JOB = new Set(['completed', 'failed', 'cancelled']);

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
  private readonly pool: pg.Pool;
  private readonly ownsPool: boolean;
  private readonly queues: QueueDirectory;
  private readonly results: ResultBatcher;
  private readonly slots: SlotPool;
  private readonly execDeps: ExecuteDeps;
  private readonly visibilitySec: number;
  private readonly renewEveryMs: number;
  private readonly staleAfterMs: number;
  private readonly maxDequeue: number;
  private readonly pollMs: number;
  private readonly cancelPollMs: number;
  private readonly sourceApp: string;
  private readonly counters: WorkerStats = emptyStats();
  private readonly active = new Map<string, ActiveTask>();
  /** Task ids between decode and start: a second copy received meanwhile is deferred. */
  private readonly claiming = new Set<string>();
  /** Other copies of a task received while it was claimed or running: deleted once it finished. */
  private readonly copies = new Map<string, Held[]>();
  private readonly handling = new Set<Promise<void>>();
  private readonly handlerRuns = new Map<string, Promise<unknown>>();
  private readonly policyCache = new Map<string, RetryPolicy | undefined>();
  private readonly stopping = new AbortController();
  private loops: Promise<void>[] = [];
  private ticker: NodeJS.Timeout | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  private readonly etl = {
    sweeps: 0,
    removed: 0,
    lastSweepAt: null as string | null,
    lastErrors: [] as string[],
  };
  private ticking = false;
  private unregisterGauges: (() => void) | undefined;
  private lastPoll = 0;
  private health_: HealthServer | undefined;
  private started = false;
  private stopped: Promise<void> | undefined;
  private paused: Promise<void> | undefined;
  private readonly startedAt = Date.now();
  private queueState = new Map<string, { ok: boolean; error?: string; at: number }>();

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
    this.results = new ResultBatcher((queue, text) =>
      this.withRetry('send the result', async () => {
        // Bounded: one send in flight carries every waiting result, so a hung request must not
        // hold them all (the retry sends them again).
        await (
          await this.queues.ensure(queue)
        ).sendMessage(text, {
          abortSignal: AbortSignal.timeout(RESULT_SEND_TIMEOUT_MS),
        });
      }),
    );
    this.visibilitySec = Math.max(2, Math.round(o.visibilityTimeoutSeconds ?? 60));
    // Renew at a third of the lease: two renewals can fail before the message reappears.
    this.renewEveryMs = (this.visibilitySec * 1000) / 3;
    // A holder whose heartbeat is older than this is taken for dead: a live one beats every renewEveryMs.
    this.staleAfterMs = Math.round((this.visibilitySec * 1000 * 2) / 3);
    this.maxDequeue = o.maxDequeueCount ?? 5;
    this.pollMs = Math.max(MIN_IDLE_MS, o.pollIntervalMs ?? 1000);
    this.cancelPollMs = o.cancelPollIntervalMs ?? 1500;
    this.sourceApp = o.sourceApp ?? 'container-worker';
    this.execDeps = {
      pool: this.pool,
      schema: o.schema,
      registry: this.trackingRegistry(o.registry ?? defaultRegistry()),
      log: this.log,
      sourceApp: this.sourceApp,
    };
  }

  /** The same handlers, each run remembered by task id so that shutdown can wait for it to settle. */
  private trackingRegistry(base: HandlerRegistry): HandlerRegistry {
    const r = new HandlerRegistry();
    for (const name of base.names()) {
      const def = base.get(name)!;
      r.register({
        ...def,
        run: (params: never, ctx) => {
          const p = def.run(params, ctx);
          this.handlerRuns.set(ctx.taskId, p);
          return p;
        },
      } as HandlerDefinition<never>);
    }
    return r;
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
        ready: () => this.readiness(),
        report: () => this.health(),
      });
      this.url = this.health_.url;
    }
    this.started = true;
    this.unregisterGauges = this.registerQueueGauges();
    // Polling, lease renewals and sweeps are not traced (each message's work is: a consumer span).
    this.ticker = setInterval(() => void untraced(() => this.tick()), Math.min(250, this.renewEveryMs / 2));
    this.loops = this.o.queues.map((q) => untraced(() => this.receiveLoop(q)));
    if (this.o.etlCleanup) {
      const every = Math.max(1000, this.o.etlCleanup.intervalMs);
      this.sweeper = setInterval(() => void untraced(() => this.sweepEtl()), every);
      // The first sweep soon after start, not a whole interval later.
      setTimeout(() => void this.sweepEtl(), Math.min(every, 10_000)).unref();
    }
    this.log.info('container worker started', {
      queues: this.o.queues,
      max_concurrent: this.slots.size,
      visibility_timeout_s: this.visibilitySec,
      max_dequeue_count: this.maxDequeue,
      health: this.url,
    });
  }

  /**
   * Queue gauges (telemetry on), read at each metric export: the depth of each consumed queue and of
   * its poison queue, and the age of the oldest waiting message (the backlog age).
   */
  private registerQueueGauges(): () => void {
    const timeout = <T>(p: Promise<T>, ms = 3000) =>
      Promise.race([
        p,
        new Promise<never>((_, rej) => setTimeout(() => rej(new Error('timeout')), ms).unref()),
      ]);
    const read = (name: string) => untraced(() => readQueue(name));
    const readQueue = async (name: string) => {
      try {
        const q = this.queues.client(name);
        const props = await timeout(q.getProperties());
        const peek = await timeout(q.peekMessages({ numberOfMessages: 1 }));
        const first = peek.peekedMessageItems[0];
        return {
          depth: props.approximateMessagesCount ?? 0,
          ageSec: first?.insertedOn ? Math.max(0, (Date.now() - first.insertedOn.getTime()) / 1000) : 0,
        };
      } catch {
        return { depth: 0, ageSec: 0 }; // no such queue (yet): nothing waits there
      }
    };
    const depths = registerGauge(
      'dag.queue.depth',
      'Messages waiting in a task queue (poison: its poison queue)',
      async () =>
        (
          await Promise.all(
            this.o.queues.map(async (queue) => [
              { value: (await read(queue)).depth, attributes: { queue, poison: false } },
              { value: (await read(`${queue}-poison`)).depth, attributes: { queue, poison: true } },
            ]),
          )
        ).flat(),
    );
    const ages = registerGauge(
      'dag.queue.oldest_age',
      'Age in seconds of the oldest message waiting in a task queue',
      async () =>
        Promise.all(
          this.o.queues.map(async (queue) => ({ value: (await read(queue)).ageSec, attributes: { queue } })),
        ),
    );
    return () => {
      depths();
      ages();
    };
  }

  stats(): WorkerStats {
    return {
      ...this.counters,
      running: this.active.size,
      inHand: this.slots.inUse,
      // A snapshot: callers compare two of them.
      phaseMs: Object.fromEntries(
        Object.entries(this.counters.phaseMs).map(([k, v]) => [k, { ...v }]),
      ) as WorkerStats['phaseMs'],
    };
  }

  // ---------------------------------------------------------------- receiving

  private async receiveLoop(queue: string): Promise<void> {
    const client = this.queues.client(queue);
    let idle = MIN_IDLE_MS;
    while (!this.stopping.signal.aborted) {
      if (this.paused) await this.paused;
      const n = await this.slots.acquireUpTo(BATCH_MAX, this.stopping.signal);
      if (n === 0) break;
      let items: DequeuedMessageItem[] = [];
      const t0 = Date.now();
      try {
        this.counters.receiveCalls++;
        items = (await client.receiveMessages({ numberOfMessages: n, visibilityTimeout: this.visibilitySec }))
          .receivedMessageItems;
        this.queueState.set(queue, { ok: true, at: Date.now() });
        if (items.length) this.phase('receive', Date.now() - t0, items.length);
      } catch (err) {
        this.queueState.set(queue, { ok: false, error: errorMessage(err), at: Date.now() });
        this.log.warn(`receiving from queue "${queue}" failed; retrying`, { error: errorMessage(err) });
      }
      this.slots.release(n - items.length);
      for (const item of items) {
        const held: Held = {
          queue,
          messageId: item.messageId,
          popReceipt: item.popReceipt,
          dequeueCount: item.dequeueCount,
          text: item.messageText,
        };
        const p: Promise<void> = this.handle(held)
          .catch((err: unknown) => this.onHandleError(held, err))
          .finally(() => {
            this.handling.delete(p);
            this.slots.release(1);
          });
        this.handling.add(p);
      }
      if (items.length === 0) {
        await this.sleep(idle);
        idle = Math.min(idle * 2, this.pollMs);
      } else idle = MIN_IDLE_MS;
    }
  }

  private async handle(h: Held): Promise<void> {
    this.counters.received++;
    if (this.stopping.signal.aborted) {
      // Taken while shutting down: back to the queue at once for another worker.
      await this.setVisibility(h, 0).catch(() => undefined);
      return;
    }
    const decoded = decodeTaskMessage(h.text);
    if (!decoded.ok) {
      await this.poison(
        h,
        `Task message ${h.messageId} on queue "${h.queue}" is unreadable: ${decoded.error}; moved to ${h.queue}-poison`,
        decoded.identity,
      );
      return;
    }
    const m = decoded.message;
    const log = this.log.child({ job_id: m.job_id, node_id: m.node_id, task_id: m.task_id, queue: h.queue });
    const local = this.active.get(m.task_id);
    if (local && local.messageId === h.messageId) {
      // Our own message, received again after its lease lapsed (a renewal failed): keep the new receipt.
      local.popReceipt = h.popReceipt;
      local.leaseLost = false;
      local.lastRenewAt = Date.now();
      this.counters.leaseRecovered++;
      log.warn('the lease of a running task had lapsed; its message was received again and is held again');
      return;
    }
    if (local || this.claiming.has(m.task_id)) {
      await this.defer(h, log, 'this worker is running the attempt');
      const list = this.copies.get(m.task_id);
      if (list) list.push(h);
      return;
    }
    this.claiming.add(m.task_id);
    this.copies.set(m.task_id, []);
    try {
      // The receive is a consumer span in the job's trace (the enqueue's producer span is its parent).
      await withSpan(
        `process ${h.queue}`,
        {
          kind: 'consumer',
          parent: m.traceparent,
          dimensions: {
            job_id: m.job_id,
            ...(m.workflow_id ? { workflow_id: m.workflow_id } : {}),
            node_id: m.node_id,
            task_id: m.task_id,
            attempt: m.attempt,
            handler: m.handler,
            runner: 'container',
            queue: h.queue,
          },
          attributes: {
            'messaging.system': 'azure_storage_queue',
            'messaging.operation.type': 'process',
            'messaging.destination.name': h.queue,
            'messaging.message.id': h.messageId,
            'messaging.azure_storage_queue.dequeue_count': h.dequeueCount,
            'worker.id': this.workerId,
          },
        },
        () => this.process(h, m, log),
      );
    } finally {
      this.claiming.delete(m.task_id);
      this.copies.delete(m.task_id);
    }
  }

  private async process(h: Held, m: ContainerTaskMessage, log: Logger): Promise<void> {
    let t0 = Date.now();
    const pre = await preflightTask(this.pool, this.o.schema, {
      jobId: m.job_id,
      nodeId: m.node_id,
      taskId: m.task_id,
      staleAfterMs: this.staleAfterMs,
      withParams: m.params_in_db,
    });
    this.phase('preflight', Date.now() - t0);
    const { node, job, result } = pre;
    if (!node || !job) {
      this.counters.dropped++;
      log.warn('task message for a job or node that does not exist: dropped', { job: !!job, node: !!node });
      await this.deleteHeld(h);
      return;
    }
    if (result) {
      // Delivered again after it finished (a redelivery, or a crash before the delete): acknowledge.
      this.counters.duplicates++;
      log.info('task already has a result: acknowledged without running', {
        result: result.status,
        disposition: result.disposition,
      });
      // Sent again when a worker recorded it (it may have died before sending); a result the
      // orchestration recorded itself (a timeout) needs no message.
      if (
        result.disposition === 'applied' &&
        result.workerId !== null &&
        !(await this.sendResult(m, this.resultFromRow(m, result, node)))
      )
        return this.comeBackLater(h);
      await this.deleteHeld(h);
      return;
    }
    if (TERMINAL_JOB.has(job.status) || job.cancelRequested) {
      this.counters.dropped++;
      const why =
        job.cancelRequested || job.status === 'cancelled'
          ? 'The job was cancelled before the task started'
          : `The job has ended (${job.status}) before the task started`;
      log.info(`${why}: not run`);
      const reported = await this.recordAndReport(
        m,
        { status: 'failed', errorMessage: why, retryable: false },
        node.firstAttempt,
        log,
      );
      if (!reported) return this.comeBackLater(h);
      await this.deleteHeld(h);
      return;
    }
    if (node.taskId !== m.task_id || (node.status !== 'dispatched' && node.status !== 'running')) {
      this.counters.stale++;
      const why = `Task message for attempt ${m.attempt} of "${m.node_id}" arrived after the node moved on (the node is ${node.status} at attempt ${node.attempt}); dropped without running`;
      log.info(why);
      const reported = await this.recordAndReport(
        m,
        { status: 'failed', errorMessage: why, retryable: false },
        node.firstAttempt,
        log,
      );
      if (!reported) return this.comeBackLater(h);
      await this.deleteHeld(h);
      return;
    }
    if (node.status === 'running' && node.holderAlive) {
      await this.defer(h, log, `worker ${node.workerId ?? '?'} holds the attempt (fresh heartbeat)`);
      return;
    }
    // From here the message would run: one that keeps coming back without finishing is poison.
    if (h.dequeueCount > this.maxDequeue) {
      await this.poison(
        h,
        `Task message for ${m.task_id} was delivered ${h.dequeueCount - 1} times without completing (the worker crashed or was killed each time); moved to ${h.queue}-poison`,
        m,
      );
      return;
    }
    const takeover = node.status === 'running';
    t0 = Date.now();
    if (takeover) {
      // The previous holder died (stale heartbeat) or handed the attempt back at shutdown.
      const claimed = await claimRunningTask(this.pool, this.o.schema, {
        ...ids(m),
        workerId: this.workerId,
        previous: node.workerId,
        staleAfterMs: this.staleAfterMs,
      });
      if (!claimed) {
        await this.defer(h, log, 'another worker took the attempt over just now');
        return;
      }
      this.counters.resumed++;
      log.info('resuming an attempt whose worker stopped', { previous_worker: node.workerId });
    } else {
      const s = await markTaskStarted(
        this.pool,
        this.o.schema,
        { ...ids(m), workerId: this.workerId },
        { sourceApp: this.sourceApp },
      );
      if (s.kind === 'already_running') {
        await this.defer(h, log, 'another worker started the attempt just now');
        return;
      }
      if (s.kind !== 'applied') {
        // Moved on between the look and the start: the next delivery sorts it out.
        log.info('the attempt could not be started (it moved on meanwhile); the message comes back', {
          outcome: s.kind,
        });
        await this.setVisibility(h, Math.min(5, this.visibilitySec)).catch(() => undefined);
        return;
      }
    }
    this.phase('start', Date.now() - t0);
    await this.run(h, m, node, takeover, log);
  }

  private async run(
    h: Held,
    m: ContainerTaskMessage,
    node: NonNullable<Preflight['node']>,
    takeover: boolean,
    log: Logger,
  ): Promise<void> {
    const now = Date.now();
    const t: ActiveTask = {
      msg: m,
      queue: h.queue,
      messageId: h.messageId,
      popReceipt: h.popReceipt,
      controller: new AbortController(),
      finishing: false,
      startedAt: now,
      lastRenewAt: now,
      lastBeatAt: now,
      leaseLost: false,
      leaseOp: Promise.resolve(),
    };
    this.active.set(m.task_id, t);
    this.counters.started++;
    // Container task wait: enqueued (dispatched) → started here.
    if (!takeover)
      metrics.containerWait(now - Date.parse(m.dispatched_at), {
        ...(m.workflow_id ? { workflow_id: m.workflow_id } : {}),
        node_id: m.node_id,
        handler: m.handler,
        queue: h.queue,
      });
    try {
      const t0 = Date.now();
      const result = await executeHandler(
        this.execDeps,
        {
          jobId: m.job_id,
          nodeId: m.node_id,
          taskId: m.task_id,
          attempt: m.attempt,
          handler: m.handler,
          params: m.params_in_db ? node.inputParams : (m.params ?? {}),
          timeoutMs: Math.max(0, Math.min(m.timeout_seconds * 1000, Date.parse(m.deadline) - Date.now())),
          timeoutSeconds: m.timeout_seconds,
          runner: 'container',
          workerId: this.workerId,
          // The first delivery of a first attempt has no checkpoint to read: saves a round trip.
          mayHaveCheckpoint: takeover || m.attempt > 0,
        },
        t.controller.signal,
      );
      // From here the node moves on because of this very result: the poll must not take that for
      // another attempt having replaced this one.
      t.finishing = true;
      this.phase('execute', Date.now() - t0);
      if (t.stopReason === 'shutdown' && !result.ok && result.aborted) {
        await this.handBack(t, log);
        return;
      }
      this.countResult(t, result);
      log.info(result.ok ? 'task completed' : 'task failed', {
        handler: m.handler,
        attempt: m.attempt,
        duration_ms: result.durationMs,
        ...(result.ok
          ? {}
          : { error: result.error, retryable: result.retryable, timed_out: result.timedOut }),
      });
      const ok = await this.recordAndReport(m, attemptResultInput(result), node.firstAttempt, log);
      if (!ok) {
        // The result could not be recorded or sent: the message comes back and the next delivery
        // acknowledges it (or runs the attempt again from its checkpoint).
        await this.setVisibility(t, Math.min(10, this.visibilitySec)).catch(() => undefined);
        return;
      }
      await this.deleteHeld(t);
      // Copies deferred meanwhile would only come back to be acknowledged: delete them now.
      for (const d of this.copies.get(m.task_id) ?? []) await this.deleteHeld(d).catch(() => undefined);
    } finally {
      this.active.delete(m.task_id);
      this.handlerRuns.delete(m.task_id);
    }
  }

  private countResult(t: ActiveTask, r: AttemptResult): void {
    if (r.ok) this.counters.completed++;
    else if (t.stopReason === 'cancelled') this.counters.cancelled++;
    else if (t.stopReason === 'superseded') this.counters.superseded++;
    else if (r.timedOut) this.counters.timedOut++;
    else this.counters.failed++;
  }

  /**
   * Records an attempt's result (idempotent by task id) and, when it applied to the node, sends the
   * result message; a duplicate whose first recording applied is sent again (the first sender may
   * have died before sending). False when recording or sending failed.
   */
  private async recordAndReport(
    m: ContainerTaskMessage | (AttemptIdentity & { reply_to?: string; result_queue?: string }),
    r: {
      status: 'completed' | 'failed';
      output?: unknown;
      errorMessage?: string;
      retryable?: boolean;
      durationMs?: number;
      timedOut?: boolean;
    },
    firstAttempt: number,
    log: Logger = this.log,
  ): Promise<boolean> {
    const retryable = r.status === 'failed' && r.retryable !== false;
    const input: TaskResultInput = {
      taskId: m.task_id,
      jobId: m.job_id,
      nodeId: m.node_id,
      attempt: m.attempt,
      status: r.status,
      ...(r.status === 'completed'
        ? { output: r.output }
        : { errorMessage: r.errorMessage ?? 'failed', retryable }),
      workerId: this.workerId,
      durationMs: r.durationMs ?? null,
      ...(r.timedOut ? { timedOut: true } : {}),
      retryDelayMs: retryable ? await this.retryDelayMs(m, firstAttempt) : 0,
    };
    const t0 = Date.now();
    let outcome: TaskResultOutcome;
    try {
      outcome = await this.withRetry('record the result', () =>
        recordTaskResult(this.pool, this.o.schema, input, { sourceApp: this.sourceApp }),
      );
    } catch (err) {
      log.error('could not record the task result in Postgres', { error: errorMessage(err) });
      this.pause();
      return false;
    }
    this.phase('record', Date.now() - t0);
    reportResultRecorded(
      outcome,
      { job_id: m.job_id, node_id: m.node_id, task_id: m.task_id, attempt: m.attempt, runner: 'container' },
      r.errorMessage,
    );
    let message: ContainerResultMessage | undefined;
    if (outcome.kind === 'applied') {
      message = resultMessage(m, this.workerId, {
        status: r.status,
        errorMessage: r.errorMessage ?? null,
        retryable,
        durationMs: r.durationMs ?? null,
      });
    } else if (
      outcome.kind === 'duplicate' &&
      outcome.existing?.disposition === 'applied' &&
      outcome.existing.worker_id !== null
    ) {
      const e = outcome.existing;
      message = resultMessage(m, e.worker_id ?? this.workerId, {
        status: e.status,
        errorMessage: e.error_message,
        retryable: e.status === 'failed' && retryable,
        durationMs: e.duration_ms,
      });
    } else {
      log.info('result recorded, not applied', { disposition: outcome.kind });
      return true;
    }
    return this.sendResult(m, message);
  }

  private async sendResult(
    m: { task_id: string; reply_to?: string; result_queue?: string },
    message: ContainerResultMessage | undefined,
  ): Promise<boolean> {
    if (!message || !m.result_queue) return true;
    const t0 = Date.now();
    try {
      await this.results.add(m.result_queue, message);
      this.counters.resultsSent++;
      this.phase('sendResult', Date.now() - t0);
      return true;
    } catch (err) {
      this.log.error(`could not send the result of ${m.task_id} to queue "${m.result_queue}"`, {
        error: errorMessage(err),
      });
      return false;
    }
  }

  /** The result message of a recorded result (for an acknowledged redelivery). */
  private resultFromRow(
    m: ContainerTaskMessage,
    r: NonNullable<Preflight['result']>,
    node: NonNullable<Preflight['node']>,
  ): ContainerResultMessage | undefined {
    return resultMessage(m, r.workerId ?? this.workerId, {
      status: r.status,
      errorMessage: r.errorMessage,
      // A retry was scheduled iff the node went on to a later attempt.
      retryable: r.status === 'failed' && node.attempt > m.attempt,
      durationMs: r.durationMs,
    });
  }

  private async retryDelayMs(m: AttemptIdentity, firstAttempt: number): Promise<number> {
    const key = `${m.job_id}/${m.node_id.split('__')[0]}`;
    let policy: RetryPolicy | undefined;
    if (this.policyCache.has(key)) policy = this.policyCache.get(key);
    else {
      try {
        policy = await retryPolicyOf(this.pool, this.o.schema, { jobId: m.job_id, nodeId: m.node_id });
        if (this.policyCache.size > 5000) this.policyCache.clear();
        this.policyCache.set(key, policy);
      } catch (err) {
        this.log.warn('could not read the retry policy; using the default', { error: errorMessage(err) });
      }
    }
    return retryDelaySeconds(policy, Math.max(0, m.attempt - firstAttempt)) * 1000;
  }

  // ---------------------------------------------------------------- poison, defer, lease

  /**
   * A result that could not be recorded or sent: the message is not deleted but comes back soon,
   * and its next delivery records or sends it again (a deleted message would leave the
   * orchestration waiting for the attempt's deadline).
   */
  private async comeBackLater(h: Held): Promise<void> {
    await this.setVisibility(h, Math.min(10, this.visibilitySec)).catch(() => undefined);
  }

  private async poison(
    h: Held,
    reason: string,
    attempt?: AttemptIdentity & { reply_to?: string; result_queue?: string },
  ): Promise<void> {
    if (attempt) {
      // Recorded first: if Postgres is down the message stays and comes back, so the node cannot be
      // left waiting for its deadline.
      const ok = await this.recordAndReport(
        attempt,
        { status: 'failed', errorMessage: reason, retryable: false },
        0,
      );
      if (!ok) throw new Error(`could not fail the attempt of poison message ${h.messageId}`);
    }
    const poisonQueue = `${h.queue}-poison`;
    const q = await this.queues.ensure(poisonQueue);
    await q.sendMessage(h.text);
    await this.deleteHeld(h);
    this.counters.poisoned++;
    const ids_ = attempt
      ? {
          job_id: attempt.job_id,
          node_id: attempt.node_id,
          task_id: attempt.task_id,
          attempt: attempt.attempt,
        }
      : {};
    trackException('PoisonMessage', reason, { ...ids_, queue: h.queue }, { message_id: h.messageId });
    metrics.poisoned({ queue: h.queue });
    this.log.error(`message ${h.messageId} moved to ${poisonQueue}`, {
      reason,
      dequeue_count: h.dequeueCount,
      ...(attempt ? { job_id: attempt.job_id, node_id: attempt.node_id, task_id: attempt.task_id } : {}),
    });
  }

  /** Another copy of a task that is held elsewhere: look again after one lease period. */
  private async defer(h: Held, log: Logger, why: string): Promise<void> {
    this.counters.deferred++;
    log.info(`duplicate delivery deferred: ${why}`, { message_id: h.messageId });
    await this.setVisibility(h, this.visibilitySec);
  }

  private setVisibility(h: Held | ActiveTask, seconds: number): Promise<void> {
    const run = async () => {
      const r = await this.queues
        .client(h.queue)
        .updateMessage(h.messageId, h.popReceipt, undefined, seconds);
      if (r.popReceipt) h.popReceipt = r.popReceipt;
    };
    return this.serialize(h, run);
  }

  private async deleteHeld(h: Held | ActiveTask): Promise<void> {
    const t0 = Date.now();
    await this.serialize(h, async () => {
      try {
        await this.queues.client(h.queue).deleteMessage(h.messageId, h.popReceipt);
      } catch (err) {
        // 404: gone already, or received by another worker since (it will acknowledge it).
        if (storageStatus(err) !== 404) throw err;
      }
    });
    this.phase('delete', Date.now() - t0);
  }

  private serialize(h: object, fn: () => Promise<void>): Promise<void> {
    const t = h as Partial<ActiveTask>;
    if (!t.leaseOp) return fn();
    const p = t.leaseOp.then(fn);
    t.leaseOp = p.catch(() => undefined);
    return p;
  }

  private renew(t: ActiveTask): void {
    t.lastRenewAt = Date.now();
    void this.setVisibility(t, this.visibilitySec).then(
      () => {
        this.counters.leaseRenewals++;
      },
      (err: unknown) => {
        if (storageStatus(err) === 404 || storageStatus(err) === 400) {
          if (!t.leaseLost) {
            t.leaseLost = true;
            this.counters.leaseLost++;
            this.log.warn(
              'lost the lease of a running task (its message was received elsewhere or deleted); the task goes on and its result is recorded idempotently',
              {
                task_id: t.msg.task_id,
              },
            );
          }
        } else {
          this.log.warn('renewing the lease of a running task failed; retrying', {
            task_id: t.msg.task_id,
            error: errorMessage(err),
          });
        }
      },
    );
  }

  /** Every ~250 ms: renew leases that are due; every cancelPollMs: heartbeat + cancel/supersede check. */
  private async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      const now = Date.now();
      for (const t of this.active.values()) {
        if (!t.leaseLost && now - t.lastRenewAt >= this.renewEveryMs) this.renew(t);
      }
      if (this.active.size === 0 || now - this.lastPoll < this.cancelPollMs) return;
      this.lastPoll = now;
      const tasks = [...this.active.values()];
      const due = new Set(
        tasks.filter((t) => now - t.lastBeatAt >= this.renewEveryMs).map((t) => t.msg.task_id),
      );
      const rows = await pollRunningTasks(
        this.pool,
        this.o.schema,
        this.workerId,
        tasks.map((t) => ({ ...ids(t.msg), beat: due.has(t.msg.task_id) })),
      );
      for (const t of tasks) if (due.has(t.msg.task_id)) t.lastBeatAt = now;
      for (const row of rows) {
        const t = this.active.get(row.taskId);
        if (!t || t.stopReason || t.finishing) continue;
        if (row.cancelRequested || row.jobStatus === 'cancelled') {
          this.stopTask(t, 'cancelled', new Error('The job was cancelled while the task was running'));
        } else if (row.jobStatus === null || TERMINAL_JOB.has(row.jobStatus)) {
          this.stopTask(
            t,
            'cancelled',
            new Error(`The job has ended (${row.jobStatus ?? 'deleted'}) while the task was running`),
          );
        } else if (row.holder !== null && row.holder !== this.workerId && row.nodeTaskId === t.msg.task_id) {
          // This worker stalled long enough for another to take the attempt over: one of the two stops.
          this.stopTask(
            t,
            'superseded',
            new Error(`Worker ${row.holder} took this attempt over; stopped here`),
          );
        } else if (
          row.nodeTaskId === t.msg.task_id &&
          row.nodeStatus !== 'running' &&
          row.nodeStatus !== 'dispatched'
        ) {
          // A result for this attempt was recorded elsewhere (its deadline passed, the orchestration
          // timed it out): its result would be ignored.
          this.stopTask(
            t,
            'superseded',
            new Error(
              `This attempt was ended elsewhere (the node is ${row.nodeStatus ?? 'gone'} with its result, e.g. its deadline passed); stopped`,
            ),
          );
        } else if (
          row.nodeTaskId !== t.msg.task_id ||
          (row.nodeStatus !== 'running' && row.nodeStatus !== 'dispatched')
        ) {
          this.stopTask(
            t,
            'superseded',
            new Error(
              `This attempt is no longer current (the node is ${row.nodeStatus ?? 'gone'}${row.nodeTaskId ? ` with task ${row.nodeTaskId}` : ''}); stopped`,
            ),
          );
        }
      }
    } catch (err) {
      this.log.warn('checking running tasks in Postgres failed; retrying', { error: errorMessage(err) });
    } finally {
      this.ticking = false;
    }
  }

  private stopTask(t: ActiveTask, reason: NonNullable<ActiveTask['stopReason']>, error: Error): void {
    if (t.stopReason) return;
    t.stopReason = reason;
    this.log.info(`stopping a running task: ${error.message}`, {
      job_id: t.msg.job_id,
      node_id: t.msg.node_id,
      task_id: t.msg.task_id,
    });
    t.controller.abort(error);
  }

  /** Shutdown: the handler was told to stop; once it settled the attempt goes back to the queue. */
  private async handBack(t: ActiveTask, log: Logger): Promise<void> {
    const run = this.handlerRuns.get(t.msg.task_id);
    if (run) await Promise.race([run.catch(() => undefined), this.settleDeadline()]);
    try {
      await releaseRunningTasks(this.pool, this.o.schema, this.workerId, [ids(t.msg)]);
    } catch (err) {
      log.warn(
        'could not release the attempt in Postgres (the next worker waits for its heartbeat to go stale)',
        {
          error: errorMessage(err),
        },
      );
    }
    await this.setVisibility(t, 0).catch((err: unknown) =>
      log.warn('could not make the message visible again (it reappears when its lease ends)', {
        error: errorMessage(err),
      }),
    );
    this.counters.handedBack++;
    log.info('running task handed back to the queue at shutdown (it resumes from its checkpoint)');
  }

  private onHandleError(h: Held, err: unknown): void {
    this.counters.errors++;
    this.log.error(`handling message ${h.messageId} from "${h.queue}" failed; it will be delivered again`, {
      error: errorMessage(err),
    });
    this.pause();
  }

  // ---------------------------------------------------------------- resilience

  private async withRetry<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const delays = [250, 1000, 3000];
    for (let i = 0; ; i++) {
      try {
        return await fn();
      } catch (err) {
        if (i >= delays.length) throw err;
        this.log.warn(`could not ${what}; retrying`, { error: errorMessage(err), try: i + 1 });
        await new Promise((r) => setTimeout(r, delays[i]));
      }
    }
  }

  /**
   * An infrastructure fault (Postgres or storage unreachable): stop taking messages until both answer
   * again, so that a backlog does not burn its dequeue counts (and end in the poison queue) during an
   * outage.
   */
  private pause(): void {
    if (this.paused || this.stopping.signal.aborted) return;
    this.counters.pauses++;
    this.paused = (async () => {
      for (let wait = 1000; !this.stopping.signal.aborted; wait = Math.min(wait * 2, 15_000)) {
        await this.sleep(wait);
        try {
          await query(this.pool, sql`SELECT 1`);
          await this.queues.client(this.o.queues[0]!).getProperties();
          this.log.info('Postgres and the queues answer again: receiving resumes');
          break;
        } catch (err) {
          this.log.warn('still waiting for Postgres / the queues', { error: errorMessage(err) });
        }
      }
      this.paused = undefined;
    })();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const signal = this.stopping.signal;
      if (signal.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  private phase(name: keyof WorkerStats['phaseMs'], ms: number, count = 1): void {
    const p = this.counters.phaseMs[name];
    p.total += ms;
    p.count += count;
  }

  // ---------------------------------------------------------------- health and shutdown

  private async readiness(): Promise<{ ready: boolean; reasons: string[] }> {
    const reasons: string[] = [];
    if (!this.started) reasons.push('starting');
    if (this.stopping.signal.aborted) reasons.push('shutting down');
    if (this.paused) reasons.push('paused: Postgres or the queues did not answer');
    for (const [q, s] of this.queueState) if (!s.ok) reasons.push(`queue ${q}: ${s.error ?? 'unreachable'}`);
    return { ready: reasons.length === 0, reasons };
  }

  async health(): Promise<HealthReport> {
    const timeout = <T>(p: Promise<T>, ms = 3000) =>
      Promise.race([
        p,
        new Promise<never>((_, rej) =>
          setTimeout(() => rej(new Error(`no answer within ${ms} ms`)), ms).unref(),
        ),
      ]);
    const t0 = Date.now();
    const postgres = await timeout(query(this.pool, sql`SELECT 1`)).then(
      () => ({ ok: true, latency_ms: Date.now() - t0 }),
      (err: unknown) => ({ ok: false, error: errorMessage(err) }),
    );
    const queues = await Promise.all(
      this.o.queues.map(async (name) => {
        try {
          const p = await timeout(this.queues.client(name).getProperties());
          let poison: number | null = null;
          try {
            poison =
              (await timeout(this.queues.client(`${name}-poison`).getProperties()))
                .approximateMessagesCount ?? 0;
          } catch {
            poison = 0; // no poison queue yet
          }
          return {
            name,
            ok: true,
            approximate_messages: p.approximateMessagesCount ?? 0,
            poison_messages: poison,
          };
        } catch (err) {
          return { name, ok: false, error: errorMessage(err) };
        }
      }),
    );
    const ready = await this.readiness();
    const healthy = postgres.ok && queues.every((q) => q.ok);
    const now = Date.now();
    return {
      status: healthy ? (ready.ready ? 'healthy' : 'degraded') : 'unhealthy',
      worker_id: this.workerId,
      uptime_s: Math.round((now - this.startedAt) / 1000),
      ready: ready.ready,
      reasons: ready.reasons,
      postgres,
      queues,
      stats: this.stats(),
      running: [...this.active.values()].map((t) => ({
        task_id: t.msg.task_id,
        job_id: t.msg.job_id,
        node_id: t.msg.node_id,
        handler: t.msg.handler,
        queue: t.queue,
        attempt: t.msg.attempt,
        running_s: Math.round((now - t.startedAt) / 1000),
        lease_lost: t.leaseLost,
        ...(t.stopReason ? { stopping: t.stopReason } : {}),
      })),
      config: {
        queues: this.o.queues,
        max_concurrent: this.slots.size,
        visibility_timeout_s: this.visibilitySec,
        max_dequeue_count: this.maxDequeue,
        shutdown_timeout_s: this.o.shutdownTimeoutSeconds ?? 30,
        poll_interval_ms: this.pollMs,
      },
      ...(this.o.etlCleanup
        ? {
            etl_cleanup: {
              mount_path: this.o.etlCleanup.mountPath,
              sweeps: this.etl.sweeps,
              removed_dirs: this.etl.removed,
              last_sweep_at: this.etl.lastSweepAt,
              last_errors: this.etl.lastErrors,
            },
          }
        : {}),
    };
  }

  private shutdownAt = 0;

  /** When handlers that were told to stop must have settled (the end of the shutdown budget). */
  private settleDeadline(): Promise<void> {
    return new Promise((r) => setTimeout(r, Math.max(0, this.shutdownAt - Date.now())).unref());
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
    this.shutdownAt = began + Math.max(0, budget - 1000);
    const settleMs = Math.min(5000, budget / 3);
    const drainUntil = this.shutdownAt - settleMs;
    this.log.info('container worker stopping: no new messages; running tasks finish or are handed back', {
      running: this.active.size,
      budget_s: budget / 1000,
    });
    this.stopping.abort();
    await Promise.allSettled(this.loops);
    const all = () => Promise.allSettled([...this.handling]);
    await Promise.race([
      all(),
      new Promise((r) => setTimeout(r, Math.max(0, drainUntil - Date.now())).unref()),
    ]);
    for (const t of this.active.values()) {
      this.stopTask(
        t,
        'shutdown',
        new Error('The worker is shutting down; the task resumes on another worker'),
      );
    }
    await Promise.race([all(), this.settleDeadline()]);
    if (this.ticker) clearInterval(this.ticker);
    if (this.sweeper) clearInterval(this.sweeper);
    await this.sweeping;
    await this.health_?.close().catch(() => undefined);
    if (this.handling.size)
      this.log.warn('tasks still running at the end of the shutdown budget', { count: this.handling.size });
    if (this.ownsPool) await this.pool.end().catch(() => undefined);
    this.log.info('container worker stopped', { took_ms: Date.now() - began, ...this.counterSummary() });
  }

  /** One sweep of the ETL mount at a time; a failure is logged and the next interval tries again. */
  private sweepEtl(): Promise<void> {
    const c = this.o.etlCleanup;
    if (!c || this.sweeping || this.stopping.signal.aborted) return this.sweeping ?? Promise.resolve();
    this.sweeping = (async () => {
      try {
        const r = await sweepEtlMount(this.pool, this.o.schema, c.mountPath, c.retention);
        this.etl.sweeps++;
        this.etl.removed += r.removed.length;
        this.etl.lastSweepAt = new Date().toISOString();
        this.etl.lastErrors = r.errors.slice(0, 20);
        if (r.removed.length)
          this.log.info('ETL mount: files of ended jobs removed', { removed: r.removed, kept: r.kept });
        if (r.errors.length)
          this.log.warn('ETL mount: some directories could not be removed', { errors: r.errors });
      } catch (err) {
        this.etl.lastErrors = [errorMessage(err)];
        this.log.warn('ETL mount sweep failed; the next one tries again', { error: errorMessage(err) });
      } finally {
        this.sweeping = undefined;
      }
    })();
    return this.sweeping;
  }

  private counterSummary(): Record<string, number> {
    const { phaseMs: _p, ...rest } = this.stats();
    return rest;
  }
}

function ids(m: { job_id: string; node_id: string; task_id: string }) {
  return { jobId: m.job_id, nodeId: m.node_id, taskId: m.task_id };
}

function attemptResultInput(r: AttemptResult) {
  return r.ok
    ? { status: 'completed' as const, output: r.output, durationMs: r.durationMs }
    : {
        status: 'failed' as const,
        errorMessage: r.error,
        retryable: r.retryable,
        durationMs: r.durationMs,
        ...(r.timedOut ? { timedOut: true } : {}),
      };
}

function resultMessage(
  m: { task_id: string; job_id: string; node_id: string; attempt: number; reply_to?: string },
  workerId: string,
  r: {
    status: 'completed' | 'failed';
    errorMessage: string | null;
    retryable: boolean;
    durationMs: number | null;
  },
): ContainerResultMessage | undefined {
  if (!m.reply_to) return undefined;
  return {
    v: 1,
    task_id: m.task_id,
    job_id: m.job_id,
    node_id: m.node_id,
    attempt: m.attempt,
    status: r.status,
    error_message: r.status === 'failed' ? (r.errorMessage ?? 'failed').slice(0, 2000) : null,
    retryable: r.retryable,
    worker_id: workerId.slice(0, 64),
    execution_duration_ms: r.durationMs === null ? null : Math.max(0, Math.round(r.durationMs)),
    reported_at: new Date().toISOString(),
    reply_to: m.reply_to,
    // The span that sends it (the task's consumer span): the result trigger's span joins the trace.
    ...withTraceparent(),
  };
}

function withTraceparent(): { traceparent?: string } {
  const traceparent = currentTraceparent();
  return traceparent ? { traceparent } : {};
}
