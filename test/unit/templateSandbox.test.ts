// Known template-injection / sandbox-escape payloads (public nunjucks and Jinja SSTI reports and their
// variations) must never reach the JS runtime: no function, no function source, no `process`, no
// environment value, no side effect, no prototype pollution, and never an exception.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateCondition, checkCondition } from '../../dag/evaluateCondition';
import { inspectTemplate } from '../../dag/inspectTemplate';
import { renderString, renderValue } from '../../dag/renderTemplate';
import { type TemplateContext } from '../../dag/templateTypes';

const SECRET = 'tpl-sandbox-secret-4f1c';

const ctx: TemplateContext = {
  inputs: {
    k: 'constructor',
    p: '__proto__',
    c2: 'constructor.constructor',
    d: { a: 1 },
    s: 'str',
    lst: [1, 2],
    code: 'return process',
  },
  nodes: { n: { output: { v: 1 }, status: 'completed' } },
  item: { a: 1 },
  index: 0,
};

const PAYLOADS = [
  // nunjucks classics
  `{{ range.constructor("return global.process.mainModule.require('child_process').execSync('id')")() }}`,
  '{{ range.constructor.constructor("return process")() }}',
  '{{ range.constructor("return process")() }}',
  '{{ range.constructor("return process.env")() }}',
  '{{ cycler.constructor("return process")() }}',
  '{{ joiner.constructor("return process")() }}',
  '{{ joiner().constructor("return process")() }}',
  `{{ ''.constructor.constructor('return this')() }}`,
  '{{ "x".constructor.constructor("return process")() }}',
  '{{ [].constructor.constructor("return process")() }}',
  '{{ (1).constructor.constructor("return process")() }}',
  '{{ {}.constructor.constructor("return process")() }}',
  '{{ "x"["constructor"]["constructor"]("return process")() }}',
  '{{ range["constructor"]["constructor"]("return process")() }}',
  '{{ range[inputs.k][inputs.k](inputs.code)() }}',
  '{% set c = "constructor" %}{{ range[c][c]("return process")() }}',
  '{% set c = "constru" ~ "ctor" %}{{ range[c] }}{{ inputs.s[c] }}{{ inputs.d[c] }}',
  '{% set f = range.constructor %}{{ f("return process")() }}',
  '{% set f = range %}{{ f.constructor }}',
  '{% set x = range.constructor.constructor("globalThis.__tplPwned = 1")() %}',
  '{{ range(1).constructor }}',
  '{{ (range(1) | first).constructor.constructor }}',
  '{{ inputs.lst.length.constructor }}',
  '{{ inputs.lst.push(3) }}',
  '{{ inputs.s.toString() }}',
  '{{ inputs.valueOf() }}',
  '{{ inputs.d.hasOwnProperty("a") }}',
  '{{ inputs.__proto__ }}',
  '{{ inputs["__proto__"] }}',
  '{{ inputs[inputs.p] }}',
  '{{ inputs[inputs.k] }}',
  '{{ inputs.d[inputs.k] }}',
  '{{ inputs.d[inputs.k][inputs.k] }}',
  '{{ inputs.s[inputs.k] }}',
  '{{ inputs.lst[inputs.k] }}',
  '{{ item[inputs.k] }}',
  '{{ nodes[inputs.k] }}',
  '{{ nodes.n.output[inputs.p] }}',
  '{{ inputs.d.__defineGetter__ }}',
  '{{ inputs.d.__lookupGetter__("a") }}',
  '{{ inputs.prototype }}',
  // names that are not there
  '{{ process }}',
  '{{ process.env }}',
  `{{ process.mainModule.require('child_process').execSync('id') }}`,
  '{{ require("child_process") }}',
  '{{ global.process }}',
  '{{ globalThis.process }}',
  '{{ this }}',
  '{{ this.constructor }}',
  '{{ self }}',
  '{{ module.exports }}',
  '{{ Function("return process")() }}',
  '{{ eval("process") }}',
  '{{ constructor }}',
  '{{ __proto__ }}',
  // Jinja / Python payloads
  '{{ lipsum.__globals__ }}',
  '{{ config.items() }}',
  '{{ request.application.__globals__ }}',
  "{{ ''.__class__.__mro__[1].__subclasses__() }}",
  "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
  '{{ self.__init__.__globals__ }}',
  '{{ inputs.__class__ }}',
  '{{ inputs.items() }}',
  "{{ inputs|attr('constructor') }}",
  // filters as gadgets
  "{{ [1] | sum('constructor') }}",
  "{{ [inputs.d] | sum('constructor') }}",
  "{{ [inputs.d] | join(',', 'constructor') }}",
  "{{ [inputs.d, inputs.d] | sort(attribute='constructor') }}",
  "{{ [inputs.d, inputs.d] | sort(attribute='constructor.constructor') }}",
  "{{ [inputs.d] | groupby('constructor') }}",
  "{{ [inputs.d] | groupby('constructor.name') }}",
  "{{ [inputs.d] | selectattr('constructor') }}",
  "{{ [inputs.d] | rejectattr('__proto__') }}",
  "{{ [inputs.d] | selectattr('constructor', 'callable') }}",
  "{{ [inputs.d] | map(attribute='constructor') }}",
  "{{ [range] | select('callable') }}",
  "{{ [1] | select('constructor') }}",
  '{{ inputs.d | dictsort }}',
  '{{ inputs.d | list }}',
  '{{ range | list }}',
  '{{ range | string }}',
  '{{ range | dump }}',
  '{{ range | length }}',
  '{{ range ~ "" }}',
  '{{ range }}',
  '{{ joiner() }}',
  '{{ [range] }}',
  '{{ {"f": range} }}',
  '{{ range if true }}',
  '{% for k, v in range %}{{ k }}{{ v }}{% endfor %}',
  '{% for x in [1] %}{{ loop.constructor }}{{ loop["constructor"] }}{% endfor %}',
  '{{ [1, 2] | random }}',
  '{{ inputs.s | replace(r/s/, "x") }}',
  '{{ r/x/.constructor }}',
  // prototype pollution
  '{{ {"__proto__": {"tplPolluted": 1}} }}',
  '{% set x = {"constructor": {"prototype": {"tplPolluted": 1}}} %}',
  '{% set inputs.d.tplPolluted = 1 %}',
  "{{ [{'k': '__proto__'}] | groupby('k') }}",
  // loaders, macros, inheritance
  '{% include "/etc/passwd" %}',
  '{% import "/etc/passwd" as p %}',
  '{% from "/etc/passwd" import x %}',
  '{% extends "/etc/passwd" %}',
  '{% macro m() %}{{ process }}{% endmacro %}{{ m() }}',
  '{% call range() %}x{% endcall %}',
  '{% block b %}{{ super() }}{% endblock %}',
  '{% asyncEach x in range.constructor("return process")() %}{% endeach %}',
];

