import { describe, expect, it } from 'vitest';
import { renderString, renderValue } from '../../dag/renderTemplate';
import { type TemplateContext, type TemplateResult } from '../../dag/templateTypes';

const ctx: TemplateContext = {
  inputs: {
    n: 5,
    d: { a: 1, inner: { k: 'v' } },
    s: 'x',
    x: null,
    opt: null,
    lst: [1, 2],
    name: 'tile',
    flag: true,
    text: 'Hello World',
  },
  nodes: {
    v: { output: { count: 3, list: ['a', 'b'], nested: { deep: 1 }, empty: null }, status: 'completed' },
    skipped: { output: null, status: 'skipped' },
  },
};

function ok(r: TemplateResult<unknown>): unknown {
  if (!r.ok) throw new Error(`expected ok, got ${r.error.code}: ${r.error.message}`);
  return r.value;
}

function err(r: TemplateResult<unknown>) {
  if (r.ok) throw new Error(`expected an error, got ${JSON.stringify(r.value)}`);
  return r.error;
}

const render = (t: string, c: TemplateContext = ctx) => renderString(t, c);

describe('native passthrough (single {{ expr }})', () => {
  it('returns native numbers, objects, arrays, booleans and null', () => {
    expect(ok(render('{{ inputs.n }}'))).toBe(5);
    expect(ok(render(' {{ inputs.d }} '))).toEqual({ a: 1, inner: { k: 'v' } });
    expect(ok(render('\n  {{ inputs.lst }}\t'))).toEqual([1, 2]);
    expect(ok(render('{{ inputs.flag }}'))).toBe(true);
    expect(ok(render('{{ inputs.x }}'))).toBeNull();
    expect(ok(render('{{ nodes.v.output }}'))).toEqual(ctx.nodes.v!.output);
    expect(ok(render('{{ nodes.v.status }}'))).toBe('completed');
  });

  it('evaluates expressions and filters natively', () => {
    expect(ok(render('{{ nodes.v.output.count * 2 }}'))).toBe(6);
    expect(ok(render('{{ inputs.s | upper }}'))).toBe('X');
    expect(ok(render("{{ inputs.x | default('', true) }}"))).toBe('');
    expect(ok(render("{{ inputs.x | default('a', true) }}"))).toBe('a');
    expect(ok(render("{{ inputs.s | default('a', true) }}"))).toBe('x');
    expect(ok(render('{{ inputs.lst | length }}'))).toBe(2);
    expect(ok(render('{{ inputs.lst | first }}'))).toBe(1);
    expect(ok(render('{{ [inputs.n, inputs.s] }}'))).toEqual([5, 'x']);
    expect(ok(render('{{ {"a": inputs.n, b: inputs.lst} }}'))).toEqual({ a: 5, b: [1, 2] });
    expect(ok(render('{{ inputs.n > 3 }}'))).toBe(true);
    expect(ok(render("{{ 'yes' if inputs.flag else 'no' }}"))).toBe('yes');
    expect(ok(render('{{- inputs.n -}}'))).toBe(5);
  });

  it('keeps a string result a string (no number guessing)', () => {
    expect(ok(render('{{ "5" }}'))).toBe('5');
    expect(ok(render('{{ inputs.n ~ "" }}'))).toBe('5');
  });

  it('returns context values by reference (no copy)', () => {
    expect(ok(render('{{ inputs.d }}'))).toBe(ctx.inputs.d);
  });

  it('does not parse strings that are not templates', () => {
    expect(ok(render('plain text'))).toBe('plain text');
    expect(ok(render('{ not a template }'))).toBe('{ not a template }');
    expect(ok(render('{# only a comment #}'))).toBe('{# only a comment #}');
    expect(ok(render(''))).toBe('');
  });
});

