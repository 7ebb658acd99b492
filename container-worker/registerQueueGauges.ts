// Queue gauges (telemetry on), read at each metric export: the depth of each consumed queue and of
// its poison queue, and the age of the oldest waiting message (the backlog age).
import { registerGauge, untraced } from '../handlers/telemetry';
import type { QueueDirectory } from '../lib/io/queueDirectory';

/** Registers the gauges; returns their unregistration. */
export function registerQueueGauges(queues: QueueDirectory, names: string[]): () => void {
  const timeout = <T>(p: Promise<T>, ms = 3000) =>
    Promise.race([
      p,
      new Promise<never>((_, rej) => setTimeout(() => rej(new Error('timeout')), ms).unref()),
    ]);
  const read = (name: string) => untraced(() => readQueue(name));
  const readQueue = async (name: string) => {
    try {
      const q = queues.client(name);
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
          names.map(async (queue) => [
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
      Promise.all(names.map(async (queue) => ({ value: (await read(queue)).ageSec, attributes: { queue } }))),
  );
  return () => {
    depths();
    ages();
  };
}