function isJsonValue(v: unknown, depth = 0): boolean {
  if (depth > 50) return false;
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return true;
  if (typeof v === 'number') return Number.isFinite(v);
  if (Array.isArray(v)) return v.every((x) => isJsonValue(x, depth + 1));
  if (typeof v === 'object') {
    const proto = Object.getPrototypeOf(v) as unknown;
    if (proto !== Object.prototype && proto !== null) return false;
    return Object.values(v as Record<string, unknown>).every((x) => isJsonValue(x, depth + 1));
  }
  return false;
}

const LEAK = /function|native code|\[object|process|mainModule|require|uid=|globalThis/i;

describe('sandbox: escape payloads cannot reach the runtime', () => {
  beforeAll(() => {
    process.env.TPL_SANDBOX_SECRET = SECRET;
  });
  afterAll(() => {
    delete process.env.TPL_SANDBOX_SECRET;
  });

  it.each(PAYLOADS)('%s', (payload) => {
    for (const run of [
      () => renderString(payload, ctx),
      () => renderValue({ p: payload, list: [payload] }, ctx, 'params'),
      () => renderString(`prefix ${payload} suffix`, ctx),
    ]) {
      let r: ReturnType<typeof renderString> | undefined;
      expect(() => (r = run())).not.toThrow();
      if (r === undefined) throw new Error('no result');
      if (r.ok) {
        expect(isJsonValue(r.value), `${payload} returned a non-JSON value`).toBe(true);
        const text = JSON.stringify(r.value);
        expect(text).not.toMatch(LEAK);
        expect(text).not.toContain(SECRET);
      } else {
        expect(typeof r.error.message).toBe('string');
        expect(r.error.message.length).toBeGreaterThan(10);
        expect(r.error.message).not.toContain(SECRET);
        expect(r.error.message).not.toMatch(/native code/);
        expect([
          'TEMPLATE_SYNTAX',
          'TEMPLATE_UNDEFINED',
          'TEMPLATE_FORBIDDEN',
          'TEMPLATE_RUNTIME',
          'TEMPLATE_TOO_EXPENSIVE',
        ]).toContain(r.error.code);
      }
    }
    expect(() => inspectTemplate(payload)).not.toThrow();
  });

  it('load-time inspection rejects the escape payloads that name runtime objects', () => {
    const named = PAYLOADS.filter(
      (p) =>
        /constructor|__proto__|prototype|process|require|\bglobal|\bthis\b|Function\(|eval\(|{% (include|import|from|extends|macro|call|block)|random|r\//.test(
          p,
        ) && !/inputs\.k|inputs\.p|inputs\.code|\bc\b = |"constru" ~|groupby\('k'\)/.test(p),
    );
    expect(named.length).toBeGreaterThan(60);
    for (const p of named) {
      const { errors } = inspectTemplate(p);
      expect(errors.length, p).toBeGreaterThan(0);
    }
  });

  it('computed keys naming runtime properties evaluate to undefined (null), not to the runtime', () => {
    expect(renderString('{{ inputs[inputs.k] }}', ctx)).toEqual({ ok: true, value: null });
    expect(renderString('{{ inputs.d[inputs.p] }}', ctx)).toEqual({ ok: true, value: null });
    expect(renderString('{{ inputs.s[inputs.k] }}', ctx)).toEqual({ ok: true, value: null });
    expect(renderString('{% set c = "constru" ~ "ctor" %}[{{ inputs.d[c] }}]', ctx)).toEqual({
      ok: true,
      value: '[]',
    });
    const through = renderString('{{ range[inputs.k][inputs.k] }}', ctx);
    expect(through.ok).toBe(false);
  });

  it('own data properties named like runtime properties are still refused', () => {
    const data = JSON.parse('{"__proto__": {"x": 1}, "constructor": "c", "prototype": "p"}') as Record<
      string,
      unknown
    >;
    const c: TemplateContext = { inputs: { data, k: 'constructor', p: '__proto__' }, nodes: {} };
    expect(renderString('{{ inputs.data[inputs.k] }}', c)).toEqual({ ok: true, value: null });
    expect(renderString('{{ inputs.data[inputs.p] }}', c)).toEqual({ ok: true, value: null });
    expect(renderString('{{ inputs.data }}', c)).toEqual({ ok: true, value: data });
  });

  it('no side effects and no prototype pollution', () => {
    expect((globalThis as Record<string, unknown>).__tplPwned).toBeUndefined();
    expect(({} as Record<string, unknown>).tplPolluted).toBeUndefined();
    expect((Object.prototype as Record<string, unknown>).tplPolluted).toBeUndefined();
    expect(ctx.inputs.d).toEqual({ a: 1 });
  });

  it('conditions are sandboxed too', () => {
    for (const c of [
      'value.constructor.constructor("return process")()',
      '== range.constructor',
      'process.env',
      'in output[value]',
      'output.__proto__',
      '== output.constructor',
    ]) {
      expect(() => evaluateCondition(c, 'constructor', { a: 1 })).not.toThrow();
      expect(() => checkCondition(c)).not.toThrow();
      const r = evaluateCondition(c, 'constructor', { a: 1 });
      if (r.ok) expect(typeof r.value).toBe('boolean');
    }
    expect(checkCondition('value.constructor')[0]?.code).toBe('TEMPLATE_FORBIDDEN');
    expect(evaluateCondition('in output[value]', 'constructor', { a: 1 }).ok).toBe(false);
  });
});
