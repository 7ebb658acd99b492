// storageQueue triggers against a real Azurite: a message that always throws ends in <queue>-poison
// after maxDequeueCount tries; a message that succeeds is processed and deleted once; queue output
// bindings; a durable client on a queue trigger.
import path from 'node:path';
import { QueueServiceClient } from '@azure/storage-queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchAzurite, startDevHost, type AzuriteInstance, type DevHost } from '../../devhost';
import { sampleState } from '../fixtures/devhost/sampleState';
import { fixtures, waitFor } from './helpers';

let azurite: AzuriteInstance;
let host: DevHost;
let queues: QueueServiceClient;
const b64 = (s: string) => Buffer.from(s).toString('base64');

beforeAll(async () => {
  azurite = await launchAzurite();
  queues = QueueServiceClient.fromConnectionString(azurite.connectionString);
  host = await startDevHost({
    appEntry: path.join(fixtures, 'queueApp.ts'),
    storageConnectionString: azurite.connectionString,
    env: { FAIL_QUEUE: 'fail-q', OK_QUEUE: 'ok-q', START_QUEUE: 'start-q' },
    testMode: true,
  });
});

afterAll(async () => {
  await host?.stop();
  await azurite?.stop();
});

async function messageCount(queue: string): Promise<number> {
  const q = queues.getQueueClient(queue);
  if (!(await q.exists())) return 0;
  return (await q.getProperties()).approximateMessagesCount ?? 0;
}

describe('dev host: storageQueue triggers (Azurite)', () => {
  it('moves a message that always fails to <queue>-poison after maxDequeueCount tries', async () => {
    await queues.getQueueClient('fail-q').sendMessage(b64('poison-me'));
    await waitFor(
      async () => ((await messageCount('fail-q-poison')) === 1 ? true : undefined),
      20_000,
      'poison message',
    );
    const state = sampleState();
    expect(state.queue.failedAttempts['poison-me']).toBe(3); // host.json maxDequeueCount
    expect(state.queue.dequeueCounts).toEqual([1, 2, 3]);
    expect(await messageCount('fail-q')).toBe(0);
    const poisoned = await queues.getQueueClient('fail-q-poison').peekMessages();
    expect(Buffer.from(poisoned.peekedMessageItems[0]!.messageText, 'base64').toString()).toBe('poison-me');
  });

  it('processes a message that succeeds once and deletes it', async () => {
    await queues.getQueueClient('ok-q').sendMessage(b64('hello'));
    await waitFor(
      async () => (sampleState().queue.succeeded.includes('hello') ? true : undefined),
      20_000,
      'success',
    );
    await new Promise((r) => setTimeout(r, 500)); // a redelivery would show up by now
    expect(sampleState().queue.succeeded.filter((m) => m === 'hello')).toHaveLength(1);
    expect(await messageCount('ok-q')).toBe(0);
    expect(await messageCount('ok-q-poison')).toBe(0);
  });

  it('poisons messages that are not base64 (host.json messageEncoding base64)', async () => {
    await queues.getQueueClient('ok-q').sendMessage('not base64!');
    await waitFor(
      async () => ((await messageCount('ok-q-poison')) === 1 ? true : undefined),
      20_000,
      'poison',
    );
  });

  it('writes queue output bindings and runs a durable client on a queue trigger', async () => {
    const res = await fetch(`${host.url}/api/enqueue`, {
      method: 'POST',
      body: JSON.stringify({ via: 'output' }),
    });
    expect(res.status).toBe(202);
    await waitFor(
      async () => (sampleState().queue.succeeded.includes('{"via":"output"}') ? true : undefined),
      20_000,
      'output',
    );
    await queues.getQueueClient('start-q').sendMessage(b64(JSON.stringify({ id: 'from-queue', n: 1 })));
    const s = await waitFor(
      async () => {
        const st = await host.getStatus('from-queue');
        return st?.runtimeStatus === 'Completed' ? st : undefined;
      },
      20_000,
      'orchestration started from a queue',
    );
    expect(s.output).toEqual({ received: { id: 'from-queue', n: 1 } });
  });
});
