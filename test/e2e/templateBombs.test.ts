// Issue 20: a template can never stall or crash the service. The bombs of the issue run as jobs on
// the local stack (dev host + Azurite + Postgres, in this process): each node fails fast with a
// non-retryable TEMPLATE_TOO_EXPENSIVE error naming the node, the field and the limit, while the API
// keeps answering its probes (95% under 200 ms, the bound the issue asks for; none over 1 s) and the process
// memory stays bounded.
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { nodeOf, startStack, type JobDetail, type Stack } from './stack';

let stack: Stack;
let failed = false;
beforeAll(async () => {
  stack = await startStack({ shippedWorkflows: false });
  for (const wf of [TASK_BOMB, FAN_OUT_BOMB, CONDITIONAL_BOMB, STRIPTAGS]) stack.writeWorkflow(wf);
}, 120_000);
afterAll(async () => {
  await stack?.stop(failed);
});

function track() {
  onTestFailed(() => {
    failed = true;
  });
}

// The first bomb: an 8-million-character string, replaced inputs.n times.
const REPLACE_BOMB =
  "{% set s = 'ab' %}{% for i in range(22) %}{% set s = s ~ s %}{% endfor %}{% for i in range(inputs.n) %}{% set t = s | replace('a', 'b') %}{% endfor %}done";
// The second bomb: striptags on "<a<a<a…" (quadratic with the former regular expression).
const STRIPTAGS_BOMB =
  "{% set s = '<a' %}{% for i in range(inputs.n) %}{% set s = s ~ s %}{% endfor %}{{ s | striptags | length }}";
// Nested range loops: pure work, about a second until the work limit.
const LOOPS_BOMB =
  '{% for a in range(inputs.n) %}{% for b in range(inputs.n) %}{% for c in range(inputs.n) %}{% endfor %}{% endfor %}{% endfor %}x';

const TASK_BOMB = {
  workflow_id: 'bomb_task',
  name: 'a task whose params are a bomb',
  inputs: { n: { type: 'integer' }, which: { type: 'string', default: 'replace' } },
  nodes: {
    start: { type: 'start', next: 'pick' },
    pick: {
      type: 'conditional',
      condition: '{{ inputs.which }}',
      branches: { replace: 'render', loops: 'loops' },
    },
    render: {
      type: 'task',
      handler: 'echo',
      params: { small: '{{ inputs.n }}', value: REPLACE_BOMB },
      retry: { max_attempts: 3, backoff: 'fixed', initial_delay_seconds: 0.1 },
      next: 'end',
    },
    loops: {
      type: 'task',
      handler: 'echo',
      params: { value: LOOPS_BOMB },
      retry: { max_attempts: 3, backoff: 'fixed', initial_delay_seconds: 0.1 },
      next: 'end',
    },
    end: { type: 'end', depends_on: { any_of: ['render', 'loops'] } },
  },
};

const FAN_OUT_BOMB = {
  workflow_id: 'bomb_fan_out',
  name: 'a fan-out whose source and children params are bombs',
  inputs: { n: { type: 'integer' } },
  nodes: {
    start: { type: 'start', next: 'split' },
    split: {
      type: 'fan_out',
      // List doubling in the source: 2^n elements.
      source: '{% set l = [1] %}{% for i in range(inputs.n) %}{% set l = l + l %}{% endfor %}{{ l }}',
      task: { handler: 'echo', params: { v: '{{ item }}' } },
      next: 'join',
    },
    join: { type: 'fan_in', aggregation: 'collect', next: 'end' },
    end: { type: 'end' },
  },
};

const CONDITIONAL_BOMB = {
  workflow_id: 'bomb_conditional',
  name: 'a conditional whose condition is a bomb',
  inputs: { n: { type: 'integer' } },
  nodes: {
    start: { type: 'start', next: 'route' },
    route: {
      type: 'conditional',
      // Lists that share their halves: 2^n elements as JSON, in n small lists.
      condition:
        '{% set l = ["x"] %}{% for i in range(inputs.n) %}{% set l = [l, l] %}{% endfor %}{{ l | string | length }}',
      branches: { '1': 'end' },
      default: 'end',
    },
    end: { type: 'end' },
  },
};

const STRIPTAGS = {
  workflow_id: 'bomb_striptags',
  name: 'striptags on a long tag-like string',
  inputs: { n: { type: 'integer' } },
  nodes: {
    start: { type: 'start', next: 'strip' },
    strip: { type: 'task', handler: 'echo', params: { length: STRIPTAGS_BOMB }, next: 'end' },
    end: { type: 'end' },
  },
};

interface Probe {
  at: number;
  ms: number;
  status: number;
}

/**
 * Runs a job while probing the API back to back (livez and readyz in turn) from submit to end.
 * Returns the job and every probe; also the highest RSS seen.
 */
