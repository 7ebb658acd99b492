// Issue 20: every template bomb fails fast with TEMPLATE_TOO_EXPENSIVE, naming the expression and the
// limit; the limits are per node and deterministic; the memory a bomb really uses stays bounded (each
// runs in a render worker whose heap is capped, and none reaches the cap); the worker's deadline and
// heap limit are a working backstop.
import { afterAll, describe, expect, it } from 'vitest';
import { compilePlan, type Plan } from '../../dag/compilePlan';
import { evaluateNodeTemplates, expandFanOutParams, renderTaskParams } from '../../dag/evaluateNode';
import { renderString } from '../../dag/renderTemplate';
import { TEMPLATE_LIMITS, TemplateBudget } from '../../dag/templateBudget';
import type { TemplateContext, TemplateLimitName } from '../../dag/templateTypes';
import { WorkflowSchema } from '../../dag/workflowModel';
import { renderNodeTemplates } from '../../activities/renderNodeTemplates';
import { TemplateWorkerPool } from '../../activities/templateWorkerPool';

/** [[[1, 1], [1, 1]], ...]: 2^n leaves in n small lists. */
function sharedHalves(n: number): unknown {
  let l: unknown = [1];
  for (let i = 0; i < n; i++) l = [l, l];
  return l;
}

const doubled = (seed: string, n: string | number) =>
  `{% set s = ${JSON.stringify(seed)} %}{% for i in range(${n}) %}{% set s = s ~ s %}{% endfor %}`;

interface Bomb {
  name: string;
  template: string;
  inputs: Record<string, unknown>;
  limit: TemplateLimitName;
  /** The expression the message names. */
  names: string;
}

