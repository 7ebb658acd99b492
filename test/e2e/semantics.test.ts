// Issue "The DAG on Azure Durable Functions": activity-only workflows covering every node type,
// end to end through HTTP, the dev host (real durable-functions replay) and Postgres.
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { nodeOf, startStack, type JobDetail, type Stack } from './stack';

let stack: Stack;
let failed = false;
beforeAll(async () => {
  stack = await startStack();
  stack.writeWorkflow(FAN);
  stack.writeWorkflow(RETRY);
  stack.writeWorkflow(TIMEOUT);
  stack.writeWorkflow(FAILING);
  stack.writeWorkflow(JOINS);
  stack.writeWorkflow(RERUN);
  stack.writeWorkflow(SLOW_FAN);
}, 120_000);
afterAll(async () => {
  await stack?.stop(failed);
});

function track() {
  onTestFailed(() => {
    failed = true;
  });
}

const FAN = {
  workflow_id: 'e2e_fan',
  name: 'fan-out with every aggregation',
  inputs: { xs: { type: 'array' } },
  nodes: {
    start: { type: 'start', next: 'split' },
    split: {
      type: 'fan_out',
      source: '{{ inputs.xs }}',
      task: { handler: 'echo', params: { v: '{{ item }}', i: '{{ index }}' }, retry: { max_attempts: 0 } },
      next: ['collect', 'concat', 'sum', 'first', 'last'],
    },
    collect: { type: 'fan_in', aggregation: 'collect', next: 'end' },
    concat: { type: 'fan_in', aggregation: 'concat', next: 'end' },
    sum: { type: 'fan_in', aggregation: 'sum', next: 'end' },
    first: { type: 'fan_in', aggregation: 'first', next: 'end' },
    last: { type: 'fan_in', aggregation: 'last', next: 'end' },
    end: { type: 'end' },
  },
};

const RETRY = {
  workflow_id: 'e2e_retry',
  name: 'retries with backoff',
  nodes: {
    start: { type: 'start', next: 'flaky' },
    flaky: {
      type: 'task',
      handler: 'flaky_echo',
      params: { failure_rate: 0, fail_first_attempts: 2 },
      retry: { max_attempts: 3, backoff: 'exponential', initial_delay_seconds: 1, max_delay_seconds: 10 },
      next: 'end',
    },
    end: { type: 'end' },
  },
};

const TIMEOUT = {
  workflow_id: 'e2e_timeout',
  name: 'timeouts',
  nodes: {
    start: { type: 'start', next: 'slow' },
    slow: {
      type: 'task',
      handler: 'sleep',
      params: { duration_seconds: 30 },
      timeout_seconds: 1,
      retry: { max_attempts: 1, backoff: 'fixed', initial_delay_seconds: 0.2 },
      next: 'end',
    },
    end: { type: 'end' },
  },
};

const FAILING = {
  workflow_id: 'e2e_failing',
  name: 'failure propagation',
  nodes: {
    start: { type: 'start', next: ['bad', 'good'] },
    bad: {
      type: 'task',
      handler: 'fail',
      params: { error_message: 'disk full' },
      retry: { max_attempts: 0 },
      next: 'after_bad',
    },
    after_bad: { type: 'task', handler: 'echo', next: 'end' },
    good: { type: 'task', handler: 'echo', next: 'end_good' },
    end: { type: 'end' },
    end_good: { type: 'end' },
  },
};

const JOINS = {
  workflow_id: 'e2e_joins',
  name: 'all_of and any_of joins',
  nodes: {
    start: { type: 'start', next: ['fast', 'slow'] },
    fast: { type: 'task', handler: 'echo', params: { who: 'fast' } },
    slow: { type: 'task', handler: 'sleep', params: { duration_seconds: 1 } },
    any: { type: 'task', handler: 'echo', depends_on: { any_of: ['fast', 'slow'] }, next: 'end' },
    all: { type: 'task', handler: 'echo', depends_on: { all_of: ['fast', 'slow'] }, next: 'end' },
    end: { type: 'end', depends_on: ['any', 'all'] },
  },
};

