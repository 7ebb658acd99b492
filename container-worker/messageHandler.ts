// One task of a received message (a message carries one, or a batch), carried through the worker's
// decision table (decideMessage.ts): (copies of a task held here are deferred) → preflight read →
// acknowledge / drop / record stale / defer / poison, or start (take over) the attempt and run it
// while the supervisor keeps its message's lease and its heartbeat → record and send the result →
// the part is done (the message is deleted once all its parts are: messageLease).
import type { ContainerTaskMessage } from '../lib/containerMessages';
import {
  claimRunningTask,
  markTaskStarted,
  preflightTasks,
  type Preflight,
  type PreflightInput,
} from '../db';
import type { Logger } from '../handlers/createLogger';
import { executeHandler, type AttemptResult, type ExecuteDeps } from '../handlers/executeHandler';
import { metrics, trackException, withSpan } from '../handlers/telemetry';
import { GroupCommit } from '../lib/groupCommit';
import { decideDelivery, decideMessage } from './decideMessage';
import type { ActiveTask, MessageLease, Part } from './messageLease';
import {
  attemptResultInput,
  resultFromRow,
  type ReportedAttempt,
  type ResultReporter,
} from './resultReporter';
import { attemptIds, type Supervisor } from './supervisor';
import { encodeQueueMessage } from './taskMessageCodec';
import type { WorkerContext } from './workerContext';

/** Messages looked at per statement (a receive brings at most 32). */
const PREFLIGHTS_PER_STATEMENT = 64;

export interface MessageHandlerDeps {
  ctx: WorkerContext;
  lease: MessageLease;
  reporter: ResultReporter;
  supervisor: Supervisor;
  execDeps: ExecuteDeps;
  maxDequeueCount: number;
  /** A holder whose heartbeat is older than this is taken for dead. */
  staleAfterMs: number;
  stopping: AbortSignal;
}

export class MessageHandler {
  /** Task ids between decode and start: a second copy received meanwhile is deferred. */
  private readonly claiming = new Set<string>();
  /** Other copies of a task received while it was claimed or running: deleted once it finished. */
  private readonly copies = new Map<string, Part[]>();

  /** The messages of one receive are looked at (and started) together: one statement, not one each. */
  private readonly preflights: GroupCommit<PreflightInput, Preflight>;

  constructor(private readonly d: MessageHandlerDeps) {
    this.preflights = new GroupCommit(
      (inputs) => preflightTasks(d.ctx.pool, d.ctx.schema, inputs),
      PREFLIGHTS_PER_STATEMENT,
    );
  }