const BOMBS: Bomb[] = [
  {
    name: "the issue's replace bomb (n = 20)",
    template: `${doubled('ab', 22)}{% for i in range(inputs.n) %}{% set t = s | replace('a', 'b') %}{% endfor %}done`,
    inputs: { n: 20 },
    limit: 'work',
    names: "s | replace('a', 'b')",
  },
  {
    name: "the issue's striptags bomb, with a string past the limit (n = 24)",
    template: `${doubled('<a', 'inputs.n')}{{ s | striptags | length }}`,
    inputs: { n: 24 },
    limit: 'string',
    names: 's ~ s',
  },
  {
    name: 'list doubling',
    template:
      '{% set l = [1] %}{% for i in range(inputs.n) %}{% set l = l + l %}{% endfor %}{{ l | length }}',
    inputs: { n: 40 },
    limit: 'list',
    names: 'l + l',
  },
  {
    name: 'lists sharing their halves, written out (2^60 elements)',
    template: '{% set l = [1] %}{% for i in range(inputs.n) %}{% set l = [l, l] %}{% endfor %}x{{ l }}',
    inputs: { n: 60 },
    limit: 'string',
    names: '{{ l }}',
  },
  {
    name: 'data sharing its halves, as the rendered value (measured, never expanded)',
    template: '{{ inputs.l }}',
    inputs: { l: sharedHalves(60) },
    limit: 'memory',
    names: 'The rendered value',
  },
  {
    name: 'lists sharing their halves, compared',
    template:
      '{% set a = [1] %}{% set b = [1] %}{% for i in range(60) %}{% set a = [a, a] %}{% set b = [b, b] %}{% endfor %}{{ a == b }}',
    inputs: {},
    limit: 'work',
    names: 'a == b',
  },
  {
    name: 'lists sharing their halves, joined',
    template:
      '{% set l = ["x"] %}{% for i in range(60) %}{% set l = [l, l] %}{% endfor %}{{ l | join(",") }}',
    inputs: {},
    limit: 'string',
    names: 'l | join',
  },
  {
    name: 'nested range loops',
    template:
      '{% for a in range(inputs.n) %}{% for b in range(inputs.n) %}{% for c in range(inputs.n) %}{% endfor %}{% endfor %}{% endfor %}x',
    inputs: { n: 100_000 },
    limit: 'work',
    names: '{% for ... in range(inputs.n) %}',
  },
  {
    name: 'range(huge)',
    template: '{{ range(inputs.n) | length }}',
    inputs: { n: 1e12 },
    limit: 'list',
    names: 'range()',
  },
  {
    name: 'text output in a long loop',
    template: '{% for i in range(1000000) %}abcdefghijklmnopqrstuvwxyz{% endfor %}',
    inputs: {},
    limit: 'string',
    names: 'The template text',
  },
  {
    name: 'striptags on "<!--" runs past the string limit',
    template: `${doubled('<!--', 'inputs.n')}{{ s | striptags | length }}`,
    inputs: { n: 22 },
    limit: 'string',
    names: 's ~ s',
  },
  {
    name: 'striptags on an 8-million-character "<!--" run, in a loop',
    template: `${doubled('<!--', 21)}{% for i in range(inputs.n) %}{% set t = s | striptags %}{% endfor %}`,
    inputs: { n: 100 },
    limit: 'work',
    names: 's | striptags',
  },
  {
    name: 'wordcount on a huge string, in a loop',
    template: `${doubled('a ', 22)}{% for i in range(inputs.n) %}{% set c = s | wordcount %}{% endfor %}`,
    inputs: { n: 100 },
    limit: 'work',
    names: 's | wordcount',
  },
  {
    name: 'truncate on a huge string, in a loop',
    template: `${doubled('a ', 22)}{% for i in range(inputs.n) %}{% set c = s | truncate(8000000) %}{% endfor %}`,
    inputs: { n: 100 },
    limit: 'work',
    names: 's | truncate(8000000)',
  },
  {
    name: 'indent on a huge string',
    template: `${doubled('\n', 'inputs.n')}{{ s | indent(1000) | length }}`,
    inputs: { n: 20 },
    limit: 'string',
    names: 's | indent(1000)',
  },
  {
    name: 'reverse of a huge string, in a loop',
    template: `${doubled('ab', 22)}{% for i in range(inputs.n) %}{% set r = s | reverse %}{% endfor %}`,
    inputs: { n: 100 },
    limit: 'work',
    names: 's | reverse',
  },
  {
    name: 'list of a huge string',
    template: `${doubled('ab', 22)}{{ s | list | length }}`,
    inputs: {},
    limit: 'list',
    names: 's | list',
  },
  {
    name: 'join of a long list of long strings',
    template: `${doubled('ab', 10)}{{ range(10000) | join(s) | length }}`,
    inputs: {},
    limit: 'string',
    names: 'range(10000) | join(s)',
  },
  {
    name: 'escape of a long run of "<"',
    template: `${doubled('<', 22)}{{ s | escape | length }}`,
    inputs: {},
    limit: 'string',
    names: 's | escape',
  },
  {
    name: 'urlencode of a long non-ASCII string',
    template: `${doubled('é€', 21)}{{ s | urlencode | length }}`,
    inputs: {},
    limit: 'string',
    names: 's | urlencode',
  },
  {
    name: 'upper of huge strings, kept in a list',
    template: `${doubled('ab', 22)}{% set l = [] %}{% for i in range(inputs.n) %}{% set l = l + [(s ~ i) | upper] %}{% endfor %}`,
    inputs: { n: 100 },
    limit: 'work',
    names: '(s ~ i) | upper',
  },
  {
    name: 'replace that grows a string past the limit',
    template: `${doubled('xa', 12)}{% set r = 'yyyy' %}{% for i in range(10) %}{% set r = r ~ r %}{% endfor %}{{ s | replace('a', r) | length }}`,
    inputs: {},
    limit: 'string',
    names: "s | replace('a', r)",
  },
  {
    name: 'center to the widest width, many times',
    template:
      '{% set l = [] %}{% for i in range(inputs.n) %}{% set l = l + ["x" | center(10000)] %}{% endfor %}',
    inputs: { n: 100_000 },
    limit: 'work',
    names: "l + ['x' | center(10000)]",
  },
];

const ctxOf = (inputs: Record<string, unknown>): TemplateContext => ({ inputs, nodes: {} });

