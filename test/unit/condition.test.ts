import { describe, expect, it } from 'vitest';
import { checkCondition, evaluateCondition } from '../../dag/evaluateCondition';

function ok(condition: string, value: unknown, output?: unknown): boolean {
  const r = evaluateCondition(condition, value, output);
  if (!r.ok)
    throw new Error(`expected ok for ${JSON.stringify(condition)}, got ${r.error.code}: ${r.error.message}`);
  return r.value;
}

function err(condition: string, value: unknown, output?: unknown) {
  const r = evaluateCondition(condition, value, output);
  if (r.ok) throw new Error(`expected an error for ${JSON.stringify(condition)}, got ${r.value}`);
  return r.error;
}

describe('operator form: value <condition>', () => {
  it.each([
    ['> 100', 150, true],
    ['> 100', 100, false],
    ['< 100', 99.5, true],
    ['< 100', 100, false],
    ['== 5', 5, true],
    ['== 5', 6, false],
    ['!= 5', 6, true],
    ['!= 5', 5, false],
    ["== 'rgb'", 'rgb', true],
    ["== 'rgb'", 'RGB', false],
    ['== "rgb"', 'rgb', true],
    ["!= 'rgb'", 'gray', true],
    ['> "a"', 'b', true],
    ['>5', 6, true],
    ['  >=   2.5  ', 2.5, true],
    ['=== 5', 5, true],
    ['!== 5', 5, false],
  ])('%j with value %j → %s', (c, v, expected) => {
    expect(ok(c, v)).toBe(expected);
  });

  it('<= and >= work, boundaries included (regression: always false in the original)', () => {
    expect(ok('<= 5', 5)).toBe(true);
    expect(ok('<= 5', 4)).toBe(true);
    expect(ok('<= 5', 6)).toBe(false);
    expect(ok('>= 2.5', 2.5)).toBe(true);
    expect(ok('>= 2.5', 3)).toBe(true);
    expect(ok('>= 2.5', 2)).toBe(false);
    expect(ok('>= 100', 100)).toBe(true);
    expect(ok("<= 'm'", 'a')).toBe(true);
  });

  it('in / not in with list literals (regression: misparsed in the original, no list literals)', () => {
    expect(ok("in ['a','b']", 'a')).toBe(true);
    expect(ok("in ['a','b']", 'c')).toBe(false);
    expect(ok('in [1, 2, 3]', 2)).toBe(true);
    expect(ok('in [1, 2, 3]', '2')).toBe(false);
    expect(ok("not in ['x']", 'x')).toBe(false);
    expect(ok("not in ['x']", 'y')).toBe(true);
    expect(ok("not   in ['x', 'y']", 'z')).toBe(true);
    expect(ok("in ('a', 'b')", 'b')).toBe(true);
    expect(ok("in['a']", 'a')).toBe(true);
    expect(ok('in [[1, 2], [3]]', [1, 2])).toBe(true);
    expect(ok("in 'interior'", 'ter')).toBe(true);
    expect(ok("in {'a': 1}", 'a')).toBe(true);
  });

  it('values and literals containing "in" are not split (regression)', () => {
    expect(ok("in ['inside', 'main', 'index']", 'inside')).toBe(true);
    expect(ok("not in ['inside', 'main']", 'main')).toBe(false);
    expect(ok("== 'in'", 'in')).toBe(true);
    expect(ok("== 'not in'", 'not in')).toBe(true);
    expect(ok("in ['in', 'not in']", 'not in')).toBe(true);
  });

  it('original aliases: not_in, contains, starts_with, ends_with', () => {
    expect(ok("not_in ['a']", 'b')).toBe(true);
    expect(ok("contains 'ell'", 'hello')).toBe(true);
    expect(ok('contains 2', [1, 2])).toBe(true);
    expect(ok("starts_with 'EPSG:'", 'EPSG:4326')).toBe(true);
    expect(ok("ends_with '.tif'", 'a.tiff')).toBe(false);
  });

  it('null literals: null, none, None; booleans: true/false, True/False', () => {
    expect(ok('!= null', null)).toBe(false);
    expect(ok('!= null', 0)).toBe(true);
    expect(ok('== null', null)).toBe(true);
    expect(ok('== None', null)).toBe(true);
    expect(ok('== none', null)).toBe(true);
    expect(ok('== null', undefined)).toBe(true);
    expect(ok('!= None', 'x')).toBe(true);
    expect(ok('== true', true)).toBe(true);
    expect(ok('== True', true)).toBe(true);
    expect(ok('== False', false)).toBe(true);
    expect(ok('== false', 0)).toBe(false);
    expect(ok('== 1', true)).toBe(false);
  });

  it('equality is deep and does not coerce', () => {
    expect(ok('== [1, 2]', [1, 2])).toBe(true);
    expect(ok("== {'a': 1}", { a: 1 })).toBe(true);
    expect(ok("== {'a': 1}", { a: 1, b: 2 })).toBe(false);
    expect(ok('== 5', '5')).toBe(false);
    expect(ok("== '5'", 5)).toBe(false);
  });

  it('the right side may be an expression over value and output', () => {
    expect(ok('> output.threshold', 10, { threshold: 5 })).toBe(true);
    expect(ok('in output.allowed', 'b', { allowed: ['a', 'b'] })).toBe(true);
    expect(ok('== output.count * 2', 6, { count: 3 })).toBe(true);
  });
});

