// storageQueue triggers the way the Functions host runs them (queues extension 5.x): fetch batches of
// `batchSize` while at most `newBatchThreshold` messages are in flight, back off up to
// `maxPollingInterval` when the queue is empty, keep a message invisible while it is processed,
// delete it on success, make it visible again after `visibilityTimeout` on failure, and move it to
// `<queue>-poison` once it has been dequeued `maxDequeueCount` times (or cannot be base64-decoded).
import type { QueueClient } from '@azure/storage-queue';
import { resolveAppSettings, type Env } from './appSettings';
import { errorMessage } from './devHostError';
import type { FunctionInvoker } from './functionInvoker';
import type { RpcTypedData } from './functionsCore';
import type { HostConfig } from './hostConfig';
import type { Registration } from './loadApp';
import type { Logger } from './logger';
import type { OutputBindings } from './outputBindings';
import type { StorageConnections } from './storageConnections';
import { untraced } from './untraced';

export interface QueueListenerOptions {
  reg: Registration;
  invoker: FunctionInvoker;
  outputs: OutputBindings;
  storage: StorageConnections;
  env: Env;
  config: HostConfig['queues'];
  logger: Logger;
}

interface Message {
  messageId: string;
  popReceipt: string;
  messageText: string;
  dequeueCount: number;
  insertedOn?: Date;
  expiresOn?: Date;
  nextVisibleOn?: Date;
}

export interface QueueListenerStats {
  received: number;
  succeeded: number;
  failed: number;
  poisoned: number;
}

/** How long a message stays invisible while being processed (renewed at half-time), as the host does. */
const leaseSeconds = 600;
const minPollMs = 100;

export class QueueTriggerListener {
  readonly stats: QueueListenerStats = { received: 0, succeeded: 0, failed: 0, poisoned: 0 };
  readonly queueName: string;
  readonly poisonQueueName: string;
  private readonly queue: QueueClient;
  private readonly poison: QueueClient;
  private readonly inFlight = new Set<Promise<void>>();
  private stopped = false;
  private abort = new AbortController();
  private loop: Promise<void> | undefined;
  private slotWaiter: (() => void) | undefined;
  private readonly log: Logger;

  constructor(private readonly o: QueueListenerOptions) {
    const where = `queue-triggered function '${o.reg.name}'`;
    this.queueName = resolveAppSettings(
      String(o.reg.trigger.queueName ?? ''),
      o.env,
      `${where} queueName`,
    ).toLowerCase();
    if (!this.queueName) throw new Error(`${where}: the trigger has no queueName`);
    this.poisonQueueName = `${this.queueName}-poison`;
    const connection = o.reg.trigger.connection as string | undefined;
    this.queue = o.storage.queue(connection, this.queueName, where);
    this.poison = o.storage.queue(connection, this.poisonQueueName, where);
    this.log = o.logger.child({ function: o.reg.name, queue: this.queueName });
  }

  async start(): Promise<void> {
    await this.o.storage.ensureQueue(this.queue);
    this.loop = untraced(() => this.run());
  }