describe('every bomb fails fast with TEMPLATE_TOO_EXPENSIVE', () => {
  it.each(BOMBS.map((b) => [b.name, b] as const))('%s', (_, bomb) => {
    const budget = new TemplateBudget();
    const t0 = performance.now();
    const r = renderString(bomb.template, ctxOf(bomb.inputs), budget);
    const ms = performance.now() - t0;
    if (r.ok) throw new Error(`rendered: ${JSON.stringify(r.value).slice(0, 100)}`);
    expect(r.error.code).toBe('TEMPLATE_TOO_EXPENSIVE');
    expect(r.error.limit).toBe(bomb.limit);
    expect(budget.exceeded).toBe(bomb.limit);
    expect(r.error.message).toMatch(/^The template is too expensive: /);
    expect(r.error.message).toContain(bomb.names);
    expect(r.error.message).toMatch(/limit/);
    // Charged before it is done: the budget never goes far past its limits.
    expect(budget.work).toBeLessThanOrEqual(TEMPLATE_LIMITS.work * 1.5);
    expect(budget.memory).toBeLessThanOrEqual(TEMPLATE_LIMITS.memory * 1.5);
    // Fast: the work limit is ~1 s of work; generous bound for a loaded machine.
    expect(ms).toBeLessThan(10_000);
  });

  it("'x' * huge is a type error at once (templates have no string repetition)", () => {
    const r = renderString("{{ 'x' * inputs.n }}", ctxOf({ n: 1e12 }));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe('TEMPLATE_RUNTIME');
      expect(r.error.message).toContain('Cannot apply "*" to string "x"');
    }
  });

  it('the issue\'s striptags string (n = 18) and a 4-million-character "<!--" run render, in linear time', () => {
    const a = renderString(`${doubled('<a', 18)}{{ s | striptags | length }}`, ctxOf({}));
    expect(a).toEqual({ ok: true, value: String(2 ** 19) });
    const c = renderString(`${doubled('<!--', 20)}{{ s | striptags | length }}`, ctxOf({}));
    expect(c).toEqual({ ok: true, value: String(2 ** 22) });
  });

  it('the same bomb always fails at the same place, with the same message (deterministic)', () => {
    const bomb = BOMBS[0]!;
    const runs = [0, 1, 2].map(() => {
      const b = new TemplateBudget();
      const r = renderString(bomb.template, ctxOf(bomb.inputs), b);
      return { r, work: b.work, memory: b.memory };
    });
    expect(runs[1]).toEqual(runs[0]);
    expect(runs[2]).toEqual(runs[0]);
  });
});

// ---------------------------------------------------------------------------------------------------------

function planOf(nodes: Record<string, unknown>): Plan {
  return compilePlan(
    WorkflowSchema.parse({
      workflow_id: 'bombs',
      name: 'bombs',
      inputs: { n: { type: 'integer', required: false } },
      nodes: { start: { type: 'start', next: Object.keys(nodes) }, ...nodes, end: { type: 'end' } },
    }),
  );
}

const taskPlan = planOf(
  Object.fromEntries(
    BOMBS.map((b, i) => [
      `b${i}`,
      { type: 'task', handler: 'echo', params: { value: b.template }, next: 'end' },
    ]),
  ),
);

const pools: TemplateWorkerPool[] = [];
function pool(
  options: Partial<ConstructorParameters<typeof TemplateWorkerPool>[0]> = {},
): TemplateWorkerPool {
  const p = new TemplateWorkerPool({ size: 1, deadlineMs: 60_000, heapMb: 256, ...options });
  pools.push(p);
  return p;
}
afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
});

