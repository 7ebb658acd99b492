// Watches the tasks running here. Every tick (~250 ms) it renews the leases that are due; every
// cancelPollMs it writes the heartbeats that are due and, in the same statement, reads each task's
// job and node, stopping the handler of a cancelled job or a superseded attempt (decideRunning).
// At shutdown it hands attempts back: released in Postgres, their messages visible again.
import { pollRunningTasks, releaseRunningTasks } from '../db';
import type { Logger } from '../handlers/createLogger';
import { errorMessage } from '../handlers/executeHandler';
import { HandlerRegistry } from '../handlers/handlerRegistry';
import type { HandlerDefinition } from '../handlers/handlerTypes';
import { decideRunning } from './decideRunning';
import type { ActiveTask, MessageLease } from './messageLease';
import type { WorkerContext } from './workerContext';

export class Supervisor {
  /** Tasks running here, by task id. */
  readonly active = new Map<string, ActiveTask>();
  /** Each handler run by task id, so that a hand-back can wait for it to settle. */
  private readonly handlerRuns = new Map<string, Promise<unknown>>();
  private ticking = false;
  private lastPoll = 0;
  /** When handlers that were told to stop must have settled (set at shutdown). */
  settleBy = 0;

  constructor(
    private readonly ctx: WorkerContext,
    private readonly lease: MessageLease,
    private readonly cancelPollMs: number,
  ) {}

  /** The same handlers, each run remembered by task id so that shutdown can wait for it to settle. */
  trackingRegistry(base: HandlerRegistry): HandlerRegistry {
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

  /** Tasks whose handler still runs (the others are recording or sending their result). */
  handlersRunning(): ActiveTask[] {
    return [...this.active.values()].filter((t) => !t.finishing);
  }

  /** The task's run is over (whatever its end). */
  finished(taskId: string): void {
    this.active.delete(taskId);
    this.handlerRuns.delete(taskId);
  }

  /** Every ~250 ms: renew leases that are due; every cancelPollMs: heartbeat + cancel/supersede check. */
  async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    const { ctx } = this;
    try {
      const now = Date.now();
      this.lease.renewDue(this.active.values(), now);
      if (this.active.size === 0 || now - this.lastPoll < this.cancelPollMs) return;
      this.lastPoll = now;
      const tasks = [...this.active.values()];
      const due = this.lease.beatsDue(tasks, now);
      const rows = await pollRunningTasks(
        ctx.pool,
        ctx.schema,
        ctx.workerId,
        tasks.map((t) => ({ ...attemptIds(t.msg), beat: due.has(t.msg.task_id) })),
      );
      for (const t of tasks) if (due.has(t.msg.task_id)) t.lastBeatAt = now;
      for (const row of rows) {
        const t = this.active.get(row.taskId);
        if (!t || t.stopReason || t.finishing) continue;
        const stop = decideRunning(row, t.msg.task_id, ctx.workerId);
        if (stop) this.stopTask(t, stop.reason, new Error(stop.message));
      }
    } catch (err) {
      ctx.log.warn('checking running tasks in Postgres failed; retrying', { error: errorMessage(err) });
    } finally {
      this.ticking = false;
    }
  }

  stopTask(t: ActiveTask, reason: NonNullable<ActiveTask['stopReason']>, error: Error): void {
    if (t.stopReason) return;
    t.stopReason = reason;
    this.ctx.log.info(`stopping a running task: ${error.message}`, {
      job_id: t.msg.job_id,
      node_id: t.msg.node_id,
      task_id: t.msg.task_id,
    });
    t.controller.abort(error);
  }

  /** Shutdown: the handler was told to stop; once it settled the attempt goes back to the queue. */
  async handBack(t: ActiveTask, log: Logger): Promise<void> {
    const { ctx } = this;
    const run = this.handlerRuns.get(t.msg.task_id);
    if (run) await Promise.race([run.catch(() => undefined), this.settleDeadline()]);
    try {
      await releaseRunningTasks(ctx.pool, ctx.schema, ctx.workerId, [attemptIds(t.msg)]);
    } catch (err) {
      log.warn(
        'could not release the attempt in Postgres (the next worker waits for its heartbeat to go stale)',
        {
          error: errorMessage(err),
        },
      );
    }
    await this.lease.again(t.part, 0).catch((err: unknown) =>
      log.warn('could not make the message visible again (it reappears when its lease ends)', {
        error: errorMessage(err),
      }),
    );
    ctx.counters.handedBack++;
    log.info('running task handed back to the queue at shutdown (it resumes from its checkpoint)');
  }

  /** Resolves at settleBy (the end of the shutdown budget). */
  settleDeadline(): Promise<void> {
    return new Promise((r) => setTimeout(r, Math.max(0, this.settleBy - Date.now())).unref());
  }
}

/** The ids of an attempt as the repositories take them. */
export function attemptIds(m: { job_id: string; node_id: string; task_id: string }) {
  return { jobId: m.job_id, nodeId: m.node_id, taskId: m.task_id };
}
