import { describe, expect, it } from 'vitest';
import { collectTemplates, inspectTemplate, isTemplateString } from '../../dag/inspectTemplate';

describe('isTemplateString', () => {
  it.each([
    ['{{ x }}', true],
    ['a {% if x %}b{% endif %}', true],
    ['pre-{{inputs.n}}', true],
    ['plain', false],
    ['{ "json": 1 }', false],
    ['{# comment #}', false],
    ['', false],
  ])('%j → %s', (s, expected) => {
    expect(isTemplateString(s)).toBe(expected);
  });
});

describe('inspectTemplate references', () => {
  it('gives the static path of each reference', () => {
    expect(inspectTemplate('{{ nodes.prepare.output.echoed_params.item_list }}')).toEqual({
      errors: [],
      references: [
        { root: 'nodes', path: ['prepare', 'output', 'echoed_params', 'item_list'], dynamic: false },
      ],
    });
    expect(
      inspectTemplate('{{ inputs.n }} and {{ inputs["odd key"] }} {{ inputs.lst[0] }}').references,
    ).toEqual([
      { root: 'inputs', path: ['n'], dynamic: false },
      { root: 'inputs', path: ['odd key'], dynamic: false },
      { root: 'inputs', path: ['lst', '0'], dynamic: false },
    ]);
  });

  it('marks computed keys as dynamic and keeps the static prefix', () => {
    expect(inspectTemplate('{{ nodes.a.output[index].name }}').references).toEqual([
      { root: 'nodes', path: ['a', 'output'], dynamic: true },
      { root: 'index', path: [], dynamic: false },
    ]);
    expect(inspectTemplate('{{ inputs[item.k] }}').references).toEqual([
      { root: 'inputs', path: [], dynamic: true },
      { root: 'item', path: ['k'], dynamic: false },
    ]);
  });

  it('finds references everywhere: filters, arguments, statements, conditions', () => {
    const t =
      '{% for x in nodes.list.output.items %}{{ x.name | default(inputs.dflt) }}{% endfor %}' +
      '{% if nodes.chk.status == "completed" %}{{ item }}{% endif %}{% set y = index %}';
    expect(inspectTemplate(t)).toEqual({
      errors: [],
      references: [
        { root: 'nodes', path: ['list', 'output', 'items'], dynamic: false },
        { root: 'inputs', path: ['dflt'], dynamic: false },
        { root: 'nodes', path: ['chk', 'status'], dynamic: false },
        { root: 'item', path: [], dynamic: false },
        { root: 'index', path: [], dynamic: false },
      ],
    });
  });

  it('de-duplicates and ignores loop/set variables (even when they shadow a root)', () => {
    expect(inspectTemplate('{{ inputs.a }}{{ inputs.a }}').references).toHaveLength(1);
    const r = inspectTemplate(
      '{% for item in inputs.list %}{{ item.x }}{{ loop.index }}{% endfor %}{% set z = 1 %}{{ z }}',
    );
    expect(r).toEqual({ errors: [], references: [{ root: 'inputs', path: ['list'], dynamic: false }] });
  });

  it('a non-template string has no references and no errors', () => {
    expect(inspectTemplate('inputs.n')).toEqual({ errors: [], references: [] });
  });
});