describe('mixed text', () => {
  it('renders to a string', () => {
    expect(ok(render('pre-{{ inputs.n }}'))).toBe('pre-5');
    expect(ok(render('{{ inputs.n }}{{ inputs.n }}'))).toBe('55');
    expect(ok(render('{{ inputs.s }} and {{ inputs.flag }}'))).toBe('x and true');
    expect(ok(render('{{ 2.5 }}/{{ 10 }}'))).toBe('2.5/10');
  });

  it('writes lists and objects as compact JSON', () => {
    expect(ok(render('{{ inputs.lst }} x'))).toBe('[1,2] x');
    expect(ok(render('d={{ inputs.d }}'))).toBe('d={"a":1,"inner":{"k":"v"}}');
  });

  it('writes null and undefined as empty text', () => {
    expect(ok(render('[{{ inputs.x }}]'))).toBe('[]');
    expect(ok(render('[{{ inputs.d.missing }}]'))).toBe('[]');
    expect(ok(render('[{{ nodes.v.output.empty }}]'))).toBe('[]');
  });

  it('supports statements', () => {
    expect(ok(render('{% for x in inputs.lst %}{{ x }}{% if not loop.last %},{% endif %}{% endfor %}'))).toBe(
      '1,2',
    );
    expect(ok(render('{% for k, v in inputs.d %}{{ k }};{% endfor %}'))).toBe('a;inner;');
    expect(ok(render('{% for x in [] %}x{% else %}empty{% endfor %}'))).toBe('empty');
    expect(ok(render('{% if inputs.n > 3 %}big{% elif inputs.n > 1 %}mid{% else %}small{% endif %}'))).toBe(
      'big',
    );
    expect(ok(render('{% set y = inputs.n * 2 %}{{ y }}'))).toBe('10');
    expect(ok(render('{% set t = 0 %}{% for x in inputs.lst %}{% set t = t + x %}{% endfor %}{{ t }}'))).toBe(
      '3',
    );
    expect(ok(render('{% set b %}in {{ inputs.s }}{% endset %}[{{ b }}]'))).toBe('[in x]');
    expect(ok(render('{% filter upper %}a{{ inputs.s }}{% endfilter %}'))).toBe('AX');
    expect(
      ok(render('{% switch inputs.s %}{% case "y" %}Y{% case "x" %}X{% default %}?{% endswitch %}')),
    ).toBe('X');
    expect(ok(render('{% raw %}{{ not rendered }}{% endraw %}'))).toBe('{{ not rendered }}');
    expect(ok(render('{% for i in range(3) %}{{ loop.index }}{% endfor %}'))).toBe('123');
    expect(ok(render('{% set j = joiner("+") %}{% for i in range(3) %}{{ j() }}{{ i }}{% endfor %}'))).toBe(
      '0+1+2',
    );
    expect(ok(render('a {#- comment -#} b{{ "" }}'))).toBe('ab');
  });
});

describe('fan-out children: item and index are native (regression: the original coerced them to strings)', () => {
  const child = (item: unknown, index: number): TemplateContext => ({ ...ctx, item, index });

  it('{{ index }} is a number', () => {
    expect(ok(render('{{ index }}', child('a', 0)))).toBe(0);
    expect(ok(render('{{ index }}', child('a', 7)))).toBe(7);
    expect(ok(render('{{ index + 1 }}', child('a', 7)))).toBe(8);
  });

  it('{{ item }} is the native item', () => {
    expect(ok(render('{{ item }}', child({ k: 1, sub: [1, 2] }, 0)))).toEqual({ k: 1, sub: [1, 2] });
    expect(ok(render('{{ item }}', child(3.5, 0)))).toBe(3.5);
    expect(ok(render('{{ item }}', child(null, 0)))).toBeNull();
    expect(ok(render('{{ item }}', child([1, 'a'], 0)))).toEqual([1, 'a']);
  });

  it('{{ item.key }} is any JSON (an object stays an object)', () => {
    const item = { key: { nested: true }, n: 4, list: [1], s: 'str', none: null };
    expect(ok(render('{{ item.key }}', child(item, 0)))).toEqual({ nested: true });
    expect(ok(render('{{ item.n }}', child(item, 0)))).toBe(4);
    expect(ok(render('{{ item.list }}', child(item, 0)))).toEqual([1]);
    expect(ok(render("{{ item['none'] }}", child(item, 0)))).toBeNull();
    expect(ok(render('{{ item.key.nested }}', child(item, 0)))).toBe(true);
  });

  it('spacing does not matter (the original matched "{{ item }}" literally)', () => {
    expect(ok(render('{{item}}', child({ a: 1 }, 0)))).toEqual({ a: 1 });
    expect(ok(render('{{   index   }}', child('x', 2)))).toBe(2);
    expect(ok(render('{{item.a}}', child({ a: [1] }, 0)))).toEqual([1]);
  });

  it('item/index in mixed text', () => {
    expect(ok(render('tile_{{ index }}.tif', child('x', 3)))).toBe('tile_3.tif');
    expect(ok(render('{{ item.name }}-{{ index }}', child({ name: 'n' }, 1)))).toBe('n-1');
  });

  it('renders nested child params, lists included (the original skipped lists)', () => {
    const params = {
      v: '{{ item }}',
      i: '{{ index }}',
      list: ['{{ item.a }}', { deep: '{{ index * 10 }}' }],
    };
    expect(ok(renderValue(params, child({ a: { b: 1 } }, 2)))).toEqual({
      v: { a: { b: 1 } },
      i: 2,
      list: [{ b: 1 }, { deep: 20 }],
    });
  });
});

