import Ajv2020 from 'ajv/dist/2020';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import jsYaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { evaluateConditional } from '../../dag/evaluateNode';
import { validateInputs } from '../../dag/validateInputs';
import { workflowJsonSchema } from '../../dag/workflowJsonSchema';
import { load, planOf } from '../support/workflows';

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

describe('names that every JavaScript object answers to (issue 22.5)', () => {
  const PROTO_NAMES = ['__proto__', 'constructor', 'toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf'];

  it.each(PROTO_NAMES)('an undeclared input named %s is rejected by name, not dropped', (name) => {
    // JSON.parse makes "__proto__" an own key, as the HTTP body parser does.
    const given = JSON.parse(`{"name": "x", ${JSON.stringify(name)}: {"count": 7}}`) as unknown;
    const r = validateInputs(wf, given);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]).toMatchObject({ input: name });
    expect(r.problems[0]!.message).toContain(`"${name}" is not an input of workflow "test"`);
  });

  it('a declared input is read from the given object only, never from its prototype', () => {
    const only = planOf({
      inputs: { note: { type: 'string', required: false }, must: { type: 'string' } },
      nodes: { start: { type: 'start', next: 'end' }, end: { type: 'end' } },
    }).workflow;
    const inherited = Object.create({ must: 'from the prototype' }) as Record<string, unknown>;
    expect(validateInputs(only, inherited)).toMatchObject({
      ok: false,
      problems: [{ input: 'must', message: 'required input "must" (string) is missing' }],
    });
  });

  it.each(['constructor', 'toString', 'valueOf', '__proto__'])(
    'an input or node named %s is refused at load time with a clear message',
    (name) => {
      const inputs = load({
        inputs: { [name]: { type: 'string' } },
        nodes: { start: { type: 'start', next: 'end' }, end: { type: 'end' } },
      }).issues;
      expect(inputs.map((i) => i.code)).toContain(name === '__proto__' ? 'reserved_key' : 'bad_input_name');
      if (name !== '__proto__') {
        const nodes = load({
          nodes: {
            start: { type: 'start', next: name },
            [name]: { type: 'task', handler: 'echo', next: 'end' },
            end: { type: 'end' },
          },
        }).issues;
        expect(nodes.map((i) => i.message).join('\n')).toMatch(/belongs to every JavaScript object/);
      }
    },
  );

  it('a node type or edge target named like a prototype member is an error, not a crash or a match', () => {
    const typed = load({
      nodes: {
        start: { type: 'start', next: 'x' },
        x: { type: 'constructor', next: 'end' },
        end: { type: 'end' },
      },
    });
    expect(typed.issues.map((i) => i.code)).toContain('unknown_node_type');
    const ref = load({
      nodes: {
        start: { type: 'start', next: 'x' },
        x: { type: 'task', handler: 'echo', params: { a: '{{ nodes.hasOwnProperty.output }}' }, next: 'end' },
        end: { type: 'end' },
      },
    });
    expect(ref.issues.map((i) => i.message).join('\n')).toMatch(/nodes\.hasOwnProperty, which is not a node/);
  });

  it('a conditional value spelt like a prototype member takes the default branch', () => {
    const plan = planOf({
      inputs: { v: { type: 'string' } },
      nodes: {
        start: { type: 'start', next: 'c' },
        c: { type: 'conditional', condition: '{{ inputs.v }}', branches: { yes: 'a' }, default: 'b' },
        a: { type: 'task', handler: 'echo', next: 'end' },
        b: { type: 'task', handler: 'echo', next: 'end' },
        end: { type: 'end' },
      },
    });
    for (const v of ['constructor', 'toString', '__proto__']) {
      const r = evaluateConditional(plan, 'c', { inputs: { v }, nodes: {} } as never);
      expect(r).toMatchObject({ ok: true, value: { taken: ['b'] } });
    }
  });
});

describe('workflow JSON Schema generated from the zod model', () => {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  const validate = ajv.compile(workflowJsonSchema());
  const dir = path.join(__dirname, '..', '..', 'workflows');

  it('accepts every shipped workflow', () => {
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.yaml'))) {
      const ok = validate(jsYaml.load(readFileSync(path.join(dir, f), 'utf8')));
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