describe('inspectTemplate errors', () => {
  it('syntax errors', () => {
    const { errors } = inspectTemplate('{{ inputs.x | }}');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({
      code: 'TEMPLATE_SYNTAX',
      template: '{{ inputs.x | }}',
      line: 1,
      column: 15,
    });
  });

  it('unknown variables, with the names that exist', () => {
    const { errors } = inspectTemplate('{{ input.n }} {{ nodez.a }}');
    expect(errors.map((e) => e.code)).toEqual(['TEMPLATE_UNDEFINED', 'TEMPLATE_UNDEFINED']);
    expect(errors[0]!.message).toContain('unknown variable "input"');
    expect(errors[0]!.message).toContain('Did you mean "inputs"?');
    expect(errors[0]!.message).toContain('Templates can use inputs');
    expect(errors[1]!.message).toContain('Did you mean "nodes"?');
    expect(errors[1]!.column).toBe(18);
  });

  it('loop variables are unknown outside their loop', () => {
    const { errors } = inspectTemplate('{% for x in inputs.l %}{% endfor %}{{ x }}{{ loop.index }}');
    expect(errors.map((e) => e.message)).toEqual([
      expect.stringContaining('unknown variable "x"'),
      expect.stringContaining('unknown variable "loop"'),
    ]);
  });

  it('constants and functions are known', () => {
    expect(
      inspectTemplate(
        '{{ True }}{{ False }}{{ None }}{{ true }}{{ none }}{{ range(3) }}{% set j = joiner() %}{{ j() }}',
      ).errors,
    ).toEqual([]);
  });

  it.each([
    ['{{ inputs.constructor }}', 'constructor'],
    ['{{ inputs.__proto__ }}', '__proto__'],
    ['{{ inputs["prototype"] }}', 'prototype'],
    ['{{ inputs.x.__defineGetter__ }}', '__defineGetter__'],
    ['{{ process.env }}', 'process'],
    ['{{ require("fs") }}', 'require'],
    ['{{ global }}', 'global'],
    ['{{ globalThis }}', 'globalThis'],
    ['{{ this }}', 'this'],
    ['{% include "x.html" %}', 'include'],
    ['{% import "x" as y %}', 'import'],
    ['{% from "x" import y %}', 'from'],
    ['{% extends "base" %}', 'extends'],
    ['{% block b %}{% endblock %}', 'block'],
    ['{% macro m(a) %}{{ a }}{% endmacro %}', 'macro'],
    ['{% call m() %}x{% endcall %}', 'call'],
    ['{{ [1, 2] | random }}', 'random'],
    ['{{ inputs.s | replace(r/a+/g, "b") }}', 'regular expression'],
    ['{{ inputs.s.upper() }}', 'method'],
    ['{{ inputs.items() }}', 'method'],
    ['{% set constructor = 1 %}', 'constructor'],
    ['{% for __proto__ in inputs.l %}{% endfor %}', '__proto__'],
    ['{{ {"__proto__": 1} }}', '__proto__'],
  ])('%s is TEMPLATE_FORBIDDEN', (t, fragment) => {
    const { errors } = inspectTemplate(t);
    expect(errors.length, t).toBeGreaterThan(0);
    expect(errors[0]!.code, errors[0]!.message).toBe('TEMPLATE_FORBIDDEN');
    expect(errors[0]!.message).toContain(fragment);
  });

  it('unknown tests and bad keyword arguments', () => {
    expect(inspectTemplate('{{ inputs.n is nmber }}').errors[0]!.message).toContain('Did you mean "number"?');
    expect(inspectTemplate('{{ inputs.n | round(precisio=2) }}').errors[0]!.message).toContain(
      'no argument named "precisio"',
    );
  });

  it('returns copies: mutating a result does not affect later calls', () => {
    const t = '{{ inputs.x | }} {{ nodes.a.output }}';
    const first = inspectTemplate(t);
    first.errors[0]!.message = 'changed';
    const again = inspectTemplate(t);
    expect(again.errors[0]!.message).not.toBe('changed');
  });
});

describe('collectTemplates', () => {
  it('finds every template string with its path', () => {
    const params = {
      a: '{{ inputs.x }}',
      b: [1, 'plain', '{% if x %}y{% endif %}', { c: 'pre {{ item }}' }],
      'd.e': { '': '{{ index }}' },
      f: null,
      g: 5,
    };
    expect(collectTemplates(params)).toEqual([
      { path: 'a', template: '{{ inputs.x }}' },
      { path: 'b[2]', template: '{% if x %}y{% endif %}' },
      { path: 'b[3].c', template: 'pre {{ item }}' },
      { path: '["d.e"][""]', template: '{{ index }}' },
    ]);
    expect(collectTemplates(params, 'params')[0]).toEqual({ path: 'params.a', template: '{{ inputs.x }}' });
  });

  it('root strings and non-templates', () => {
    expect(collectTemplates('{{ x }}')).toEqual([{ path: '', template: '{{ x }}' }]);
    expect(collectTemplates('{{ x }}', 'source')).toEqual([{ path: 'source', template: '{{ x }}' }]);
    expect(collectTemplates({ a: 'no', b: [1, true, null] })).toEqual([]);
  });
});