describe('missing values', () => {
  it('declared but absent optional input (null in the context) renders as null', () => {
    expect(ok(render('{{ inputs.opt }}'))).toBeNull();
    expect(ok(render('x{{ inputs.opt }}y'))).toBe('xy');
    expect(ok(render("{{ inputs.opt | default('fallback') }}"))).toBe('fallback');
  });

  it('a missing key of an existing object is null (single) or "" (mixed)', () => {
    expect(ok(render('{{ nodes.v.output.missing }}'))).toBeNull();
    expect(ok(render('{{ inputs.d.missing }}'))).toBeNull();
    expect(ok(render('<{{ nodes.v.output.missing }}>'))).toBe('<>');
    expect(ok(render('{{ nodes.zz }}'))).toBeNull();
    expect(ok(render('{{ inputs.lst[5] }}'))).toBeNull();
  });

  it('access through a missing node is TEMPLATE_UNDEFINED naming the expression and the cause', () => {
    const e = err(render('{{ nodes.zz.output.a }}'));
    expect(e.code).toBe('TEMPLATE_UNDEFINED');
    expect(e.template).toBe('{{ nodes.zz.output.a }}');
    expect(e.message).toContain('Cannot read "a" of nodes.zz.output: nodes.zz is undefined');
    expect(e.message).toContain('node "zz" has not completed or is not upstream');
  });

  it('access through a missing key is TEMPLATE_UNDEFINED', () => {
    const e = err(render('{{ inputs.d.missing.deeper }}'));
    expect(e.code).toBe('TEMPLATE_UNDEFINED');
    expect(e.message).toContain('Cannot read "deeper" of inputs.d.missing: inputs.d.missing is undefined');
    expect(e.message).toContain('key "missing" does not exist in inputs.d');
  });

  it('access through null is TEMPLATE_UNDEFINED', () => {
    const e = err(render('{{ inputs.opt.field }}'));
    expect(e.code).toBe('TEMPLATE_UNDEFINED');
    expect(e.message).toContain('inputs.opt is null');
    expect(e.message).toContain('input "opt" was not given');
    expect(err(render('{{ nodes.skipped.output.a }}')).message).toContain('node "skipped" has no output');
    expect(err(render('x {{ nodes.v.output.empty.a }}')).code).toBe('TEMPLATE_UNDEFINED');
  });

  it('item outside a fan-out says where it exists', () => {
    expect(ok(render('{{ item }}'))).toBeNull();
    expect(err(render('{{ item.a }}')).message).toContain(
      'item and index exist only in the params of fan-out tasks',
    );
  });

  it('filters and tests see missing values (is defined, default)', () => {
    expect(ok(render('{{ inputs.d.missing is defined }}'))).toBe(false);
    expect(ok(render('{{ inputs.d.a is defined }}'))).toBe(true);
    expect(ok(render('{{ inputs.opt is none }}'))).toBe(true);
    expect(ok(render("{{ inputs.d.missing | default('z') }}"))).toBe('z');
  });
});

