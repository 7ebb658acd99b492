// Property tests: native passthrough of any JSON value, and a fuzz of random and mutated templates that
// must always come back as { ok: true } or { ok: false, error } — never an exception, never a hang.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkCondition, evaluateCondition } from '../../dag/evaluateCondition';
import { collectTemplates, inspectTemplate } from '../../dag/inspectTemplate';
import { renderString, renderValue } from '../../dag/renderTemplate';
import { type TemplateContext, type TemplateResult } from '../../dag/templateTypes';

describe('native passthrough property', () => {
  it('renderString("{{ inputs.v }}") returns exactly v for any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const r = renderString('{{ inputs.v }}', { inputs: { v }, nodes: {} });
        expect(r).toEqual({ ok: true, value: v });
        if (r.ok) {
          expect(typeof r.value).toBe(typeof v);
          expect(Array.isArray(r.value)).toBe(Array.isArray(v));
          expect(Object.is(r.value, v)).toBe(true);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('item, item.key and node outputs pass through natively too', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), fc.nat(), (a, b, index) => {
        const ctx: TemplateContext = {
          inputs: {},
          nodes: { n: { output: { x: a }, status: 'completed' } },
          item: { key: b },
          index,
        };
        const r = renderValue(
          { a: '{{ nodes.n.output.x }}', b: ' {{ item.key }} ', i: '{{ index }}', whole: '{{item}}' },
          ctx,
          'params',
        );
        expect(r).toEqual({ ok: true, value: { a, b, i: index, whole: { key: b } } });
      }),
      { numRuns: 500 },
    );
  });

  it('a string in mixed text is written unchanged, and is never rendered again', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        expect(renderString('<{{ inputs.s }}>', { inputs: { s }, nodes: {} })).toEqual({
          ok: true,
          value: `<${s}>`,
        });
      }),
      { numRuns: 500 },
    );
  });

  it('renderValue returns data without templates as the very same object', () => {
    const noTemplates = fc.jsonValue().filter((v) => collectTemplates(v).length === 0);
    fc.assert(
      fc.property(noTemplates, (v) => {
        const r = renderValue(v, { inputs: {}, nodes: {} });
        expect(r.ok && Object.is(r.value, v)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});

// ---------------------------------------------------------------------------------------------------------
// Fuzz

const SEEDS = [
  '{{ inputs.n }}',
  'pre-{{ inputs.s | upper }}-post',
  "{{ inputs.x | default('', true) }}",
  '{{ nodes.v.output.count * 2 }}',
  '{{ nodes.v.output.list[0] }}',
  '{{ item.key }}_{{ index }}',
  '{% for x in inputs.lst %}{{ loop.index }}:{{ x }}{% if not loop.last %},{% endif %}{% endfor %}',
  '{% if inputs.n > 3 %}big{% elif inputs.n %}small{% else %}none{% endif %}',
  '{% set t = 0 %}{% for i in range(5) %}{% set t = t + i %}{% endfor %}{{ t }}',
  "{{ [1, 2, 3] | sort(true) | join(',') }}",
  '{{ {"a": inputs.n, "b": [inputs.s, none]} }}',
  '{{ inputs.d.a if inputs.d is defined else "-" }}',
  '{{ "x" ~ inputs.n ~ (inputs.lst | length) }}',
  '{% raw %}{{ x }}{% endraw %}',
  '{{- inputs.s -}} {# note #}',
  '{% filter upper %}{{ inputs.s }}{% endfilter %}',
  '{{ range.constructor.constructor("return process")() }}',
  '{% switch inputs.n %}{% case 5 %}five{% default %}other{% endswitch %}',
  '{{ inputs.lst | batch(2) | first }}',
  "{{ 'a,b' | replace(',', ';') | truncate(3) }}",
];

const ATOMS = [
  '{{',
  '}}',
  '{%',
  '%}',
  '{#',
  '#}',
  '{{-',
  '-}}',
  '{%-',
  '-%}',
  '|',
  '(',
  ')',
  '[',
  ']',
  '{',
  '}',
  '.',
  ',',
  ':',
  '"',
  "'",
  '~',
  '+',
  '-',
  '*',
  '/',
  '//',
  '%',
  '**',
  '==',
  '!=',
  '<',
  '>',
  '<=',
  '>=',
  '=',
  ' ',
  '  ',
  '\n',
  '0',
  '1',
  '2.5',
  '-1',
  'inputs',
  'nodes',
  'item',
  'index',
  'loop',
  'x',
  'n',
  's',
  'lst',
  'v',
  'output',
  'count',
  'in',
  'not',
  'and',
  'or',
  'is',
  'if',
  'else',
  'elif',
  'endif',
  'for',
  'endfor',
  'set',
  'endset',
  'raw',
  'endraw',
  'filter',
  'endfilter',
  'macro',
  'include',
  'true',
  'false',
  'none',
  'None',
  'range',
  'joiner',
  'upper',
  'default',
  'length',
  'join',
  'sort',
  'constructor',
  '__proto__',
  'process',
  'r/',
  'defined',
  'switch',
  'case',
  'endswitch',
];

/** Small deterministic PRNG (mulberry32) so the fuzz is reproducible. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mutate(s: string, rnd: () => number): string {
  let out = s;
  const n = 1 + Math.floor(rnd() * 4);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(rnd() * (out.length + 1));
    const kind = Math.floor(rnd() * 5);
    const atom = ATOMS[Math.floor(rnd() * ATOMS.length)] ?? '';
    if (kind === 0) out = out.slice(0, at) + atom + out.slice(at);
    else if (kind === 1) out = out.slice(0, at) + out.slice(at + 1 + Math.floor(rnd() * 4));
    else if (kind === 2) out = out.slice(0, at) + atom + out.slice(at + atom.length);
    else if (kind === 3) {
      const from = Math.floor(rnd() * out.length);
      out = out.slice(0, at) + out.slice(from, from + Math.floor(rnd() * 8)) + out.slice(at);
    } else out = out.slice(0, at) + String.fromCharCode(Math.floor(rnd() * 0x250)) + out.slice(at);
  }
  return out;
}

const fuzzCtx: TemplateContext = {
  inputs: { n: 5, s: 'str', x: null, lst: [3, 1, 2], d: { a: 1 } },
  nodes: { v: { output: { count: 3, list: ['a'] }, status: 'completed' } },
  item: { key: 'k' },
  index: 2,
};

function checkResult(r: TemplateResult<unknown>, input: string): void {
  if (r.ok) return;
  expect(typeof r.error.message, input).toBe('string');
  expect(r.error.message.length, input).toBeGreaterThan(0);
  expect(
    [
      'TEMPLATE_SYNTAX',
      'TEMPLATE_UNDEFINED',
      'TEMPLATE_FORBIDDEN',
      'TEMPLATE_RUNTIME',
      'TEMPLATE_TOO_EXPENSIVE',
    ],
    input,
  ).toContain(r.error.code);
}

function exercise(t: string): number {
  const t0 = performance.now();
  let r: TemplateResult<unknown> | undefined;
  expect(() => (r = renderString(t, fuzzCtx)), t).not.toThrow();
  checkResult(r!, t);
  expect(() => (r = renderValue({ a: [t] }, fuzzCtx, 'params')), t).not.toThrow();
  checkResult(r!, t);
  expect(() => inspectTemplate(t), t).not.toThrow();
  for (const e of inspectTemplate(t).errors) expect(e.message.length).toBeGreaterThan(0);
  let c: TemplateResult<boolean> | undefined;
  expect(() => (c = evaluateCondition(t, 5, { count: 1 })), t).not.toThrow();
  checkResult(c!, t);
  expect(() => checkCondition(t), t).not.toThrow();
  return performance.now() - t0;
}

describe('fuzz: rendering never throws and never hangs', () => {
  it('3,000 mutated templates', () => {
    const rnd = prng(20240611);
    let slowest = 0;
    for (let i = 0; i < 3000; i++) {
      const seed = SEEDS[i % SEEDS.length] ?? '';
      slowest = Math.max(slowest, exercise(mutate(seed, rnd)));
    }
    expect(slowest).toBeLessThan(2000);
  });

  it('2,500 random token soups', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...ATOMS), { maxLength: 30 }), (atoms) => {
        const t = atoms.join('');
        expect(exercise(t)).toBeLessThan(2000);
      }),
      { numRuns: 2500, seed: 42 },
    );
  });

  it('1,000 arbitrary unicode strings wrapped in a tag', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (s) => {
        exercise(`{{ ${s} }}`);
        exercise(`{% ${s} %}`);
      }),
      { numRuns: 1000, seed: 7 },
    );
  });
});
