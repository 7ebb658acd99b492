// The lease on a received message. A message carries one task or a batch of them (its parts); the
// parts share the message's lease: its visibility, renewed while any of them runs. The message is
// settled once every part is: deleted when no part needs it again, else made visible again after the
// shortest delay a part asked for, holding only those parts. Operations on one message are
// serialized, because each needs the pop receipt the previous one returned.
import type { DequeuedMessageItem } from '@azure/storage-queue';
import { recordTaskMessages, type TaskMessageInput } from '../db';
import type { ContainerTaskMessage } from '../lib/containerMessages';
import { errorMessage } from '../handlers/executeHandler';
import type { Logger } from '../handlers/createLogger';
import { storageStatus } from '../lib/io/queueDirectory';
import { decodeTaskMessages, encodeQueueMessage, type TaskPart } from './taskMessageCodec';
import type { WorkerContext } from './workerContext';

/** A queue message being handled (its pop receipt changes with every visibility update). */
export interface Held {
  queue: string;
  messageId: string;
  popReceipt: string;
  dequeueCount: number;
  /** The message as received: what goes to the poison queue when it is unreadable as a whole. */
  text: string;
  /** `{v: 1, tasks: […]}` (else one task message). */
  batch: boolean;
  parts: Part[];
  lastRenewAt: number;
  leaseLost: boolean;
  /** Deleted or made visible again: no longer ours. */
  settled: boolean;
  /** Serializes the operations on this message (renewals, delete, release): each needs the latest pop receipt. */
  leaseOp: Promise<unknown>;
}

/** One task of a held message. */
export interface Part extends TaskPart {
  held: Held;
  /** Set once: 'done' (needs the message no more) or the seconds after which it must come back. */
  outcome?: 'done' | number;
}

/** A task running here, with the part of the message that started it. */
export interface ActiveTask {
  msg: ContainerTaskMessage;
  part: Part;
  controller: AbortController;
  stopReason?: 'cancelled' | 'superseded' | 'shutdown';
  /** The handler returned: its result is being recorded and sent (which moves the node on). */
  finishing: boolean;
  startedAt: number;
  lastBeatAt: number;
}

export class MessageLease {
  /** Renewed at a third of the lease: two renewals can fail before the message reappears. */
  readonly renewEveryMs: number;
  /** Messages held and not settled, by queue and message id. */
  private readonly holding = new Map<string, Held>();

  constructor(private readonly ctx: WorkerContext) {
    this.renewEveryMs = (ctx.visibilitySec * 1000) / 3;
  }

  /**
   * A received message, split into its parts. Undefined when it is a message this worker holds
   * already, received again after its lease lapsed (a renewal failed): the new receipt is kept and
   * its parts go on where they are.
   */
  take(queue: string, item: DequeuedMessageItem): Held | undefined {
    const key = `${queue}\n${item.messageId}`;
    const mine = this.holding.get(key);
    if (mine) {
      mine.popReceipt = item.popReceipt;
      mine.dequeueCount = item.dequeueCount;
      mine.leaseLost = false;
      mine.lastRenewAt = Date.now();
      this.ctx.counters.leaseRecovered++;
      this.ctx.log.warn(
        'the lease of a message in hand had lapsed; it was received again and is held again',
        {
          queue,
          message_id: item.messageId,
        },
      );
      return undefined;
    }
    const decoded = decodeTaskMessages(item.messageText);
    const h: Held = {
      queue,
      messageId: item.messageId,
      popReceipt: item.popReceipt,
      dequeueCount: item.dequeueCount,
      text: item.messageText,
      batch: decoded.ok && decoded.batch,
      parts: [],
      lastRenewAt: Date.now(),
      leaseLost: false,
      settled: false,
      leaseOp: Promise.resolve(),
    };
    const tasks = decoded.ok ? decoded.tasks : [{ raw: undefined, decoded: decoded }];
    h.parts = tasks.map((t) => ({ ...t, held: h }));
    this.holding.set(key, h);
    return h;
  }