  /**
   * Handles one task. `recorded`: called once its result is recorded, before the result is sent and
   * the message settled — the worker may then give its slot to the next task (startContainerWorker).
   */
  async handle(p: Part, recorded?: () => void): Promise<void> {
    const { ctx, lease, supervisor } = this.d;
    const h = p.held;
    ctx.counters.received++;
    const d = decideDelivery(this.d.stopping.aborted, p.decoded, h, {
      running: supervisor.active,
      claiming: this.claiming,
    });
    if (d.kind === 'release') {
      // Taken while shutting down: back to the queue at once for another worker.
      await lease.again(p, 0).catch(() => undefined);
      return;
    }
    if (d.kind === 'poison') return this.poison(p, d.reason, d.attempt);
    const m = d.message;
    const log = ctx.log.child({ job_id: m.job_id, node_id: m.node_id, task_id: m.task_id, queue: h.queue });
    if (d.kind === 'defer-copy') {
      await lease.defer(p, log, d.why);
      this.copies.get(m.task_id)?.push(p);
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
            'worker.id': ctx.workerId,
          },
        },
        () => this.process(p, m, log, recorded),
      );
    } finally {
      this.claiming.delete(m.task_id);
      this.copies.delete(m.task_id);
    }
  }

  private async process(p: Part, m: ContainerTaskMessage, log: Logger, recorded?: () => void): Promise<void> {
    const { ctx, lease, reporter } = this.d;
    const h = p.held;
    let t0 = Date.now();
    const [pre] = await this.preflights.run([
      {
        jobId: m.job_id,
        nodeId: m.node_id,
        taskId: m.task_id,
        withParams: m.params_in_db,
        // Starting the attempt in the same statement saves a round trip on every task.
        start: {
          workerId: ctx.workerId,
          sourceApp: ctx.sourceApp,
          mayRun: h.dequeueCount <= this.d.maxDequeueCount,
        },
      },
    ]);
    if (!pre) throw new Error(`no preflight answer for ${m.task_id}`);
    ctx.phase('preflight', Date.now() - t0);
    const d = decideMessage(pre, m, h.dequeueCount, pre.checkedAt.getTime(), {
      queue: h.queue,
      maxDequeueCount: this.d.maxDequeueCount,
      staleAfterMs: this.d.staleAfterMs,
    });
    // The statement's guard is decideMessage's way to 'start' written in SQL; they must agree (tested).
    // Were they not to, the attempt it started stays with this worker and is taken over once stale.
    if (pre.started && d.kind !== 'start')
      throw new Error(
        `The preflight started ${m.task_id} but the decision is "${d.kind}": the guards disagree`,
      );
    switch (d.kind) {
      case 'drop':
        ctx.counters.dropped++;
        log.warn('task message for a job or node that does not exist: dropped', { job: d.job, node: d.node });
        return lease.done(p);
      case 'acknowledge':
        ctx.counters.duplicates++;
        log.info('task already has a result: acknowledged without running', {
          result: d.result.status,
          disposition: d.result.disposition,
        });
        if (d.resend && !(await reporter.send(m, resultFromRow(m, d.result, d.node, ctx.workerId))))
          return lease.comeBackLater(p);
        return lease.done(p);
      case 'record': {
        ctx.counters[d.counter]++;
        log.info(d.note);
        const failed = { status: 'failed', errorMessage: d.why, retryable: false } as const;
        if (!(await reporter.recordAndReport(m, failed, d.firstAttempt, log))) return lease.comeBackLater(p);
        return lease.done(p);
      }
      case 'defer':
        return lease.defer(p, log, d.why);
      case 'poison':
        return this.poison(p, d.reason, m);
    }
    const takeover = d.kind === 'take-over';
    t0 = Date.now();
    if (takeover) {
      // The previous holder died (stale heartbeat) or handed the attempt back at shutdown.
      const claimed = await claimRunningTask(ctx.pool, ctx.schema, {
        ...attemptIds(m),
        workerId: ctx.workerId,
        previous: d.previousWorker,
        staleAfterMs: this.d.staleAfterMs,
      });
      if (!claimed) return lease.defer(p, log, 'another worker took the attempt over just now');
      ctx.counters.resumed++;
      log.info('resuming an attempt whose worker stopped', { previous_worker: d.previousWorker });
    } else if (!pre.started) {
      // Not started by the preflight: lost the row to another worker (or moved on) meanwhile.
      const s = await markTaskStarted(
        ctx.pool,
        ctx.schema,
        { ...attemptIds(m), workerId: ctx.workerId },
        { sourceApp: ctx.sourceApp },
      );
      if (s.kind === 'already_running')
        return lease.defer(p, log, 'another worker started the attempt just now');
      if (s.kind !== 'applied') {
        // Moved on between the look and the start: the next delivery sorts it out.
        log.info('the attempt could not be started (it moved on meanwhile); the message comes back', {
          outcome: s.kind,
        });
        await lease.again(p, Math.min(5, ctx.visibilitySec)).catch(() => undefined);
        return;
      }
    }
    ctx.phase('start', Date.now() - t0);
    await this.run(p, m, d.node, takeover, log, recorded);
  }

  private async run(
    p: Part,
    m: ContainerTaskMessage,
    node: NonNullable<Preflight['node']>,
    takeover: boolean,
    log: Logger,
    recorded?: () => void,
  ): Promise<void> {
    const { ctx, lease, reporter, supervisor } = this.d;
    const now = Date.now();
    const t: ActiveTask = {
      msg: m,
      part: p,
      controller: new AbortController(),
      finishing: false,
      startedAt: now,
      lastBeatAt: now,
    };
    supervisor.active.set(m.task_id, t);
    ctx.counters.started++;
    // Container task wait: enqueued (dispatched) → started here.
    if (!takeover)
      metrics.containerWait(now - Date.parse(m.dispatched_at), {
        ...(m.workflow_id ? { workflow_id: m.workflow_id } : {}),
        node_id: m.node_id,
        handler: m.handler,
        queue: p.held.queue,
      });
    try {
      const t0 = Date.now();
      const result = await executeHandler(
        this.d.execDeps,
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
          workerId: ctx.workerId,
          // The first delivery of a first attempt has no checkpoint to read: saves a round trip.
          mayHaveCheckpoint: takeover || m.attempt > 0,
        },
        t.controller.signal,
      );
      // From here the node moves on because of this very result: the poll must not take that for
      // another attempt having replaced this one.
      t.finishing = true;
      ctx.phase('execute', Date.now() - t0);
      if (t.stopReason === 'shutdown' && !result.ok && result.aborted) {
        await supervisor.handBack(t, log);
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
      const ok = await reporter.recordAndReport(
        m,
        attemptResultInput(result),
        node.firstAttempt,
        log,
        recorded,
      );
      if (!ok) {
        // The result could not be recorded or sent: the message comes back and the next delivery
        // acknowledges it (or runs the attempt again from its checkpoint).
        await lease.comeBackLater(p);
        return;
      }
      await lease.done(p);
      // Copies deferred meanwhile would only come back to be acknowledged: delete them now.
      for (const c of this.copies.get(m.task_id) ?? []) await lease.deleteCopy(c).catch(() => undefined);
    } finally {
      supervisor.finished(m.task_id);
    }
  }

  private countResult(t: ActiveTask, r: AttemptResult): void {
    const c = this.d.ctx.counters;
    if (r.ok) c.completed++;
    else if (t.stopReason === 'cancelled') c.cancelled++;
    else if (t.stopReason === 'superseded') c.superseded++;
    else if (r.timedOut) c.timedOut++;
    else c.failed++;
  }

  private async poison(p: Part, reason: string, attempt?: ReportedAttempt): Promise<void> {
    const { ctx, lease, reporter } = this.d;
    const h = p.held;
    if (attempt) {
      // Recorded first: if Postgres is down the message stays and comes back, so the node cannot be
      // left waiting for its deadline.
      const failed = { status: 'failed', errorMessage: reason, retryable: false } as const;
      if (!(await reporter.recordAndReport(attempt, failed, 0)))
        throw new Error(`could not fail the attempt of poison message ${h.messageId}`);
    }
    const poisonQueue = `${h.queue}-poison`;
    const q = await ctx.queues.ensure(poisonQueue);
    // The task alone from a batch (the others go on); a message unreadable as a whole, as it came.
    await q.sendMessage(h.batch ? encodeQueueMessage(p.raw) : h.text);
    await lease.done(p);
    ctx.counters.poisoned++;
    const ids = attempt
      ? {
          job_id: attempt.job_id,
          node_id: attempt.node_id,
          task_id: attempt.task_id,
          attempt: attempt.attempt,
        }
      : {};
    trackException('PoisonMessage', reason, { ...ids, queue: h.queue }, { message_id: h.messageId });
    metrics.poisoned({ queue: h.queue });
    ctx.log.error(`message ${h.messageId} moved to ${poisonQueue}`, {
      reason,
      dequeue_count: h.dequeueCount,
      ...(attempt ? { job_id: attempt.job_id, node_id: attempt.node_id, task_id: attempt.task_id } : {}),
    });
  }
}