const RERUN = {
  workflow_id: 'e2e_rerun',
  name: 'rerun only what failed',
  inputs: { xs: { type: 'array' } },
  nodes: {
    start: { type: 'start', next: 'prep' },
    prep: { type: 'task', handler: 'echo', next: 'split' },
    split: {
      type: 'fan_out',
      source: '{{ inputs.xs }}',
      task: {
        handler: 'flaky_echo',
        params: { failure_rate: 0, fail_first_attempts: "{{ 1 if item == 'bad' else 0 }}", v: '{{ item }}' },
        retry: { max_attempts: 0 },
      },
      next: 'join',
    },
    join: { type: 'fan_in', next: 'after' },
    after: { type: 'task', handler: 'echo', next: 'end' },
    end: { type: 'end' },
  },
};

const SLOW_FAN = {
  workflow_id: 'e2e_slow_fan',
  name: 'slow fan-out to cancel',
  inputs: { n: { type: 'integer' } },
  nodes: {
    start: { type: 'start', next: 'split' },
    split: {
      type: 'fan_out',
      source: '{{ range(0, inputs.n) }}',
      max_parallel: 2,
      task: { handler: 'sleep', params: { duration_seconds: 1 } },
      next: 'join',
    },
    join: { type: 'fan_in', next: 'end' },
    end: { type: 'end' },
  },
};

async function events(jobId: string) {
  const all: Array<{
    event_type: string;
    node_id: string | null;
    task_id: string | null;
    created_at: string;
    event_data: Record<string, unknown>;
  }> = [];
  let cursor: string | null = null;
  do {
    const r: { status: number; body: { events: typeof all; next_cursor: string | null } } = await stack.api(
      'GET',
      `/api/jobs/${jobId}/events?limit=1000${cursor ? `&cursor=${cursor}` : ''}`,
    );
    expect(r.status).toBe(200);
    all.push(...r.body.events);
    cursor = r.body.next_cursor;
  } while (cursor);
  return all;
}

/** Every transition appears once: one terminal event per node, one job start and end. */
function expectTransitionsOnce(d: JobDetail, evs: Awaited<ReturnType<typeof events>>) {
  const count = (type: string, node: string | null) =>
    evs.filter((e) => e.event_type === type && e.node_id === node).length;
  expect(count('job_created', null)).toBe(1);
  expect(count('job_started', null)).toBe(1);
  expect(
    evs.filter((e) => ['job_completed', 'job_failed', 'job_cancelled'].includes(e.event_type)),
  ).toHaveLength(1);
  for (const n of d.nodes) {
    if (n.status === 'completed') expect(count('node_completed', n.node_id), n.node_id).toBe(1);
    if (n.status === 'skipped') expect(count('node_skipped', n.node_id), n.node_id).toBe(1);
    if (n.status === 'failed') expect(count('node_failed', n.node_id), n.node_id).toBe(1);
  }
  // No event is written twice for the same attempt.
  const keys = evs.filter((e) => e.task_id).map((e) => `${e.event_type}|${e.task_id}`);
  expect(new Set(keys).size).toBe(keys.length);
}

describe('conditionals', () => {
  it('map form: routes, skips the other branch, the join runs after the taken one', async () => {
    track();
    const big = await stack.waitForJob(await stack.submit('example_branching', { count: 12 }));
    expect(big.job.status).toBe('completed');
    expect(nodeOf(big, 'do_inline')).toMatchObject({ status: 'skipped', skip_reason: 'branch_not_taken' });
    expect(nodeOf(big, 'split_work')).toMatchObject({
      status: 'completed',
      output: { echoed_params: { mode: 'split', parts: 2 } },
    });
    expect(nodeOf(big, 'report').output).toEqual({ message: 'batch of 12 done' });
    expectTransitionsOnce(big, await events(big.job.job_id));
    const small = await stack.waitForJob(await stack.submit('example_branching', { count: 3 }));
    expect(nodeOf(small, 'split_work').status).toBe('skipped');
    expect(nodeOf(small, 'do_inline').status).toBe('completed');
  });

  it('list form on a nested field, with an any_of join', async () => {
    track();
    const d = await stack.waitForJob(await stack.submit('example_routing', { kind: 'rgba', size_mb: 12 }));
    expect(d.job.status).toBe('completed');
    expect(nodeOf(d, 'pick_path').output).toMatchObject({ taken_branch: 'imagery_path', value: 'rgba' });
    expect(nodeOf(d, 'elevation_path').status).toBe('skipped');
    expect(nodeOf(d, 'summary').status).toBe('completed');
  });
});

