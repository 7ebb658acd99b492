// Issue 20, property: random templates over bounded inputs either render within the budget or fail
// with an error (TEMPLATE_TOO_EXPENSIVE naming its limit when the budget runs out) — never hang,
// never exceed the memory bound. The templates are programs built from the operations that grow
// values (`~`, `+`, `[l, l]`, range, loops nested in loops) and every filter; each renders in a
// render worker whose heap is capped and whose deadline would catch a render the budget missed.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { compilePlan } from '../../dag/compilePlan';
import { TEMPLATE_LIMITS, TemplateBudget, type TemplateLimits } from '../../dag/templateBudget';
import { renderTaskParams } from '../../dag/evaluateNode';
import { WorkflowSchema } from '../../dag/workflowModel';
import { TemplateWorkerPool } from '../../activities/templateWorkerPool';

// Small limits so that a render at its limit takes tens of milliseconds: the property does not depend
// on the size of the limits.
const LIMITS: TemplateLimits = {
  work: 1_000_000,
  memory: 16 * 2 ** 20,
  stringLength: 1_000_000,
  listLength: 50_000,
};
const HEAP_MB = 96; // the memory bound the renders must stay under (6x the memory limit)
const DEADLINE_MS = 15_000; // a render the budget missed would reach it

const STRING_FILTERS = [
  "replace('a', 'bb')",
  "replace('', '-')",
  'upper',
  'title',
  'capitalize',
  'reverse',
  'striptags',
  'striptags(true)',
  'escape',
  'urlencode',
  'urlize',
  'nl2br',
  'trim',
  'indent(3)',
  'center(300)',
  'truncate(20)',
  'list | join',
  'string',
];
const LIST_FILTERS = [
  'sort',
  'reverse',
  "select('odd')",
  'batch(3)',
  'slice(4)',
  "join('<a')",
  'dump',
  'dump(2)',
  'string',
  'length',
  'sum',
  'first',
  'list',
];

const strExpr: fc.Arbitrary<string> = fc.constantFrom(
  's ~ s',
  's ~ inputs.s',
  's ~ "<!--"',
  's ~ " \\n"',
  's ~ l',
  ...STRING_FILTERS.map((f) => `s | ${f}`),
  ...LIST_FILTERS.filter((f) => ['join', 'dump', 'string'].some((k) => f.startsWith(k))).map(
    (f) => `l | ${f}`,
  ),
);
const listExpr: fc.Arbitrary<string> = fc.constantFrom(
  'l + l',
  '[l, l]',
  '[l, s]',
  'range(inputs.n * 100)',
  'l + range(inputs.n)',
  's | list',
  "l | select('odd')",
  'l | sort',
  'l | reverse',
  'l | batch(2)',
  '[l] + [l]',
);
const numExpr = fc.constantFrom(
  'inputs.n',
  'l | length',
  's | length',
  's | wordcount',
  'n * 2 + 1',
  'l == l',
  "'a' in s",
);

/** A random program: sets, outputs and loops (nested up to three deep) over s, l and n. */
const program: fc.Arbitrary<string> = fc.letrec((tie) => ({
  stmt: fc.oneof(
    { weight: 4, arbitrary: strExpr.map((e) => `{% set s = ${e} %}`) },
    { weight: 3, arbitrary: listExpr.map((e) => `{% set l = ${e} %}`) },
    { weight: 1, arbitrary: numExpr.map((e) => `{% set n = ${e} %}`) },
    { weight: 2, arbitrary: fc.oneof(strExpr, listExpr, numExpr).map((e) => `{{ ${e} }}`) },
    { weight: 1, arbitrary: fc.constantFrom('x', '<b>', '\n') },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.constantFrom('s = s ~ s', 'l = l + l', 'l = [l, l]', 's = s ~ l'), tie('body'))
        .map(
          ([grow, body]) => `{% for it in range(inputs.n) %}{% set ${grow} %}${body as string}{% endfor %}`,
        ),
    },
    {
      weight: 3,
      arbitrary: fc
        .tuple(fc.constantFrom('inputs.n', 'n', '3', 'l', 's', '[1, 2]'), tie('body'))
        .map(
          ([seq, body]) =>
            `{% for it in (range(${seq}) if ${seq} is number else ${seq}) %}${body as string}{% endfor %}`,
        ),
    },
  ),
  body: fc.array(tie('stmt'), { minLength: 1, maxLength: 5 }).map((xs) => (xs as string[]).join('')),
})).body as fc.Arbitrary<string>;