describe('expression form: boolean expression over value and output', () => {
  it.each([
    ['value > 10 and value < 20', 15, undefined, true],
    ['value > 10 and value < 20', 25, undefined, false],
    ['value < 10 or value > 20', 25, undefined, true],
    ['output.count > 0', null, { count: 2 }, true],
    ['output.count > 0', null, { count: 0 }, false],
    ['output.ingested == true', null, { ingested: true }, true],
    ['output.ingested', null, { ingested: true }, true],
    ['output.ingested', null, { ingested: false }, false],
    ['not output.ingested', null, { ingested: false }, true],
    ["output.index_name in ['a', 'b']", null, { index_name: 'b' }, true],
    ["output.inside not in ['x']", null, { inside: 'y' }, true],
    ["output.mode in ['min', 'main']", null, { mode: 'main' }, true],
    ['value', 'non-empty', undefined, true],
    ['value', '', undefined, false],
    ['value', [], undefined, false],
    ['value is none', null, undefined, true],
    ['value is not none', 3, undefined, true],
    ['is_null(value)', null, undefined, true],
    ['is_not_null(value)', 0, undefined, true],
    ['value | length > 2', [1, 2, 3], undefined, true],
    ["value.kind == 'cog' and value.size >= 1024", { kind: 'cog', size: 1024 }, undefined, true],
    ['true', null, undefined, true],
    ['False', 1, undefined, false],
    ['1 < value <= 3', 3, undefined, true],
    ['{{ value > 5 }}', 6, undefined, true],
    ['{{ output.count == value }}', 2, { count: 2 }, true],
  ])('%j (value %j, output %j) → %s', (c, v, o, expected) => {
    expect(ok(c, v, o)).toBe(expected);
  });
});

describe('errors are results, never a silent false', () => {
  it('comparing a string with a number is an error naming both', () => {
    const e = err('> 100', '150');
    expect(e.code).toBe('TEMPLATE_RUNTIME');
    expect(e.template).toBe('> 100');
    expect(e.message).toContain('Cannot compare string "150" with number 100 using ">"');
    expect(e.message).toContain('| float');
  });

  it('ordering with null or lists is an error', () => {
    expect(err('> 100', null).message).toContain('value is missing');
    expect(err('< 5', [1]).code).toBe('TEMPLATE_RUNTIME');
    expect(err('value > 10', undefined).code).toBe('TEMPLATE_RUNTIME');
  });

  it('in on something that is not a container is an error', () => {
    expect(err('in output.list', 'a', {}).message).toContain('"in"');
    expect(err('in 5', 5).code).toBe('TEMPLATE_RUNTIME');
    expect(err("in 'abc'", 1).code).toBe('TEMPLATE_RUNTIME');
  });

  it('reading through a missing output is TEMPLATE_UNDEFINED', () => {
    const e = err('output.stats.count > 0', null, {});
    expect(e.code).toBe('TEMPLATE_UNDEFINED');
    expect(e.message).toContain('Cannot read "count" of output.stats');
    expect(err('output.count > 0', null, undefined).message).toContain('the upstream node has no output');
  });

  it.each([
    ['', 'empty'],
    ['   ', 'empty'],
    ['>', 'needs something to compare with'],
    ['in', 'needs something to compare with'],
    ['= 5', 'write "=="'],
    ['=> 5', 'write "=="'],
    ['> 5 5', 'expected "}}"'],
    ["== 'rgb", 'Condition'],
    ['value >', 'Condition'],
    ['{{ value }} and {{ output }}', 'single {{ expression }}'],
    ['{% if value %}x{% endif %}', 'single {{ expression }}'],
  ])('syntax error: %j', (c, fragment) => {
    const e = err(c, 1);
    expect(e.code).toBe('TEMPLATE_SYNTAX');
    expect(e.message).toContain(fragment);
    expect(e.template).toBe(c);
    expect(checkCondition(c)).toHaveLength(1);
  });

  it('unquoted words are unknown names with a hint (not silently a field lookup)', () => {
    const e = err('== rgb', 'rgb');
    expect(e.code).toBe('TEMPLATE_UNDEFINED');
    expect(e.message).toContain('unknown variable "rgb"');
    expect(e.message).toContain("quote it: 'rgb'");
    expect(e.column).toBe(4);
    const f = err('ingested', true, { ingested: true });
    expect(f.message).toContain('output.ingested');
  });

  it('reports columns as written in the condition', () => {
    const e = err('  value > > 3', 1);
    expect(e.code).toBe('TEMPLATE_SYNTAX');
    expect(e.message).toContain('Condition syntax error in "  value > > 3"');
    expect(e.column).toBe(11);
  });
});

describe('checkCondition (load time)', () => {
  it('accepts valid conditions', () => {
    for (const c of [
      '> 100',
      '<= 5',
      "in ['a','b']",
      "not in ['x']",
      "== 'rgb'",
      '!= null',
      'value > 10 and value < 20',
      'output.count > 0',
      '== None',
      'is_null(value)',
      '{{ value > 1 }}',
    ]) {
      expect(checkCondition(c), c).toEqual([]);
    }
  });

  it('reports unknown names, forbidden names and syntax', () => {
    expect(checkCondition('valu > 3')[0]?.code).toBe('TEMPLATE_UNDEFINED');
    expect(checkCondition('process.exit()')[0]?.code).toBe('TEMPLATE_FORBIDDEN');
    expect(checkCondition('value.constructor')[0]?.code).toBe('TEMPLATE_FORBIDDEN');
    expect(checkCondition('value >')[0]?.code).toBe('TEMPLATE_SYNTAX');
    expect(checkCondition('inputs.x > 3')[0]?.message).toContain('Conditions can use value');
  });

  it('does not need a value: checking never evaluates', () => {
    expect(checkCondition('> 100')).toEqual([]);
    expect(checkCondition('output.a.b.c > 1')).toEqual([]);
  });
});