  /** The part needs its message no more (its task finished, was acknowledged, dropped or moved). */
  done(p: Part): Promise<void> {
    p.outcome ??= 'done';
    return this.settleIfDone(p.held);
  }

  /** The part must come back after `seconds`: the message is made visible then (holding it). */
  async again(p: Part, seconds: number): Promise<void> {
    const h = p.held;
    // Its siblings may run for long: a task of a batch that must come back later goes back now,
    // alone, in a new message visible after `seconds` (a 0 — a release or hand-back at shutdown —
    // waits for its siblings, which are being released too).
    const waiting = h.parts.some((q) => q !== p && q.outcome === undefined);
    if (p.outcome === undefined && seconds > 0 && h.batch && waiting && (await this.putBack([p], seconds)))
      return this.done(p);
    p.outcome ??= seconds;
    return this.settleIfDone(h);
  }

  /** Another copy of a task that is held elsewhere: look again after one lease period. */
  async defer(p: Part, log: Logger, why: string): Promise<void> {
    this.ctx.counters.deferred++;
    log.info(`duplicate delivery deferred: ${why}`, { message_id: p.held.messageId });
    await this.again(p, this.ctx.visibilitySec);
  }

  /**
   * A result that could not be recorded or sent: the message is not deleted but comes back soon,
   * and its next delivery records or sends it again (a deleted message would leave the
   * orchestration waiting for the attempt's deadline).
   */
  async comeBackLater(p: Part): Promise<void> {
    await this.again(p, Math.min(10, this.ctx.visibilitySec)).catch(() => undefined);
  }

  /** A copy deferred while its task ran here, now finished: deleted when its message held it alone. */
  async deleteCopy(p: Part): Promise<void> {
    const h = p.held;
    if (h.parts.length === 1 && h.settled) await this.deleteMessage(h);
  }

  /**
   * Parts received beyond the free slots go back to the queue in a new message (a fresh delivery
   * count, so that being put back never makes a task poison), recorded for the detection of lost
   * messages. Parts that could not be sent come back with their message at once.
   */
  async spill(parts: Part[]): Promise<void> {
    const byMessage = new Map<Held, Part[]>();
    for (const p of parts) byMessage.set(p.held, [...(byMessage.get(p.held) ?? []), p]);
    await Promise.all(
      [...byMessage].map(async ([h, ps]) => {
        if (!(await this.putBack(ps, 0))) {
          await Promise.all(ps.map((p) => this.again(p, 0))).catch(() => undefined);
          return;
        }
        this.ctx.counters.spilled += ps.length;
        // Settling may fail: the message then reappears when its lease ends, as any message would.
        await Promise.all(ps.map((p) => this.done(p))).catch((err: unknown) =>
          this.ctx.log.warn('could not settle a message after putting some of its tasks back', {
            queue: h.queue,
            message_id: h.messageId,
            error: errorMessage(err),
          }),
        );
      }),
    );
  }

  /**
   * Sends tasks of one message back to its queue in a new message, visible after `seconds`, and
   * records it for the detection of lost messages; false when it could not be sent.
   */
  private async putBack(parts: Part[], seconds: number): Promise<boolean> {
    const h = parts[0]!.held;
    let sent;
    try {
      const text = encodeQueueMessage(
        parts.length === 1 ? parts[0]!.raw : { v: 1, tasks: parts.map((p) => p.raw) },
      );
      sent = await this.ctx.queues.client(h.queue).sendMessage(text, { visibilityTimeout: seconds });
    } catch (err) {
      this.ctx.log.warn(
        'could not put tasks back on their queue in a message of their own; they come back with theirs',
        {
          queue: h.queue,
          message_id: h.messageId,
          error: errorMessage(err),
        },
      );
      return false;
    }
    await this.recordSpilled(h.queue, parts, { messageId: sent.messageId, popReceipt: sent.popReceipt });
    return true;
  }