const template = program.map(
  (body) => `{% set s = inputs.s %}{% set l = inputs.l %}{% set n = inputs.n %}${body}`,
);
const inputs = fc.record({
  n: fc.integer({ min: 0, max: 30 }),
  s: fc.string({ unit: fc.constantFrom(...'ab <>!-\n_é'), maxLength: 30 }),
  l: fc.array(fc.integer({ min: 0, max: 9 }), { maxLength: 10 }),
});

function planFor(t: string) {
  return compilePlan(
    WorkflowSchema.parse({
      workflow_id: 'fuzz',
      name: 'fuzz',
      nodes: {
        start: { type: 'start', next: 't' },
        t: { type: 'task', handler: 'echo', params: { v: t }, next: 'end' },
        end: { type: 'end' },
      },
    }),
  );
}

const workers = new TemplateWorkerPool({ size: 2, deadlineMs: DEADLINE_MS, heapMb: HEAP_MB });
afterAll(() => workers.close());

describe('random templates over bounded inputs', () => {
  it('render within the budget or fail with an error; never hang, never pass the heap bound', async () => {
    const outcomes = { ok: 0, tooExpensive: 0, otherError: 0 };
    const limitsSeen = new Set<string>();
    let slowestMs = 0;
    await fc.assert(
      fc.asyncProperty(template, inputs, async (t, inp) => {
        const plan = planFor(t);
        const ctx = { inputs: inp, nodes: {} };
        const t0 = performance.now();
        const r = await workers.run({ plan, kind: 'task_params', nodeId: 't', ctx, limits: LIMITS });
        slowestMs = Math.max(slowestMs, performance.now() - t0);
        if (r.ok) {
          outcomes.ok++;
          return;
        }
        // Never the worker's backstops: the budget stopped everything first.
        expect(r.error, t).not.toMatch(/rendering took longer|MB of heap/);
        if (r.error.startsWith('TEMPLATE_TOO_EXPENSIVE: ')) {
          outcomes.tooExpensive++;
          // The same node in this thread fails the same way, on a known limit.
          const b = new TemplateBudget(LIMITS);
          expect(renderTaskParams(plan, 't', ctx, b)).toEqual(r);
          expect(['work', 'memory', 'string', 'list']).toContain(b.exceeded);
          limitsSeen.add(b.exceeded!);
          expect(r.error).toMatch(/limit/);
        } else {
          outcomes.otherError++;
          expect(r.error, t).toMatch(/^Template error in node "t" params\.v: /);
        }
      }),
      { numRuns: 300, seed: 2020 },
    );
    expect(workers.stats.timeouts).toBe(0);
    expect(workers.stats.outOfMemory).toBe(0);
    // The generator reaches both outcomes and several limits (the property is not vacuous).
    expect(outcomes.ok).toBeGreaterThan(30);
    expect(outcomes.tooExpensive).toBeGreaterThan(30);
    expect(limitsSeen.size).toBeGreaterThanOrEqual(3);
    // Generous: a render at these limits takes tens of milliseconds.
    expect(slowestMs).toBeLessThan(DEADLINE_MS);
  });

  it('the default limits are the documented ones', () => {
    expect(TEMPLATE_LIMITS).toEqual({
      work: 50_000_000,
      memory: 256 * 2 ** 20,
      stringLength: 10_000_000,
      listLength: 1_000_000,
    });
  });
});
