// Group commit for result messages. Each result queue has at most one send in flight; the results
// that finish meanwhile go together in the next message. Alone, a result is sent at once as a plain
// result message (no added latency); under load, one Storage transaction carries many results,
// which halves the queue operations per task (the task message's delete remains). `add` resolves
// once the message holding that result is on the queue, so the caller deletes its task message
// only after its result is safe.
import {
  RESULT_BATCH_MAX_BYTES,
  ContainerResultMessageSchema,
  type ContainerResultMessage,
} from '../lib/containerMessages';
import { encodeQueueMessage } from './taskMessageCodec';

interface Pending {
  message: ContainerResultMessage;
  bytes: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class ResultBatcher {
  private readonly queues = new Map<string, { pending: Pending[]; sending: boolean }>();

  /** `send(queue, text)` puts one encoded message on a queue (with its own retries). */
  constructor(
    private readonly send: (queue: string, text: string) => Promise<void>,
    private readonly maxBytes = RESULT_BATCH_MAX_BYTES,
  ) {}

  add(queue: string, message: ContainerResultMessage): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const valid = ContainerResultMessageSchema.parse(message); // thrown here: the promise rejects
      let q = this.queues.get(queue);
      if (!q) this.queues.set(queue, (q = { pending: [], sending: false }));
      q.pending.push({
        message: valid,
        bytes: Buffer.byteLength(JSON.stringify(valid)) + 1,
        resolve,
        reject,
      });
      void this.pump(queue);
    });
  }

  private async pump(queue: string): Promise<void> {
    const q = this.queues.get(queue);
    if (!q || q.sending || q.pending.length === 0) return;
    q.sending = true;
    // As many as fit in one message (`{"v":1,"results":[…]}`), oldest first.
    let bytes = 24;
    let n = 0;
    while (n < q.pending.length && (n === 0 || bytes + q.pending[n]!.bytes <= this.maxBytes)) {
      bytes += q.pending[n]!.bytes;
      n++;
    }
    const batch = q.pending.splice(0, n);
    const body =
      batch.length === 1 ? batch[0]!.message : { v: 1 as const, results: batch.map((b) => b.message) };
    try {
      await this.send(queue, encodeQueueMessage(body));
      for (const b of batch) b.resolve();
    } catch (err) {
      for (const b of batch) b.reject(err);
    } finally {
      q.sending = false;
      if (q.pending.length === 0) this.queues.delete(queue);
      else void this.pump(queue);
    }
  }
}