  /** Stops polling and waits up to graceMs for messages being processed (others reappear later). */
  async stop(graceMs = 5000): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    this.slotWaiter?.();
    await this.loop?.catch(() => undefined);
    await Promise.race([
      Promise.allSettled([...this.inFlight]),
      new Promise((r) => setTimeout(r, graceMs).unref()),
    ]);
  }

  private async run(): Promise<void> {
    let idleMs = minPollMs;
    while (!this.stopped) {
      if (this.inFlight.size > this.o.config.newBatchThreshold) {
        await new Promise<void>((r) => (this.slotWaiter = r));
        continue;
      }
      let messages: Message[] = [];
      try {
        const res = await this.queue.receiveMessages({
          numberOfMessages: this.o.config.batchSize,
          visibilityTimeout: leaseSeconds,
          abortSignal: this.abort.signal,
        });
        messages = res.receivedMessageItems;
      } catch (err) {
        if (this.stopped) return;
        this.log.warn(`receiving from queue '${this.queueName}' failed: ${errorMessage(err)}`);
      }
      if (messages.length === 0) {
        await this.sleep(idleMs);
        idleMs = Math.min(idleMs * 2, this.o.config.maxPollingIntervalMs);
        continue;
      }
      idleMs = minPollMs;
      for (const m of messages) {
        this.stats.received++;
        const p: Promise<void> = this.process(m)
          .catch((err) =>
            this.log.error(`processing message ${m.messageId} failed in the dev host: ${errorMessage(err)}`),
          )
          .finally(() => {
            this.inFlight.delete(p);
            const w = this.slotWaiter;
            this.slotWaiter = undefined;
            w?.();
          });
        this.inFlight.add(p);
      }
    }
  }

  private async process(m: Message): Promise<void> {
    let popReceipt = m.popReceipt;
    if (m.dequeueCount > this.o.config.maxDequeueCount) {
      await this.moveToPoison(m, popReceipt, `dequeued ${m.dequeueCount} times`);
      return;
    }
    let text: string;
    if (this.o.config.messageEncoding === 'base64') {
      const decoded = decodeBase64(m.messageText);
      if (decoded === undefined) {
        await this.moveToPoison(
          m,
          popReceipt,
          'the message is not valid base64 (host.json messageEncoding is base64)',
        );
        return;
      }
      text = decoded;
    } else {
      text = m.messageText;
    }
    const renew = setInterval(
      () => {
        this.queue
          .updateMessage(m.messageId, popReceipt, undefined, leaseSeconds)
          .then((r) => (popReceipt = r.popReceipt ?? popReceipt))
          .catch((err) => this.log.warn(`renewing message ${m.messageId} failed: ${errorMessage(err)}`));
      },
      (leaseSeconds / 2) * 1000,
    );
    let ok = false;
    let failure = '';
    try {
      const triggerMetadata: Record<string, RpcTypedData> = {
        QueueTrigger: { string: text },
        DequeueCount: { json: String(m.dequeueCount) },
        Id: { string: m.messageId },
        PopReceipt: { string: popReceipt },
        InsertionTime: { json: JSON.stringify(m.insertedOn?.toISOString() ?? null) },
        ExpirationTime: { json: JSON.stringify(m.expiresOn?.toISOString() ?? null) },
        NextVisibleTime: { json: JSON.stringify(m.nextVisibleOn?.toISOString() ?? null) },
      };
      const res = await this.o.invoker.invoke(
        this.o.reg.name,
        [
          { name: this.o.reg.triggerBinding, data: { string: text } },
          ...this.o.outputs.extraInputs(this.o.reg),
        ],
        triggerMetadata,
      );
      if (res.ok) {
        await this.o.outputs.write(this.o.reg, res.response);
        ok = true;
      } else {
        failure = res.error.message;
      }
    } catch (err) {
      failure = errorMessage(err);
    } finally {
      clearInterval(renew);
    }
    if (ok) {
      this.stats.succeeded++;
      await this.queue.deleteMessage(m.messageId, popReceipt);
      return;
    }
    this.stats.failed++;
    this.log.warn(
      `Function '${this.o.reg.name}' failed on message ${m.messageId} (dequeue count ${m.dequeueCount}): ${failure}`,
    );
    if (m.dequeueCount >= this.o.config.maxDequeueCount) {
      await this.moveToPoison(
        m,
        popReceipt,
        `failed ${m.dequeueCount} times (maxDequeueCount ${this.o.config.maxDequeueCount})`,
      );
    } else {
      await this.queue.updateMessage(
        m.messageId,
        popReceipt,
        undefined,
        Math.round(this.o.config.visibilityTimeoutMs / 1000),
      );
    }
  }

  private async moveToPoison(m: Message, popReceipt: string, why: string): Promise<void> {
    await this.o.storage.ensureQueue(this.poison);
    await this.poison.sendMessage(m.messageText);
    await this.queue.deleteMessage(m.messageId, popReceipt);
    this.stats.poisoned++;
    this.log.warn(`message ${m.messageId} moved to '${this.poisonQueueName}': ${why}`);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const onAbort = () => {
        clearTimeout(t);
        resolve();
      };
      const t = setTimeout(() => {
        this.abort.signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      this.abort.signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}

function decodeBase64(text: string): string | undefined {
  const s = text.trim();
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return undefined;
  return Buffer.from(s, 'base64').toString('utf8');
}