describe('reserved names resolve to data, never to methods', () => {
  const data = {
    items: [1, 2],
    keys: 'K',
    values: { v: 1 },
    get: 'G',
    update: 'U',
    pop: 'P',
    clear: 'C',
    copy: 'CP',
    setdefault: 'S',
    length: 99,
    toString: 'T',
    hasOwnProperty: 'H',
  };
  const c: TemplateContext = { inputs: { x: data }, nodes: { n: { output: data, status: 'completed' } } };

  it.each(Object.entries(data))('{{ x.%s }} is the data', (key, value) => {
    expect(ok(renderString(`{{ inputs.x.${key} }}`, c))).toEqual(value);
    expect(ok(renderString(`{{ nodes.n.output.${key} }}`, c))).toEqual(value);
    expect(ok(renderString(`{{ inputs.x['${key}'] }}`, c))).toEqual(value);
  });

  it('method names absent from the data are null, not functions', () => {
    for (const key of [
      'items',
      'keys',
      'values',
      'get',
      'update',
      'pop',
      'toString',
      'valueOf',
      'hasOwnProperty',
    ]) {
      expect(ok(renderString(`{{ inputs.d.${key} }}`, ctx))).toBeNull();
      expect(ok(renderString(`{{ inputs.lst.${key} }}`, ctx))).toBeNull();
      expect(ok(renderString(`{{ inputs.s.${key} }}`, ctx))).toBeNull();
    }
  });

  it('length and indices of lists and strings work', () => {
    expect(ok(render('{{ inputs.lst.length }}'))).toBe(2);
    expect(ok(render('{{ inputs.name.length }}'))).toBe(4);
    expect(ok(render('{{ inputs.lst[0] }}'))).toBe(1);
    expect(ok(render('{{ inputs.lst[-1] }}'))).toBe(2);
    expect(ok(render('{{ inputs.name[0] }}'))).toBe('t');
  });

  it('{% for k, v in obj %} iterates the data keys', () => {
    expect(ok(renderString('{% for k, v in inputs.x %}{{ k }},{% endfor %}', c))).toBe(
      Object.keys(data).join(',') + ',',
    );
  });
});

describe('operators', () => {
  it('arithmetic follows Python (floor division, modulo sign)', () => {
    expect(ok(render('{{ 7 // 2 }}'))).toBe(3);
    expect(ok(render('{{ -7 % 3 }}'))).toBe(2);
    expect(ok(render('{{ 2 ** 10 }}'))).toBe(1024);
    expect(ok(render('{{ 1 / 4 }}'))).toBe(0.25);
    expect(ok(render('{{ -inputs.n }}'))).toBe(-5);
    expect(ok(render('{{ inputs.lst + [3] }}'))).toEqual([1, 2, 3]);
    expect(ok(render('{{ "a" + "b" }}'))).toBe('ab');
  });

  it('comparisons: deep equality without coercion, Python chaining', () => {
    expect(ok(render('{{ inputs.lst == [1, 2] }}'))).toBe(true);
    // nunjucks reads "}}" as the end of the tag even inside a literal: write "} }".
    expect(ok(render('{{ inputs.d == {"a": 1, "inner": {"k": "v"} } }}'))).toBe(true);
    expect(ok(render('{{ inputs.n == "5" }}'))).toBe(false);
    expect(ok(render('{{ 1 < inputs.n < 10 }}'))).toBe(true);
    expect(ok(render('{{ 1 < inputs.n < 3 }}'))).toBe(false);
    expect(ok(render('{{ "b" > "a" }}'))).toBe(true);
  });

  it('in / not in', () => {
    expect(ok(render('{{ 2 in inputs.lst }}'))).toBe(true);
    expect(ok(render('{{ 3 not in inputs.lst }}'))).toBe(true);
    expect(ok(render('{{ "ell" in inputs.text }}'))).toBe(true);
    expect(ok(render('{{ "a" in inputs.d }}'))).toBe(true);
    expect(ok(render('{{ "constructor" in inputs.d }}'))).toBe(false);
  });

  it('truthiness is Jinja/Python: empty list, empty object, 0 and "" are false', () => {
    expect(ok(render('{{ "t" if [] else "f" }}'))).toBe('f');
    expect(ok(render('{{ "t" if {} else "f" }}'))).toBe('f');
    expect(ok(render('{{ "t" if 0 else "f" }}'))).toBe('f');
    expect(ok(render('{{ "t" if "" else "f" }}'))).toBe('f');
    expect(ok(render('{{ "t" if [0] else "f" }}'))).toBe('t');
    expect(ok(render('{{ inputs.opt or "dflt" }}'))).toBe('dflt');
    expect(ok(render('{{ inputs.n and inputs.s }}'))).toBe('x');
    expect(ok(render('{{ True and not False and None is none }}'))).toBe(true);
  });

  it('type errors are errors, not silent values', () => {
    for (const t of [
      '{{ inputs.n + "a" }}',
      '{{ inputs.s * 2 }}',
      '{{ inputs.n > "a" }}',
      '{{ inputs.x < 1 }}',
      '{{ -inputs.s }}',
    ]) {
      const e = err(render(t));
      expect(e.code, t).toBe('TEMPLATE_RUNTIME');
      expect(e.message.length, t).toBeGreaterThan(20);
    }
    expect(err(render('{{ 1 / 0 }}')).message).toContain('Division by zero');
    expect(err(render('{{ 2 ** 5000 }}')).message).toContain('not finite');
    expect(err(render('{{ 1 in 5 }}')).message).toContain('"in"');
  });
});