async function runWhileProbing(
  workflowId: string,
  inputs: Record<string, unknown>,
): Promise<{ job: JobDetail; probes: Probe[]; peakRssMiB: number; startRssMiB: number }> {
  const probes: Probe[] = [];
  const startRss = process.memoryUsage().rss;
  let peakRss = startRss;
  let done = false;
  const prober = (async () => {
    let k = 0;
    while (!done) {
      const route = k++ % 2 === 0 ? '/api/livez' : '/api/readyz';
      const t0 = performance.now();
      const res = await fetch(`${stack.url}${route}`);
      await res.text();
      probes.push({ at: Date.now(), ms: performance.now() - t0, status: res.status });
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  try {
    const id = await stack.submit(workflowId, inputs);
    const job = await stack.waitForJob(id, 120_000);
    return { job, probes, peakRssMiB: peakRss / 2 ** 20, startRssMiB: startRss / 2 ** 20 };
  } finally {
    done = true;
    await prober;
  }
}

/**
 * The probes answered while `node` was being rendered: a task renders its params before it starts, so
 * from the end of the node before it (`after`) to the end of `node`.
 */
function probesDuring(job: JobDetail, after: string, node: string, probes: Probe[]): Probe[] {
  const from = Date.parse(nodeOf(job, after).completed_at ?? '');
  const to = Date.parse(nodeOf(job, node).completed_at ?? '');
  expect(to - from).toBeGreaterThan(0);
  return probes.filter((p) => p.at >= from && p.at <= to);
}

function expectResponsive(probes: Probe[]): void {
  expect(probes.length).toBeGreaterThan(0);
  for (const p of probes) expect(p.status).toBe(200);
  // The bound (200 ms) holds for 95% of the probes; a shared CI machine can pause any
  // process for a moment, so the slowest one gets 1 s — a render on the event loop stalled it for 26 s.
  const sorted = probes.map((p) => p.ms).sort((a, b) => a - b);
  const p95 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))]!;
  const slowest = sorted[sorted.length - 1]!;
  const what = `p95 ${p95.toFixed(1)} ms, slowest ${slowest.toFixed(1)} ms of ${probes.length} probes`;
  expect(p95, what).toBeLessThan(200);
  expect(slowest, what).toBeLessThan(1000);
}

describe('template bombs on the local stack', () => {
  it("the issue's replace bomb (inputs.n = 20) fails fast, once, and the API answers throughout", async () => {
    track();
    const t0 = Date.now();
    const { job, probes, peakRssMiB, startRssMiB } = await runWhileProbing('bomb_task', { n: 20 });
    const elapsed = Date.now() - t0;
    expect(job.job.status).toBe('failed');
    const render = nodeOf(job, 'render');
    expect(render.status).toBe('failed');
    // Not retried: the template cannot succeed on another attempt.
    expect(render.attempt).toBe(0);
    expect(render.error_message).toMatch(/^TEMPLATE_TOO_EXPENSIVE: node "render" params\.value: /);
    expect(render.error_message).toMatch(/limit per node/);
    expect(render.error_message).toContain("s | replace('a', 'b')");
    expect(elapsed).toBeLessThan(30_000);
    expectResponsive(probes);
    // The heap of a render is capped (512 MB, the render worker's limit); the process grew far less.
    expect(peakRssMiB - startRssMiB).toBeLessThan(512);
  });

  it('nested range loops: a second of work in a render worker, the probes never wait', async () => {
    track();
    const { job, probes } = await runWhileProbing('bomb_task', { n: 100_000, which: 'loops' });
    const loops = nodeOf(job, 'loops');
    expect(loops.status).toBe('failed');
    expect(loops.attempt).toBe(0);
    expect(loops.error_message).toMatch(/^TEMPLATE_TOO_EXPENSIVE: node "loops" params\.value: /);
    expect(loops.error_message).toMatch(/over 50,000,000 work units \(the limit per node/);
    const during = probesDuring(job, 'pick', 'loops', probes);
    expect(during.length).toBeGreaterThanOrEqual(3);
    expectResponsive(probes);
  });

  it("striptags on the issue's string (n = 18) renders in linear time; at n = 24 it fails on the string limit", async () => {
    track();
    const small = await runWhileProbing('bomb_striptags', { n: 18 });
    expect(small.job.job.status).toBe('completed');
    const strip = nodeOf(small.job, 'strip');
    expect(strip.output).toMatchObject({ echoed_params: { length: String(2 ** 19) } });
    expectResponsive(small.probes);

    const big = await runWhileProbing('bomb_striptags', { n: 24 });
    const failedStrip = nodeOf(big.job, 'strip');
    expect(failedStrip.status).toBe('failed');
    expect(failedStrip.error_message).toMatch(/^TEMPLATE_TOO_EXPENSIVE: node "strip" params\.length: /);
    expect(failedStrip.error_message).toMatch(/the limit is 10,000,000 characters/);
    expectResponsive(big.probes);
  });

  it('list doubling in a fan-out source fails the fan-out, naming it and the list limit', async () => {
    track();
    const { job, probes } = await runWhileProbing('bomb_fan_out', { n: 40 });
    expect(job.job.status).toBe('failed');
    const split = nodeOf(job, 'split');
    expect(split.status).toBe('failed');
    expect(split.error_message).toMatch(/^TEMPLATE_TOO_EXPENSIVE: fan-out "split" source: /);
    expect(split.error_message).toMatch(
      /l \+ l would build a list of 1,048,576 elements; the limit is 1,000,000/,
    );
    expect(job.nodes.filter((n) => n.parent_node_id === 'split')).toHaveLength(0);
    expectResponsive(probes);
  });

  it('lists that share their halves (2^60 elements as JSON) fail a conditional on the string limit', async () => {
    track();
    const { job, probes } = await runWhileProbing('bomb_conditional', { n: 60 });
    expect(job.job.status).toBe('failed');
    const route = nodeOf(job, 'route');
    expect(route.error_message).toMatch(/^TEMPLATE_TOO_EXPENSIVE: conditional "route" condition: /);
    expect(route.error_message).toMatch(/the limit is 10,000,000 characters/);
    expectResponsive(probes);
  });
});