  /** Renews the leases that are due (one per message, however many of its parts run). */
  renewDue(tasks: Iterable<ActiveTask>, now: number): void {
    const due = new Set<Held>();
    for (const t of tasks) {
      const h = t.part.held;
      if (!h.leaseLost && !h.settled && now - h.lastRenewAt >= this.renewEveryMs) due.add(h);
    }
    for (const h of due) this.renew(h);
  }

  /** The tasks whose heartbeat is due (a live holder beats every renewEveryMs). */
  beatsDue(tasks: ActiveTask[], now: number): Set<string> {
    return new Set(tasks.filter((t) => now - t.lastBeatAt >= this.renewEveryMs).map((t) => t.msg.task_id));
  }

  private async recordSpilled(
    queue: string,
    parts: Part[],
    sent: { messageId: string; popReceipt: string },
  ): Promise<void> {
    const rows: TaskMessageInput[] = parts.flatMap((p) =>
      p.decoded.ok
        ? [
            {
              ...sent,
              queue,
              taskId: p.decoded.message.task_id,
              jobId: p.decoded.message.job_id,
              nodeId: p.decoded.message.node_id,
              replyTo: p.decoded.message.reply_to,
            },
          ]
        : [],
    );
    // Only the detection of lost messages depends on these rows (as in the enqueue activity).
    await recordTaskMessages(this.ctx.pool, this.ctx.schema, rows).catch((err: unknown) =>
      this.ctx.log.warn(
        'could not record the message of tasks put back (a lost one is then found only at its deadline)',
        {
          queue,
          error: errorMessage(err),
        },
      ),
    );
  }

  private async settleIfDone(h: Held): Promise<void> {
    if (h.settled || h.parts.some((p) => p.outcome === undefined)) return;
    h.settled = true;
    this.holding.delete(`${h.queue}\n${h.messageId}`);
    const again = h.parts.filter((p): p is Part & { outcome: number } => typeof p.outcome === 'number');
    if (!again.length) return this.deleteMessage(h);
    const seconds = Math.min(...again.map((p) => p.outcome));
    // A batch comes back holding only the tasks that need it (the others are finished or moved).
    const text =
      h.batch && again.length < h.parts.length
        ? encodeQueueMessage(again.length === 1 ? again[0]!.raw : { v: 1, tasks: again.map((p) => p.raw) })
        : undefined;
    await serialize(h, async () => {
      const r = await this.ctx.queues.client(h.queue).updateMessage(h.messageId, h.popReceipt, text, seconds);
      if (r.popReceipt) h.popReceipt = r.popReceipt;
    });
  }

  private async deleteMessage(h: Held): Promise<void> {
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

  private renew(h: Held): void {
    h.lastRenewAt = Date.now();
    void serialize(h, async () => {
      if (h.settled) return;
      const r = await this.ctx.queues
        .client(h.queue)
        .updateMessage(h.messageId, h.popReceipt, undefined, this.ctx.visibilitySec);
      if (r.popReceipt) h.popReceipt = r.popReceipt;
    }).then(
      () => {
        this.ctx.counters.leaseRenewals++;
      },
      (err: unknown) => {
        const ids = { message_id: h.messageId, tasks: taskIds(h) };
        if (storageStatus(err) === 404 || storageStatus(err) === 400) {
          if (!h.leaseLost) {
            h.leaseLost = true;
            this.ctx.counters.leaseLost++;
            this.ctx.log.warn(
              'lost the lease of a running task (its message was received elsewhere or deleted); the task goes on and its result is recorded idempotently',
              ids,
            );
          }
        } else {
          this.ctx.log.warn('renewing the lease of a running task failed; retrying', {
            ...ids,
            error: errorMessage(err),
          });
        }
      },
    );
  }
}

function taskIds(h: Held): string {
  return h.parts.map((p) => (p.decoded.ok ? p.decoded.message.task_id : '?')).join(',');
}

function serialize(h: Held, fn: () => Promise<void>): Promise<void> {
  const p = h.leaseOp.then(fn);
  h.leaseOp = p.catch(() => undefined);
  return p;
}