describe('filters', () => {
  const cases: Array<[string, unknown]> = [
    ['{{ "hello world" | capitalize }}', 'Hello world'],
    ['{{ "hello world" | title }}', 'Hello World'],
    ['{{ "  x  " | trim }}', 'x'],
    ['{{ "a,b" | replace(",", ";") }}', 'a;b'],
    ['{{ "aaa" | replace("a", "b", 2) }}', 'bba'],
    ['{{ [3, 1, 2] | sort }}', [1, 2, 3]],
    ['{{ [3, 1, 2] | sort(true) }}', [3, 2, 1]],
    ['{{ [{"n": 2}, {"n": 1}] | sort(attribute="n") }}', [{ n: 1 }, { n: 2 }]],
    ['{{ [1, 2] | join("-") }}', '1-2'],
    ['{{ [{"a": "x"}, {"a": "y"}] | join(",", "a") }}', 'x,y'],
    ['{{ [1, 2, 3] | sum }}', 6],
    ['{{ [{"v": 1}, {"v": 2}] | sum("v") }}', 3],
    ['{{ [1, 2, 3] | last }}', 3],
    ['{{ [1, 2, 3] | reverse }}', [3, 2, 1]],
    ['{{ "abc" | reverse }}', 'cba'],
    ['{{ "abc" | list }}', ['a', 'b', 'c']],
    [
      '{{ {"b": 1, "a": 2} | dictsort }}',
      [
        ['a', 2],
        ['b', 1],
      ],
    ],
    ['{{ {"a": 1} | dump }}', '{"a":1}'],
    ['{{ "42" | int }}', 42],
    ['{{ "x" | int }}', 0],
    ['{{ "x" | int(7) }}', 7],
    ['{{ "ff" | int(base=16) }}', 255],
    ['{{ "2.5" | float }}', 2.5],
    ['{{ 2.567 | round(2) }}', 2.57],
    ['{{ 2.5 | round }}', 3],
    ['{{ 2.1 | round(0, "ceil") }}', 3],
    ['{{ -3 | abs }}', 3],
    ['{{ [1, 2, 3, 4, 5] | batch(2) }}', [[1, 2], [3, 4], [5]]],
    ['{{ [0, 1, 2, 3] | select("odd") }}', [1, 3]],
    ['{{ [0, 1, 2, 3] | reject("odd") }}', [0, 2]],
    ['{{ [{"a": 1}, {"a": 0}] | selectattr("a") }}', [{ a: 1 }]],
    ['{{ [{"a": 1}, {"a": 0}] | rejectattr("a") }}', [{ a: 0 }]],
    [
      '{{ [{"k": "x"}, {"k": "y"}, {"k": "x"}] | groupby("k") }}',
      { x: [{ k: 'x' }, { k: 'x' }], y: [{ k: 'y' }] },
    ],
    ['{{ "a b" | urlencode }}', 'a%20b'],
    ['{{ {"a": 1, "b": "c d"} | urlencode }}', 'a=1&b=c%20d'],
    ['{{ "<a>&" | escape }}', '&lt;a&gt;&amp;'],
    ['{{ "one two three" | wordcount }}', 3],
    ['{{ "long text here" | truncate(9) }}', 'long text...'],
    ['{{ "long text here" | truncate(7) }}', 'long...'],
    ['{{ "<b>x</b>" | striptags }}', 'x'],
    ['{{ 5 | string }}', '5'],
    ['{{ none | string }}', ''],
    ['{{ "ab" | center(6) }}', '  ab  '],
    ['{{ "a\\nb" | indent(2) }}', 'a\n  b'],
    ['{{ {"a": 1, "b": 2} | length }}', 2],
    ['{{ none | length }}', 0],
    [
      '{{ [1, 2, 3, 4] | slice(2) }}',
      [
        [1, 2],
        [3, 4],
      ],
    ],
    ['{{ none | default("d") }}', 'd'],
    ['{{ false | default("d") }}', false],
    ['{{ false | d("d", true) }}', 'd'],
  ];
  it.each(cases)('%s', (t, expected) => {
    expect(ok(render(t))).toEqual(expected);
  });

  it('filter errors are values with a message', () => {
    expect(err(render('{{ inputs.d | upper }}')).message).toContain('upper filter expects text');
    expect(err(render('{{ inputs.n | join }}')).message).toContain('join filter expects a list');
    expect(err(render('{{ [1, "a"] | sum }}')).code).toBe('TEMPLATE_RUNTIME');
    expect(err(render('{{ [1, "a"] | sort }}')).code).toBe('TEMPLATE_RUNTIME');
  });

  it('unknown filters and bad arguments are syntax errors with a hint', () => {
    const e = err(render('{{ inputs.s | uper }}'));
    expect(e.code).toBe('TEMPLATE_SYNTAX');
    expect(e.message).toContain('unknown filter "uper"');
    expect(e.message).toContain('Did you mean "upper"?');
    expect(err(render('{{ inputs.s | upper(1) }}')).message).toContain('takes at most 0 argument');
    expect(err(render('{{ inputs.s | default(nope=1) }}')).message).toContain('no argument named "nope"');
  });
});

