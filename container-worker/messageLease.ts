// The lease on a received message: its visibility (renewed while the task runs, set to bring it back
// or defer it) and its deletion. Operations on one message are serialized, because each needs the
// pop receipt the previous one returned.
import type { ContainerTaskMessage } from '../lib/containerMessages';
import { errorMessage } from '../handlers/executeHandler';
import type { Logger } from '../handlers/createLogger';
import { storageStatus } from '../lib/io/queueDirectory';
import type { WorkerContext } from './workerContext';

/** A queue message being handled (its pop receipt changes with every visibility update). */
export interface Held {
  queue: string;
  messageId: string;
  popReceipt: string;
  dequeueCount: number;
  text: string;
}

/** A task running here, with the lease of the message that started it. */
export interface ActiveTask {
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

export class MessageLease {
  /** Renewed at a third of the lease: two renewals can fail before the message reappears. */
  readonly renewEveryMs: number;

  constructor(private readonly ctx: WorkerContext) {
    this.renewEveryMs = (ctx.visibilitySec * 1000) / 3;
  }

  setVisibility(h: Held | ActiveTask, seconds: number): Promise<void> {
    const run = async () => {
      const r = await this.ctx.queues
        .client(h.queue)
        .updateMessage(h.messageId, h.popReceipt, undefined, seconds);
      if (r.popReceipt) h.popReceipt = r.popReceipt;
    };
    return serialize(h, run);
  }

  async delete(h: Held | ActiveTask): Promise<void> {
    const t0 = Date.now();
    await serialize(h, async () => {
      try {
        await this.ctx.queues.client(h.queue).deleteMessage(h.messageId, h.popReceipt);
      } catch (err) {
        // 404: gone already, or received by another worker since (it will acknowledge it).
        if (storageStatus(err) !== 404) throw err;
      }
    });
    this.ctx.phase('delete', Date.now() - t0);
  }

  /** Another copy of a task that is held elsewhere: look again after one lease period. */
  async defer(h: Held, log: Logger, why: string): Promise<void> {
    this.ctx.counters.deferred++;
    log.info(`duplicate delivery deferred: ${why}`, { message_id: h.messageId });
    await this.setVisibility(h, this.ctx.visibilitySec);
  }

  /**
   * A result that could not be recorded or sent: the message is not deleted but comes back soon,
   * and its next delivery records or sends it again (a deleted message would leave the
   * orchestration waiting for the attempt's deadline).
   */
  async comeBackLater(h: Held | ActiveTask): Promise<void> {
    await this.setVisibility(h, Math.min(10, this.ctx.visibilitySec)).catch(() => undefined);
  }

  /** Our own message, received again after its lease lapsed (a renewal failed): keep the new receipt. */
  holdAgain(t: ActiveTask, h: Held, log: Logger): void {
    t.popReceipt = h.popReceipt;
    t.leaseLost = false;
    t.lastRenewAt = Date.now();
    this.ctx.counters.leaseRecovered++;
    log.warn('the lease of a running task had lapsed; its message was received again and is held again');
  }

  /** Renews the leases that are due. */
  renewDue(tasks: Iterable<ActiveTask>, now: number): void {
    for (const t of tasks) if (!t.leaseLost && now - t.lastRenewAt >= this.renewEveryMs) this.renew(t);
  }

  /** The tasks whose heartbeat is due (a live holder beats every renewEveryMs). */
  beatsDue(tasks: ActiveTask[], now: number): Set<string> {
    return new Set(tasks.filter((t) => now - t.lastBeatAt >= this.renewEveryMs).map((t) => t.msg.task_id));
  }

  private renew(t: ActiveTask): void {
    t.lastRenewAt = Date.now();
    void this.setVisibility(t, this.ctx.visibilitySec).then(
      () => {
        this.ctx.counters.leaseRenewals++;
      },
      (err: unknown) => {
        if (storageStatus(err) === 404 || storageStatus(err) === 400) {
          if (!t.leaseLost) {
            t.leaseLost = true;
            this.ctx.counters.leaseLost++;
            this.ctx.log.warn(
              'lost the lease of a running task (its message was received elsewhere or deleted); the task goes on and its result is recorded idempotently',
              {
                task_id: t.msg.task_id,
              },
            );
          }
        } else {
          this.ctx.log.warn('renewing the lease of a running task failed; retrying', {
            task_id: t.msg.task_id,
            error: errorMessage(err),
          });
        }
      },
    );
  }
}

function serialize(h: object, fn: () => Promise<void>): Promise<void> {
  const t = h as Partial<ActiveTask>;
  if (!t.leaseOp) return fn();
  const p = t.leaseOp.then(fn);
  t.leaseOp = p.catch(() => undefined);
  return p;
}