describe('fan-out and fan-in', () => {
  it.each([0, 1])('fan-out of %i children completes and every aggregation agrees', async (n) => {
    track();
    const xs = Array.from({ length: n }, (_, i) => i + 1);
    const d = await stack.waitForJob(await stack.submit('e2e_fan', { xs }));
    expect(d.job.status).toBe('completed');
    const outputs = xs.map((v, i) => ({
      echoed_params: { v, i },
      handler: 'echo',
      task_id: `${d.job.job_id}_split__${i}_0`,
    }));
    expect(nodeOf(d, 'collect').output).toEqual({ results: outputs, count: n });
    expect(nodeOf(d, 'first').output).toEqual({ result: outputs[0] ?? null, count: n });
    expect(nodeOf(d, 'last').output).toEqual({ result: outputs.at(-1) ?? null, count: n });
    expect(nodeOf(d, 'split').output).toEqual({ fan_out_count: n, completed: n, failed: 0 });
  });

  it('fan-out of 1,000 children: result_data holds every child, aggregations are in index order', async () => {
    track();
    const xs = Array.from({ length: 1000 }, (_, i) => i);
    const d = await stack.waitForJob(await stack.submit('e2e_fan', { xs }), 180_000);
    expect(d.job.status).toBe('completed');
    const collect = nodeOf(d, 'collect').output as {
      results: Array<{ echoed_params: { v: number } }>;
      count: number;
    };
    expect(collect.count).toBe(1000);
    expect(collect.results.map((r) => r.echoed_params.v)).toEqual(xs);
    expect(nodeOf(d, 'sum').output).toEqual({ total: 0, count: 0 });
    expect(Object.keys(d.job.result_data!).filter((k) => k.startsWith('split__'))).toHaveLength(1000);
    expect(d.job.result_data!._provenance).toMatchObject({
      workflow_id: 'e2e_fan',
      workflow_version: 1,
      job_id: d.job.job_id,
    });
    expect(d.node_summary).toMatchObject({ completed: 1000 + 8, total: 1008 });
  }, 240_000);
});

