import Ajv2020 from 'ajv/dist/2020';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { validateInputs } from '../../dag/validateInputs';
import { workflowJsonSchema } from '../../dag/workflowJsonSchema';
import { planOf } from '../support/workflows';

const wf = planOf({
  inputs: {
    name: { type: 'string' },
    count: { type: 'integer', required: false, default: 1 },
    ratio: { type: 'number', required: false },
    flags: { type: 'array', required: false },
    opts: { type: 'object', required: false, default: { a: 1 } },
    on: { type: 'boolean', required: false },
  },
  nodes: { start: { type: 'start', next: 'end' }, end: { type: 'end' } },
}).workflow;

describe('submit-time input validation (SPEC §1)', () => {
  it('merges defaults and leaves absent optional inputs null', () => {
    expect(validateInputs(wf, { name: 'x' })).toEqual({
      ok: true,
      value: { name: 'x', count: 1, ratio: null, flags: null, opts: { a: 1 }, on: null },
    });
  });

  it('an integer-valued number passes integer; numeric strings are not coerced', () => {
    expect(validateInputs(wf, { name: 'x', count: 5.0 })).toMatchObject({ ok: true, value: { count: 5 } });
    const r = validateInputs(wf, { name: 'x', count: '5', ratio: '0.5' });
    expect(r).toEqual({
      ok: false,
      problems: [
        { input: 'count', message: 'input "count" must be an integer, got the string "5"' },
        { input: 'ratio', message: 'input "ratio" must be a number, got the string "0.5"' },
      ],
    });
    expect(validateInputs(wf, { name: 'x', count: 2.5 })).toMatchObject({ ok: false });
  });

  it('reports every missing required input, type error and undeclared input at once', () => {
    const r = validateInputs(wf, { nmae: 'x', flags: 'a,b', on: 'yes', opts: [] });
    expect(r.ok).toBe(false);
    const problems = (r as { problems: Array<{ input: string; message: string }> }).problems;
    expect(problems.map((p) => p.input).sort()).toEqual(['flags', 'name', 'nmae', 'on', 'opts']);
    expect(problems.find((p) => p.input === 'nmae')!.message).toContain('did you mean "name"?');
  });

  it('rejects inputs that are not an object', () => {
    for (const bad of [[], 'x', 5, true]) expect(validateInputs(wf, bad)).toMatchObject({ ok: false });
    expect(validateInputs(wf, undefined)).toMatchObject({ ok: false, problems: [{ input: 'name' }] });
  });

  it('defaults are copies: a job cannot change the workflow default', () => {
    const r = validateInputs(wf, { name: 'x' });
    (r as unknown as { value: { opts: { a: number } } }).value.opts.a = 99;
    expect(validateInputs(wf, { name: 'x' })).toMatchObject({ value: { opts: { a: 1 } } });
  });
});

describe('workflow JSON Schema generated from the zod model', () => {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  const validate = ajv.compile(workflowJsonSchema());
  const dir = path.join(__dirname, '..', '..', 'workflows');

  it('accepts every shipped workflow', () => {
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.yaml'))) {
      const ok = validate(parse(readFileSync(path.join(dir, f), 'utf8')));
      expect(validate.errors ?? [], f).toEqual([]);
      expect(ok).toBe(true);
    }
  });

  it('rejects unknown keys and bad values like the loader does', () => {
    expect(validate({ workflow_id: 'x', name: 'x', nodez: {} })).toBe(false);
    expect(
      validate({
        workflow_id: 'x',
        name: 'x',
        nodes: { a: { type: 'task', handler: 'echo', timeout_seconds: 0 } },
      }),
    ).toBe(false);
    expect(
      validate({ workflow_id: 'x', name: 'x', nodes: { a: { type: 'fan_in', aggregation: 'avg' } } }),
    ).toBe(false);
    expect(
      validate({
        workflow_id: 'x',
        name: 'x',
        nodes: { a: { type: 'start', next: 'b' }, b: { type: 'end' } },
      }),
    ).toBe(true);
  });
});
