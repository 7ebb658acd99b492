import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeOf, startStack, type Stack } from './stack';

let stack: Stack;
let failed = false;
beforeAll(async () => {
  stack = await startStack();
}, 120_000);
afterAll(async () => {
  await stack?.stop(failed);
});

describe('activity workflows end to end', () => {
  it('runs hello_world through HTTP, Durable and Postgres', async () => {
    try {
      const jobId = await stack.submit('hello_world', {});
      const d = await stack.waitForJob(jobId);
      expect(d.job.status).toBe('completed');
      expect(nodeOf(d, 'hello').output).toEqual({ message: 'Hello from DAG!' });
      expect(d.job.result_data).toMatchObject({
        hello: { message: 'Hello from DAG!' },
        _provenance: { workflow_id: 'hello_world', job_id: jobId },
      });
    } catch (e) {
      failed = true;
      throw e;
    }
  });
});