describe('syntax errors', () => {
  it('say what, where and what to do', () => {
    const e = err(render('{{ inputs.x | }}'));
    expect(e.code).toBe('TEMPLATE_SYNTAX');
    expect(e.template).toBe('{{ inputs.x | }}');
    expect(e.message).toBe(
      'Template syntax error in "{{ inputs.x | }}" at column 15: expected a filter name after "|", got "}}". Check the Jinja syntax.',
    );
    expect(e.line).toBe(1);
    expect(e.column).toBe(15);
  });

  it.each([
    ['{{ inputs.x', 'expected "}}"'],
    ['{{ a b }}', 'expected "}}"'],
    ['{% if inputs.n %}x', '{% if %} is not closed by {% endif %}'],
    ['{% frobnicate %}', 'unknown tag {% frobnicate %}'],
    ['{{ }}', 'unexpected "}}"'],
    ['{{ [1, 2 }}', 'expected "," or a closing bracket'],
    ['{{ inputs[] }}', 'index is missing'],
    ['{{ inputs.n }}{# open', 'comment'],
  ])('%s', (t, fragment) => {
    const e = err(render(t));
    expect(e.code).toBe('TEMPLATE_SYNTAX');
    expect(e.message).toContain(fragment);
    expect(e.message).toContain(JSON.stringify(t));
  });

  it('reports line and column in multi-line templates', () => {
    const e = err(render('line one\n  {{ inputs.x | }}'));
    expect(e.line).toBe(2);
    expect(e.column).toBe(17);
    expect(e.message).toContain('at line 2, column 17');
  });
});

