// The reconciler keeps Postgres consistent with Durable: an orchestration terminated outside the
// product makes its job failed (never stuck running); a pending job whose orchestration never
// started is started. A long activity stops when its job is cancelled.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { jobInstanceId } from '../../activities/contracts';
import { TEST_DATABASE_URL } from '../support/pg';
import { startFaultProxy, type FaultProxy } from './faultProxy';
import { nodeOf, startStack, type JobDetail, type Stack } from './stack';

let stack: Stack;
let proxy: FaultProxy;
let failed = false;
beforeAll(async () => {
  // The app's durable clients reach the host through a proxy that can answer with injected errors.
  proxy = await startFaultProxy();
  stack = await startStack({
    env: { DAG_RECONCILE_GRACE_SECONDS: '1' },
    durableClientRpcBaseUrl: proxy.baseUrl,
  });
  proxy.target = stack.host.rpcBaseUrl;
  stack.writeWorkflow({
    workflow_id: 'e2e_long',
    name: 'long',
    nodes: {
      start: { type: 'start', next: 'nap' },
      nap: { type: 'task', handler: 'sleep', params: { duration_seconds: 60 }, next: 'end' },
      end: { type: 'end' },
    },
  });
}, 120_000);
afterAll(async () => {
  await stack?.stop(failed);
  await proxy?.close();
});

async function waitRunning(jobId: string) {
  for (let i = 0; i < 100; i++) {
    const r = await stack.api<JobDetail>('GET', `/api/jobs/${jobId}`);
    if (nodeOf(r.body, 'nap').status === 'running') return;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error('nap never started');
}

describe('reconciliation and cancel', () => {
  it('a status error other than 404 leaves a running job running; only a 404 marks it failed', async () => {
    onTestFailed(() => {
      failed = true;
    });
    const jobId = await stack.submit('e2e_long');
    await waitRunning(jobId);
    const instance = jobInstanceId(jobId, 1);
    const statusOf = `/durabletask/instances/${instance}`;
    // Quiet for longer than the grace period (a long node does not touch the job row).
    await new Promise((res) => setTimeout(res, 1500));
    proxy.fault = (r) => (r.method === 'GET' && r.path === statusOf ? 500 : undefined);
    await stack.host.runTimer('reconcileJobs');
    await stack.host.runTimer('reconcileJobs');
    expect(proxy.faulted.filter((f) => f === `500 GET ${statusOf}`).length).toBeGreaterThanOrEqual(2);
    let d = (await stack.api<JobDetail>('GET', `/api/jobs/${jobId}`)).body;
    expect(d.job.status).toBe('running');
    expect(nodeOf(d, 'nap').status).toBe('running');
    // The extension says the instance does not exist: now the job cannot make progress.
    proxy.fault = (r) => (r.method === 'GET' && r.path === statusOf ? 404 : undefined);
    await stack.host.runTimer('reconcileJobs');
    proxy.fault = undefined;
    d = await stack.waitForJob(jobId, 20_000);
    expect(d.job.status).toBe('failed');
    expect(d.job.error_message).toMatch(/no longer exists/);
    await stack.host.terminate(instance, 'test cleanup').catch(() => undefined);
  }, 60_000);

  it('a job whose orchestration was terminated outside the product is marked failed', async () => {
    onTestFailed(() => {
      failed = true;
    });
    const jobId = await stack.submit('e2e_long');
    await waitRunning(jobId);
    await stack.host.terminate(jobInstanceId(jobId, 1), 'operator pressed the button');
    await new Promise((res) => setTimeout(res, 1500));
    await stack.host.runTimer('reconcileJobs');
    const d = await stack.waitForJob(jobId, 20_000);
    expect(d.job.status).toBe('failed');
    expect(d.job.error_message).toMatch(/terminated/);
  }, 60_000);

  it('a pending job whose orchestration never started is started by the reconciler', async () => {
    onTestFailed(() => {
      failed = true;
    });
    // Simulate a crash between the insert and the start: create the job row directly.
    const jobId = await stack.submit('hello_world');
    await stack.waitForJob(jobId);
    const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await c.connect();
    const orphan = `orphan${Date.now()}`;
    try {
      await c.query(
        `INSERT INTO "${stack.schema.schema}".dag_jobs (job_id, workflow_id, workflow_version, workflow_snapshot, input_params, updated_at)
         SELECT $1, workflow_id, workflow_version, workflow_snapshot, input_params, now() - interval '1 minute'
         FROM "${stack.schema.schema}".dag_jobs WHERE job_id = $2`,
        [orphan, jobId],
      );
      await c.query(
        `INSERT INTO "${stack.schema.schema}".dag_node_states (job_id, node_id, node_type, max_retries)
         SELECT $1, node_id, node_type, max_retries FROM "${stack.schema.schema}".dag_node_states WHERE job_id = $2`,
        [orphan, jobId],
      );
    } finally {
      await c.end();
    }
    await stack.host.runTimer('reconcileJobs');
    const d = await stack.waitForJob(orphan, 30_000);
    expect(d.job.status).toBe('completed');
  }, 60_000);

  it('cancel stops a long activity and ends the job cancelled within seconds', async () => {
    onTestFailed(() => {
      failed = true;
    });
    const jobId = await stack.submit('e2e_long');
    await waitRunning(jobId);
    expect((await stack.api('POST', `/api/jobs/${jobId}/cancel`)).status).toBe(202);
    const d = await stack.waitForJob(jobId, 20_000);
    expect(d.job.status).toBe('cancelled');
    // The attempt in flight is failed by the cancel…
    expect(nodeOf(d, 'nap')).toMatchObject({
      status: 'failed',
      error_message: 'The job was cancelled while this attempt ran',
    });
    // …and its handler (a 60 s sleep) was aborted: its result arrives within seconds, and is ignored.
    const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await c.connect();
    try {
      let row: { disposition: string; duration_ms: number } | undefined;
      for (let i = 0; i < 100 && !row; i++) {
        const r = await c.query(
          `SELECT disposition, duration_ms FROM "${stack.schema.schema}".dag_task_results WHERE job_id = $1`,
          [jobId],
        );
        row = r.rows[0];
        if (!row) await new Promise((res) => setTimeout(res, 200));
      }
      expect(row).toMatchObject({ disposition: 'ignored_job_terminal' });
      expect(row!.duration_ms).toBeLessThan(15_000);
    } finally {
      await c.end();
    }
  }, 60_000);
});
