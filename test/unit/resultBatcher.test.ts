// Group commit of result messages: a lone result goes at once as a plain message; results finishing
// while a send is in flight go together in the next message, oldest first, never above the queue's
// size limit; each `add` resolves only once its own message is sent, and a failed send rejects
// exactly the results it carried.
import { describe, expect, it } from 'vitest';
import { ResultBatcher } from '../../container-worker/resultBatcher';
import { decodeQueueJson } from '../../container-worker/taskMessageCodec';
import {
  ContainerResultBatchSchema,
  ContainerResultMessageSchema,
  ResultQueueMessageSchema,
  resultsOf,
  type ContainerResultMessage,
} from '../../lib/containerMessages';

const result = (i: number, error?: string): ContainerResultMessage => ({
  v: 1,
  task_id: `job_n${i}_0`,
  job_id: 'job',
  node_id: `n${i}`,
  attempt: 0,
  status: error ? 'failed' : 'completed',
  error_message: error ?? null,
  retryable: true,
  worker_id: 'w',
  execution_duration_ms: 3,
  reported_at: '2026-11-27T12:00:00.000Z',
  reply_to: 'dag-job',
});

/** A queue whose sends complete only when the test says so. */
function gatedQueue() {
  const sent: Array<{ queue: string; text: string }> = [];
  const gates: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  const send = (queue: string, text: string) =>
    new Promise<void>((resolve, reject) => {
      sent.push({ queue, text });
      gates.push({ resolve, reject });
    });
  const decoded = (k: number) => {
    const d = decodeQueueJson(sent[k]!.text);
    if (!d.ok) throw new Error(d.error);
    return d.value;
  };
  return { sent, gates, send, decoded };
}
const tick = () => new Promise((r) => setImmediate(r));

describe('ResultBatcher', () => {
  it('a lone result is sent at once, as a plain result message', async () => {
    const q = gatedQueue();
    const b = new ResultBatcher(q.send);
    const done = b.add('results', result(1));
    await tick();
    expect(q.sent).toHaveLength(1);
    expect(ContainerResultMessageSchema.parse(q.decoded(0))).toEqual(result(1));
    q.gates[0]!.resolve();
    await done;
  });

  it('results added during a send go together in the next message, in order; each add waits for its own send', async () => {
    const q = gatedQueue();
    const b = new ResultBatcher(q.send);
    const settled: number[] = [];
    const first = b.add('results', result(0)).then(() => settled.push(0));
    const rest = [1, 2, 3, 4, 5].map((i) => b.add('results', result(i)).then(() => settled.push(i)));
    await tick();
    expect(q.sent).toHaveLength(1); // one send in flight per queue
    q.gates[0]!.resolve();
    await first;
    await tick();
    expect(settled).toEqual([0]);
    expect(q.sent).toHaveLength(2);
    const batch = ContainerResultBatchSchema.parse(q.decoded(1));
    expect(batch.results.map((r) => r.node_id)).toEqual(['n1', 'n2', 'n3', 'n4', 'n5']);
    q.gates[1]!.resolve();
    await Promise.all(rest);
    expect(settled).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('queues are independent: a send in flight on one does not hold results for another', async () => {
    const q = gatedQueue();
    const b = new ResultBatcher(q.send);
    void b.add('a', result(1));
    void b.add('b', result(2));
    await tick();
    expect(q.sent.map((s) => s.queue)).toEqual(['a', 'b']);
    for (const g of q.gates) g.resolve();
  });

  it('a backlog larger than one message is split: every message fits the 64 KiB queue limit', async () => {
    const q = gatedQueue();
    const b = new ResultBatcher(q.send);
    const long = 'x'.repeat(2000); // the longest error message a result may carry
    const all = Array.from({ length: 80 }, (_, i) => b.add('results', result(i, long)));
    // Release sends as they come until every result is out.
    let released = 0;
    let done = false;
    const allDone = Promise.all(all).then(() => (done = true));
    while (!done) {
      await tick();
      while (released < q.gates.length) q.gates[released++]!.resolve();
    }
    await allDone;
    expect(q.sent.length).toBeGreaterThan(2);
    const ids: string[] = [];
    for (let k = 0; k < q.sent.length; k++) {
      expect(q.sent[k]!.text.length).toBeLessThanOrEqual(64 * 1024);
      ids.push(...resultsOf(ResultQueueMessageSchema.parse(q.decoded(k))).map((r) => r.node_id));
    }
    expect(ids).toEqual(Array.from({ length: 80 }, (_, i) => `n${i}`));
  });

  it('a failed send rejects the results it carried; the next ones are still sent', async () => {
    const q = gatedQueue();
    const b = new ResultBatcher(q.send);
    const first = b.add('results', result(0));
    const second = b.add('results', result(1));
    const third = b.add('results', result(2));
    await tick();
    q.gates[0]!.reject(new Error('queue unreachable'));
    await expect(first).rejects.toThrow('queue unreachable');
    await tick();
    expect(q.sent).toHaveLength(2);
    // The results that waited behind the failed send travel together in the next message.
    expect((q.decoded(1) as { results: Array<{ task_id: string }> }).results.map((r) => r.task_id)).toEqual([
      'job_n1_0',
      'job_n2_0',
    ]);
    let settled = false;
    const rest = Promise.all([second, third]).finally(() => {
      settled = true;
    });
    await tick();
    expect(settled).toBe(false); // not before its send is acknowledged
    q.gates[1]!.resolve();
    await expect(rest).resolves.toEqual([undefined, undefined]);
  });

  it('refuses an invalid result before sending anything', async () => {
    const q = gatedQueue();
    const b = new ResultBatcher(q.send);
    await expect(b.add('results', { ...result(1), status: 'done' as 'completed' })).rejects.toThrow();
    expect(q.sent).toHaveLength(0);
  });
});