describe('memory stays bounded', () => {
  it('every bomb fails on the budget inside a render worker whose heap is capped at 256 MB', async () => {
    const workers = pool({ heapMb: 256 });
    for (const [i, bomb] of BOMBS.entries()) {
      const r = await workers.run({
        plan: taskPlan,
        kind: 'task_params',
        nodeId: `b${i}`,
        ctx: ctxOf(bomb.inputs),
      });
      expect(r.ok, bomb.name).toBe(false);
      if (!r.ok) {
        expect(r.error, bomb.name).toMatch(
          new RegExp(`^TEMPLATE_TOO_EXPENSIVE: node "b${i}" params\\.value: The template is too expensive`),
        );
        expect(r.error).not.toMatch(/MB of heap/);
      }
    }
    expect(workers.stats.outOfMemory).toBe(0);
    expect(workers.stats.timeouts).toBe(0);
  });

  it('the heap cap is real: a render that keeps ~50 MB alive fails under a 32 MB cap, and the next render works', async () => {
    // Six distinct 8-million-character strings kept in a list: within the budget (sparse replaces).
    const heavy = `${doubled('xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxa', 17)}{% set l = [] %}{% for i in range(6) %}{% set l = l + [s | replace('a', 'b' ~ i)] %}{% endfor %}{{ l | length }}`;
    const plan = planOf({
      heavy: { type: 'task', handler: 'echo', params: { n: heavy }, next: 'end' },
      light: { type: 'task', handler: 'echo', params: { n: '{{ 1 + 1 }}' }, next: 'end' },
    });
    const full = renderTaskParams(plan, 'heavy', ctxOf({}));
    expect(full).toEqual({ ok: true, value: { n: '6' } });
    const workers = pool({ heapMb: 32 });
    const r = await workers.run({ plan, kind: 'task_params', nodeId: 'heavy', ctx: ctxOf({}) });
    expect(r).toEqual({
      ok: false,
      error: expect.stringMatching(
        /^TEMPLATE_TOO_EXPENSIVE: node "heavy" params: rendering needed more than 32 MB of heap, the memory limit of a render\./,
      ) as unknown,
    });
    expect(workers.stats.outOfMemory).toBe(1);
    expect(await workers.run({ plan, kind: 'task_params', nodeId: 'light', ctx: ctxOf({}) })).toEqual({
      ok: true,
      value: { n: 2 },
    });
  });
});

describe('the render worker deadline is a working backstop', () => {
  it('a render past the deadline fails with the time limit; the pool goes on with a new worker', async () => {
    const plan = planOf({
      loops: { type: 'task', handler: 'echo', params: { v: BOMBS[7]!.template }, next: 'end' },
      light: { type: 'task', handler: 'echo', params: { v: '{{ inputs.n }}' }, next: 'end' },
    });
    const workers = pool({ deadlineMs: 50 });
    const r = await workers.run({ plan, kind: 'task_params', nodeId: 'loops', ctx: ctxOf({ n: 100_000 }) });
    expect(r).toEqual({
      ok: false,
      error:
        'TEMPLATE_TOO_EXPENSIVE: node "loops" params: rendering took longer than 50 ms, the time limit of a render. Simplify the template or give it less data.',
    });
    expect(workers.stats.timeouts).toBe(1);
    expect(await workers.run({ plan, kind: 'task_params', nodeId: 'light', ctx: ctxOf({ n: 3 }) })).toEqual({
      ok: true,
      value: { v: 3 },
    });
    expect(workers.stats.started).toBe(2);
  });
});

describe('limits are per node', () => {
  const plan = planOf({
    fan: {
      type: 'fan_out',
      source: '{{ range(inputs.n) }}',
      task: { handler: 'echo', params: { v: '{% for i in range(100) %}{% endfor %}{{ item }}' } },
      next: 'end',
    },
  });
  const small = { ...TEMPLATE_LIMITS, work: 200_000 };

  it("a fan-out's children share its budget: each child is cheap, together they are not", () => {
    expect(expandFanOutParams(plan, 'fan', ctxOf({ n: 10 }), new TemplateBudget(small)).ok).toBe(true);
    const r = expandFanOutParams(plan, 'fan', ctxOf({ n: 1000 }), new TemplateBudget(small));
    expect(r.ok).toBe(false);
    if (!r.ok)
      expect(r.error).toMatch(
        /^TEMPLATE_TOO_EXPENSIVE: fan-out "fan" child \d+ params\.v: .*over 200,000 work units/,
      );
  });

  it('rendered in this thread or in a render worker, a node gets the same result', async () => {
    const workers = pool();
    for (const n of [10, 300, 1000, 5000]) {
      const inThread = evaluateNodeTemplates(plan, 'fan_out', 'fan', ctxOf({ n }), new TemplateBudget(small));
      const viaWorker = await renderNodeTemplates(plan, 'fan_out', 'fan', ctxOf({ n }), {
        workers,
        limits: small,
        inThread: { ...small, work: 5_000 },
      });
      expect(viaWorker).toEqual(inThread);
    }
    expect(workers.stats.renders).toBeGreaterThanOrEqual(3);
  });
});
