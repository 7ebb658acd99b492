// The result queue is a doorbell, not evidence (docs/messages.md, "Trust"): a result message whose
// task has no result recorded in Postgres — one the worker did not write — changes nothing, and a
// message that lies about a recorded result raises what Postgres holds. A result signed with a key
// of dag_result_keys is raised as signed, without reading Postgres; one whose signature does not
// check out is read like any other.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { startContainerWorker, type ContainerWorker } from '../../container-worker';
import { loadResultKeys } from '../../db';
import { signResult } from '../../lib/io/resultSignature';
import { countStatements } from '../support/pgCounter';
import { approximateCount, queueClient, send, testLogger, waitFor } from '../worker/support';
import { nodeOf, startStack, type Stack } from './stack';

const QUEUE = 'trust-tasks';
const SIGNED_QUEUE = 'trust-signed-tasks';
let stack: Stack;
let worker: ContainerWorker | undefined;
let signedWorker: ContainerWorker | undefined;
let failed = false;

beforeAll(async () => {
  stack = await startStack();
  stack.writeWorkflow({
    workflow_id: 'trust',
    name: 'a container task and forged results',
    nodes: {
      start: { type: 'start', next: 'work' },
      work: {
        type: 'task',
        handler: 'fail',
        queue: QUEUE,
        params: { error_message: 'the real outcome' },
        retry: { max_attempts: 0 },
        next: 'end',
      },
      end: { type: 'end' },
    },
  });
  stack.writeWorkflow(
    {
      workflow_id: 'trust_signed',
      name: 'a container task that succeeds',
      nodes: {
        start: { type: 'start', next: 'work' },
        work: { type: 'task', handler: 'echo', queue: SIGNED_QUEUE, params: { n: 1 }, next: 'end' },
        end: { type: 'end' },
      },
    },
    'trust_signed.yaml',
  );
}, 120_000);

afterAll(async () => {
  await signedWorker?.stop();
  await worker?.stop();
  await stack?.stop(failed);
});

/** A container worker of the product on the stack's schema and storage. */
const workerOn = (queue: string) =>
  startContainerWorker({
    queues: [queue],
    storageConnectionString: stack.azurite.connectionString,
    databaseUrl: stack.schema.url,
    schema: stack.schema.schema,
    pollIntervalMs: 100,
    logger: testLogger(),
  });

/** The status of a job's node `work`. */
const workStatus = async (jobId: string) =>
  (
    await stack.schema.pool.query<{ status: string }>(
      `SELECT status::text AS status FROM "${stack.schema.schema}".dag_node_states WHERE job_id = $1 AND node_id = 'work'`,
      [jobId],
    )
  ).rows[0]!.status;

/** A result message for the job's node `work`, attempt 0, as someone with queue access could send it. */
const forgedResult = <T extends Record<string, unknown>>(jobId: string, over: T) => ({
  v: 1 as const,
  task_id: `${jobId}_work_0`,
  job_id: jobId,
  node_id: 'work',
  attempt: 0,
  worker_id: 'mallory',
  execution_duration_ms: 1,
  reported_at: new Date().toISOString(),
  reply_to: jobId,
  ...over,
});

describe('result messages are checked against Postgres', () => {
  it('a forged completion is dropped; a lie about a recorded failure raises the failure', async () => {
    onTestFailed(() => {
      failed = true;
    });
    const jobId = await stack.submit('trust');
    const taskId = `${jobId}_work_0`;
    const nodeStatus = () => workStatus(jobId);
    await waitFor('dispatched', async () => (await nodeStatus()) === 'dispatched');
    const results = queueClient(stack.azurite.connectionString, stack.env.DAG_RESULT_QUEUE!);
    const forged = forgedResult(jobId, { status: 'completed', error_message: null, retryable: true });
    await send(results, forged);
    await waitFor('the forged result consumed', async () => (await approximateCount(results)) === 0);
    await new Promise((r) => setTimeout(r, 1500));
    // Nothing recorded, nothing raised: the attempt still waits for its worker.
    expect(await nodeStatus()).toBe('dispatched');
    const recorded = await stack.schema.pool.query(
      `SELECT 1 FROM "${stack.schema.schema}".dag_task_results WHERE task_id = $1`,
      [taskId],
    );
    expect(recorded.rowCount).toBe(0);
    expect((await stack.api<{ job: { status: string } }>('GET', `/api/jobs/${jobId}`)).body.job.status).toBe(
      'running',
    );

    // The worker runs it (it fails, as the handler does); a copy of its result claiming success
    // arrives too, in a batch with a result for a task that never existed (a batch is read in one
    // statement): whichever is raised first, the orchestration sees the recorded failure.
    await send(results, {
      v: 1,
      results: [
        { ...forged, worker_id: 'mallory-again' },
        { ...forged, task_id: `${jobId}_nothing_0`, node_id: 'nothing', worker_id: 'mallory-again' },
      ],
    });
    worker = await workerOn(QUEUE);
    const d = await stack.waitForJob(jobId, 30_000);
    expect(d.job.status).toBe('failed');
    expect(nodeOf(d, 'work')).toMatchObject({ status: 'failed', error_message: 'the real outcome' });
  }, 90_000);

  it('a signed result is raised without reading Postgres; a signature that does not check out is read (and a forgery dropped)', async () => {
    onTestFailed(() => {
      failed = true;
    });
    const jobId = await stack.submit('trust_signed');
    const nodeStatus = () => workStatus(jobId);
    await waitFor('dispatched', async () => (await nodeStatus()) === 'dispatched');
    const results = queueClient(stack.azurite.connectionString, stack.env.DAG_RESULT_QUEUE!);
    // The trigger's read of recorded results (db/attemptStates.ts readRecordedResults).
    const reads = countStatements((q) => q.text.includes('WHERE tr.task_id = ANY('));
    try {
      const outcome = { ok: false as const, error: 'forged failure', retryable: false };
      const forged = forgedResult(jobId, {
        status: 'failed',
        error_message: 'forged failure',
        retryable: false,
        outcome,
      });
      // Signed with a key that is not the schema's (under the id the schema's first key has), and with
      // a key id nobody holds.
      const guess = { keyId: 1, secret: randomBytes(32) };
      await send(results, { ...forged, signature: signResult(guess, forged) });
      await send(results, { ...forged, signature: signResult({ ...guess, keyId: 7 }, forged) });
      // A real signature over another outcome does not cover this one.
      const [real] = await loadResultKeys(stack.schema.pool, stack.schema.schema);
      await send(results, {
        ...forged,
        signature: signResult(real!, { ...forged, outcome: { ok: true } }),
      });
      // Each is read from Postgres (which has no result for it) and dropped.
      await waitFor('the forged results read', async () => reads.count() >= 3);
      await waitFor('the forged results consumed', async () => (await approximateCount(results)) === 0);
      await new Promise((r) => setTimeout(r, 500));
      expect(await nodeStatus()).toBe('dispatched');
    } finally {
      reads.stop();
    }

    // The worker's own result is signed: the trigger raises it without a read.
    const after = countStatements((q) => q.text.includes('WHERE tr.task_id = ANY('));
    try {
      signedWorker = await workerOn(SIGNED_QUEUE);
      const d = await stack.waitForJob(jobId, 30_000);
      expect(d.job.status).toBe('completed');
      expect(nodeOf(d, 'work')).toMatchObject({ status: 'completed' });
      expect(after.count()).toBe(0);
    } finally {
      after.stop();
    }
  }, 90_000);
});