describe('renderValue', () => {
  it('deep-walks objects and arrays; non-strings and plain strings untouched', () => {
    const params = {
      a: '{{ inputs.n }}',
      b: [1, '{{ inputs.s }}', { c: '{{ inputs.lst }}' }],
      d: 7,
      e: null,
      f: true,
      g: 'plain',
    };
    expect(ok(renderValue(params, ctx, 'params'))).toEqual({
      a: 5,
      b: [1, 'x', { c: [1, 2] }],
      d: 7,
      e: null,
      f: true,
      g: 'plain',
    });
  });

  it('returns unchanged subtrees as the same objects (allocation-light)', () => {
    const params = { fixed: { deep: [1, 2, { k: 'v' }] }, t: '{{ inputs.n }}' };
    const out = ok(renderValue(params, ctx)) as typeof params;
    expect(out).not.toBe(params);
    expect(out.fixed).toBe(params.fixed);
    const plain = { a: [1, 'x'], b: { c: 'y' } };
    expect(ok(renderValue(plain, ctx))).toBe(plain);
  });

  it('does not mutate its input', () => {
    const params = { a: '{{ inputs.n }}', list: ['{{ inputs.s }}'] };
    const copy = structuredClone(params);
    renderValue(params, ctx);
    expect(params).toEqual(copy);
  });

  it('keeps key order and odd keys', () => {
    const params = { z: 1, __proto__: '{{ inputs.n }}', a: '{{ inputs.s }}' };
    const withProto = JSON.parse('{"z":1,"__proto__":"{{ inputs.n }}","a":"{{ inputs.s }}"}') as Record<
      string,
      unknown
    >;
    const out = ok(renderValue(withProto, ctx)) as Record<string, unknown>;
    expect(Object.keys(out)).toEqual(['z', '__proto__', 'a']);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(out, '__proto__')?.value).toBe(5);
    expect(Object.keys(params)).toEqual(['z', 'a']);
  });

  it('first error wins, with its path', () => {
    const params = {
      ok: '{{ inputs.n }}',
      bad: { list: ['x', '{{ nodes.zz.output.a }}'] },
      later: '{{ inputs.x | }}',
    };
    const e = err(renderValue(params, ctx, 'params'));
    expect(e.code).toBe('TEMPLATE_UNDEFINED');
    expect(e.path).toBe('params.bad.list[1]');
    expect(e.template).toBe('{{ nodes.zz.output.a }}');
  });

  it('paths: no prefix, odd keys, root string', () => {
    expect(err(renderValue({ 'a.b': { c: '{{ nodes.zz.output.a }}' } }, ctx)).path).toBe('["a.b"].c');
    expect(err(renderValue(['{{ inputs.x | }}'], ctx)).path).toBe('[0]');
    expect(err(renderValue('{{ inputs.x | }}', ctx, 'params.v')).path).toBe('params.v');
    expect(err(renderValue('{{ inputs.x | }}', ctx)).path).toBeUndefined();
    const syntax = err(renderValue({ v: '{{ inputs.x | }}' }, ctx, 'params'));
    expect(syntax.code).toBe('TEMPLATE_SYNTAX');
    expect(syntax.path).toBe('params.v');
    expect(syntax.template).toBe('{{ inputs.x | }}');
  });

  it('never renders a rendered value again (inputs are data)', () => {
    const c: TemplateContext = {
      inputs: { evil: '{{ nodes.zz.output.a }}', code: '{% for x in range(9) %}' },
      nodes: {},
    };
    expect(ok(renderValue({ a: '{{ inputs.evil }}', b: 'x{{ inputs.code }}' }, c))).toEqual({
      a: '{{ nodes.zz.output.a }}',
      b: 'x{% for x in range(9) %}',
    });
  });
});

describe('limits', () => {
  it('bounds the work of one render (TEMPLATE_TOO_EXPENSIVE, naming the limit)', () => {
    const e = err(render('{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}'));
    expect(e.code).toBe('TEMPLATE_TOO_EXPENSIVE');
    expect(e.limit).toBe('work');
    expect(e.message).toContain('over 50,000,000 work units (the limit per node');
    const s = err(render('{% set s = "ab" %}{% for i in range(40) %}{% set s = s ~ s %}{% endfor %}'));
    expect(s.limit).toBe('string');
    expect(s.message).toContain('s ~ s would build a string of 16,777,216 characters');
    const l = err(render('{{ range(10000000) }}'));
    expect(l.limit).toBe('list');
    expect(l.message).toContain('range() would build a list of 10,000,000 elements');
  });
});