describe('retries, timeouts, failures', () => {
  it('retries with exponential backoff: the delays between attempts are observed', async () => {
    track();
    const d = await stack.waitForJob(await stack.submit('e2e_retry'));
    expect(d.job.status).toBe('completed');
    expect(nodeOf(d, 'flaky')).toMatchObject({
      status: 'completed',
      attempt: 2,
      task_id: `${d.job.job_id}_flaky_2`,
    });
    const evs = await events(d.job.job_id);
    const starts = evs
      .filter((e) => e.event_type === 'node_started' && e.node_id === 'flaky')
      .map((e) => Date.parse(e.created_at));
    const failures = evs
      .filter((e) => e.event_type === 'node_retry' && e.node_id === 'flaky')
      .map((e) => Date.parse(e.created_at));
    expect(starts).toHaveLength(3);
    expect(failures).toHaveLength(2);
    // Retry 1 waits ≥ 1 s, retry 2 ≥ 2 s (exponential from 1 s).
    expect(starts[1]! - failures[0]!).toBeGreaterThanOrEqual(950);
    expect(starts[2]! - failures[1]!).toBeGreaterThanOrEqual(1950);
    expectTransitionsOnce(d, evs);
  }, 60_000);

  it('a retry is not held back by a long task running beside it', async () => {
    track();
    stack.writeWorkflow({
      workflow_id: 'e2e_retry_beside_long',
      name: 'retry beside a long task',
      nodes: {
        start: { type: 'start', next: ['long', 'flaky'] },
        long: { type: 'task', handler: 'sleep', params: { duration_seconds: 8 }, next: 'end' },
        flaky: {
          type: 'task',
          handler: 'flaky_echo',
          params: { failure_rate: 0, fail_first_attempts: 1 },
          retry: { max_attempts: 1, backoff: 'fixed', initial_delay_seconds: 1 },
          next: 'end',
        },
        end: { type: 'end' },
      },
    });
    const d = await stack.waitForJob(await stack.submit('e2e_retry_beside_long'), 60_000);
    expect(d.job.status).toBe('completed');
    expect(nodeOf(d, 'flaky')).toMatchObject({ status: 'completed', attempt: 1 });
    // The retry ran (1 s backoff, polled every 5 s at most) long before the 8 s sleep ended.
    expect(Date.parse(nodeOf(d, 'flaky').completed_at!)).toBeLessThan(
      Date.parse(nodeOf(d, 'long').completed_at!) - 1000,
    );
  }, 60_000);

  it('an attempt over timeout_seconds fails with "Task timed out after 1s" and is retried', async () => {
    track();
    const d = await stack.waitForJob(await stack.submit('e2e_timeout'), 60_000);
    expect(d.job.status).toBe('failed');
    expect(nodeOf(d, 'slow')).toMatchObject({
      status: 'failed',
      attempt: 1,
      error_message: 'Task timed out after 1s',
    });
    expect(d.job.error_message).toBe('Node "slow" failed: Task timed out after 1s');
    const evs = await events(d.job.job_id);
    expect(evs.filter((e) => e.event_type === 'node_timeout' && e.node_id === 'slow')).toHaveLength(2);
  }, 60_000);

  it('a failed node fails the job, skips what depended on it, and independent branches finish', async () => {
    track();
    const d = await stack.waitForJob(await stack.submit('e2e_failing'));
    expect(d.job.status).toBe('failed');
    expect(d.job.error_message).toBe('Node "bad" failed: disk full');
    expect(nodeOf(d, 'after_bad')).toMatchObject({ status: 'skipped', skip_reason: 'upstream_failed' });
    expect(nodeOf(d, 'end')).toMatchObject({ status: 'skipped', skip_reason: 'upstream_failed' });
    expect(nodeOf(d, 'good').status).toBe('completed');
    expect(nodeOf(d, 'end_good').status).toBe('completed');
    expectTransitionsOnce(d, await events(d.job.job_id));
  });

  it('all_of waits for every member; any_of starts on the first', async () => {
    track();
    const d = await stack.waitForJob(await stack.submit('e2e_joins'));
    expect(d.job.status).toBe('completed');
    const at = (id: string, f: 'started_at' | 'completed_at') => Date.parse(nodeOf(d, id)[f]!);
    expect(at('any', 'started_at')).toBeLessThan(at('slow', 'completed_at'));
    expect(at('all', 'started_at')).toBeGreaterThanOrEqual(at('slow', 'completed_at'));
  });
});

