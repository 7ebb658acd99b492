// Container task messages at the Storage Queue's 64 KiB boundary: params travel in the message
// when the whole encoded message fits, else in Postgres (params_in_db) — decided on the encoded
// size, so a message one byte over is never sent as-is (the queue would refuse it).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  encodedMessageBytes,
  QUEUE_MESSAGE_MAX_BYTES,
  type ContainerTaskMessage,
} from '../../lib/containerMessages';
import { TEST_DATABASE_URL } from '../support/pg';
import { nodeOf, startStack, type Stack } from '../e2e/stack';
import { decodeQueueJson, startContainerWorker, type ContainerWorker } from '../../container-worker';
import { queueClient } from './support';

let stack: Stack;
let worker: ContainerWorker | undefined;
let failed = false;
const QUEUE = 'size-tasks';

beforeAll(async () => {
  stack = await startStack({ shippedWorkflows: false });
  stack.writeWorkflow({
    workflow_id: 'big_params',
    name: 'big params',
    inputs: { blob: { type: 'string' } },
    nodes: {
      start: { type: 'start', next: 'echo' },
      echo: {
        type: 'task',
        handler: 'echo',
        queue: QUEUE,
        params: { blob: '{{ inputs.blob }}' },
        next: 'end',
      },
      end: { type: 'end' },
    },
  });
}, 120_000);
afterAll(async () => {
  await worker?.stop();
  await stack?.stop(failed);
});

/** The task message of a job, read from the queue before any worker takes it. */
async function queuedMessage(jobId: string): Promise<{ text: string; message: ContainerTaskMessage }> {
  const q = queueClient(stack.azurite.connectionString, QUEUE);
  for (let i = 0; i < 300; i++) {
    if (await q.exists()) {
      const peeked = await q.peekMessages({ numberOfMessages: 32 });
      for (const m of peeked.peekedMessageItems) {
        const d = decodeQueueJson(m.messageText);
        if (d.ok && (d.value as ContainerTaskMessage).job_id === jobId)
          return { text: m.messageText, message: d.value as ContainerTaskMessage };
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no task message of job ${jobId} on ${QUEUE}`);
}

describe('container task messages at the 64 KiB limit', () => {
  it('inline up to exactly 64 KiB encoded, params_in_db one byte of JSON beyond; both run', async () => {
    try {
      // The envelope's size (ids, timestamps and names have fixed lengths) from a small message.
      const probeJob = await stack.submit('big_params', { blob: 'x' });
      const probe = await queuedMessage(probeJob);
      expect(probe.message.params_in_db).toBe(false);
      const base = Buffer.byteLength(JSON.stringify(probe.message)) - 1;
      // Base64 of n JSON bytes is 4·⌈n/3⌉: 49,152 bytes are exactly 65,536 encoded.
      const fits = 49_152 - base;
      const over = 49_153 - base;

      const atLimit = await stack.submit('big_params', { blob: 'a'.repeat(fits) });
      const m1 = await queuedMessage(atLimit);
      expect(m1.message.params_in_db).toBe(false);
      expect(m1.text.length).toBe(QUEUE_MESSAGE_MAX_BYTES);
      expect(encodedMessageBytes(m1.message)).toBe(QUEUE_MESSAGE_MAX_BYTES);

      const beyond = await stack.submit('big_params', { blob: 'b'.repeat(over) });
      const m2 = await queuedMessage(beyond);
      expect(m2.message.params_in_db).toBe(true);
      expect(m2.message.params).toBeUndefined();
      expect(
        encodedMessageBytes({ ...m2.message, params_in_db: false, params: { blob: 'b'.repeat(over) } }),
      ).toBeGreaterThan(QUEUE_MESSAGE_MAX_BYTES);

      worker = await startContainerWorker({
        queues: [QUEUE],
        storageConnectionString: stack.azurite.connectionString,
        databaseUrl: TEST_DATABASE_URL,
        schema: stack.schema.schema,
        maxConcurrent: 4,
        visibilityTimeoutSeconds: 10,
        pollIntervalMs: 100,
      });
      for (const [id, ch, n] of [
        [atLimit, 'a', fits],
        [beyond, 'b', over],
        [probeJob, 'x', 1],
      ] as const) {
        const d = await stack.waitForJob(id, 60_000);
        expect(d.job.status).toBe('completed');
        expect((nodeOf(d, 'echo').output as { echoed_params: { blob: string } }).echoed_params.blob).toBe(
          ch.repeat(n),
        );
      }
    } catch (err) {
      failed = true;
      throw err;
    }
  }, 120_000);
});