describe('cancel, rerun, idempotency, version pinning', () => {
  it('cancel mid-fan-out: no new dispatches, the job is cancelled', async () => {
    track();
    const jobId = await stack.submit('e2e_slow_fan', { n: 20 });
    // Wait until some children run.
    for (let i = 0; i < 100; i++) {
      const r = await stack.api<JobDetail>('GET', `/api/jobs/${jobId}`);
      if (r.body.nodes.some((n) => n.node_id.startsWith('split__') && n.status === 'completed')) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    const c = await stack.api<{ cancel_requested: boolean }>('POST', `/api/jobs/${jobId}/cancel`, {
      reason: 'test',
    });
    expect(c.status).toBe(202);
    const d = await stack.waitForJob(jobId);
    expect(d.job.status).toBe('cancelled');
    await new Promise((res) => setTimeout(res, 1500));
    const evs = await events(jobId);
    const cancelledAt = evs.findIndex((e) => e.event_type === 'job_cancelled');
    expect(evs.slice(cancelledAt).filter((e) => e.event_type === 'node_dispatched')).toEqual([]);
    const dispatched = evs.filter((e) => e.event_type === 'node_dispatched').length;
    expect(dispatched).toBeLessThan(20);
    // A second cancel is a conflict: the job is terminal.
    expect((await stack.api('POST', `/api/jobs/${jobId}/cancel`)).status).toBe(409);
  }, 60_000);

  it('rerun of a failed job runs only the failed child and what was skipped because of it', async () => {
    track();
    const jobId = await stack.submit('e2e_rerun', { xs: ['a', 'bad', 'c'] });
    const first = await stack.waitForJob(jobId);
    expect(first.job.status).toBe('failed');
    expect(nodeOf(first, 'join').error_message).toBe(
      'Fan-out children failed: split__1 (1 of 3 children failed)',
    );
    expect(nodeOf(first, 'after')).toMatchObject({ status: 'skipped', skip_reason: 'upstream_failed' });
    const before = await events(jobId);
    expect((await stack.api('POST', `/api/jobs/${jobId}/retry`)).status).toBe(202);
    const second = await stack.waitForJob(jobId);
    expect(second.job).toMatchObject({ status: 'completed', run_count: 2 });
    const after = (await events(jobId)).slice(before.length);
    const rerunStarted = after.filter((e) => e.event_type === 'node_started').map((e) => e.node_id);
    expect(rerunStarted.sort()).toEqual(['after', 'split__1']);
    expect(nodeOf(second, 'split__1')).toMatchObject({
      status: 'completed',
      attempt: 1,
      task_id: `${jobId}_split__1_1`,
    });
    expect(nodeOf(second, 'prep').task_id).toBe(`${jobId}_prep_0`);
    expect((nodeOf(second, 'join').output as { results: unknown[] }).results.length).toBe(3);
    // Only a failed job can be retried.
    expect((await stack.api('POST', `/api/jobs/${jobId}/retry`)).status).toBe(409);
  }, 60_000);

  it('the same idempotency key returns the same job (200), another body with it is a conflict', async () => {
    track();
    const body = { workflow_id: 'hello_world', inputs: { message: 'once' }, idempotency_key: 'key-1' };
    const a = await stack.api<{ job_id: string; created: boolean }>('POST', '/api/jobs', body);
    const b = await stack.api<{ job_id: string; created: boolean }>('POST', '/api/jobs', body);
    expect(a.status).toBe(202);
    expect(b.status).toBe(200);
    expect(b.body.job_id).toBe(a.body.job_id);
    const c = await stack.api('POST', '/api/jobs', { ...body, inputs: { message: 'twice' } });
    expect(c.status).toBe(409);
    await stack.waitForJob(a.body.job_id);
  });

  it('inputs named like Object.prototype members are rejected by name (400), never dropped', async () => {
    track();
    for (const name of ['__proto__', 'constructor', 'toString']) {
      // Raw JSON: "__proto__" must reach the server as an own key, as any HTTP client sends it.
      const body = `{"workflow_id": "hello_world", "inputs": {"message": "m", ${JSON.stringify(name)}: {"x": 1}}}`;
      for (const route of ['/api/jobs', '/api/gateway/submit']) {
        const r = await stack.api<{ error: { code: string; message: string } }>(
          'POST',
          route,
          route === '/api/jobs' ? body : body.replace('"inputs"', '"input_params"'),
        );
        expect(r.status, `${route} ${name}`).toBe(400);
        expect(r.body.error.message).toContain(`"${name}" is not an input of workflow "hello_world"`);
      }
    }
  });

  it('editing the YAML mid-job never changes the in-flight job (version pinning)', async () => {
    track();
    const wf = {
      workflow_id: 'e2e_pinned',
      name: 'pinned',
      version: 1,
      nodes: {
        start: { type: 'start', next: 'wait' },
        wait: { type: 'task', handler: 'sleep', params: { duration_seconds: 1.5 }, next: 'say' },
        say: { type: 'task', handler: 'hello_world', params: { message: 'version one' }, next: 'end' },
        end: { type: 'end' },
      },
    };
    const file = stack.writeWorkflow(wf);
    const jobId = await stack.submit('e2e_pinned');
    writeFileSync(
      file,
      readFileSync(file, 'utf8').replace('version one', 'version two').replace('version: 1', 'version: 2'),
    );
    await new Promise((res) => setTimeout(res, 1200)); // the catalog rechecks files at most once a second
    const d = await stack.waitForJob(jobId);
    expect(nodeOf(d, 'say').output).toEqual({ message: 'version one' });
    expect(d.job.result_data!._provenance).toMatchObject({ workflow_version: 1 });
    const d2 = await stack.waitForJob(await stack.submit('e2e_pinned'));
    expect(nodeOf(d2, 'say').output).toEqual({ message: 'version two' });
    expect(d2.job.result_data!._provenance).toMatchObject({ workflow_version: 2 });
  }, 60_000);
});
