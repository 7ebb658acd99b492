import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadWorkflow } from '../../dag/loadWorkflow';
import { renderString } from '../../dag/renderTemplate';
import { formatIssue } from '../../dag/workflowIssue';
import { catalog, codes, load, task } from '../support/workflows';

const SEEDS = path.join(__dirname, '..', '..', '..', 'shared', 'fixtures', 'seed-workflows');
const SHIPPED = path.join(__dirname, '..', '..', 'workflows');

describe('seed workflows of the original system', () => {
  const seeds = readdirSync(SHIPPED).filter((f) =>
    ['echo_test.yaml', 'fan_out_test.yaml', 'hello_world.yaml', 'raster_ingest.yaml'].includes(f),
  );

  it('ships the four seed workflows unchanged', () => {
    expect(seeds.sort()).toEqual([
      'echo_test.yaml',
      'fan_out_test.yaml',
      'hello_world.yaml',
      'raster_ingest.yaml',
    ]);
    for (const f of seeds) {
      let original: string;
      try {
        original = readFileSync(path.join(SEEDS, f), 'utf8');
      } catch {
        continue; // the shared fixtures are not part of a clone; the copy is what ships
      }
      expect(readFileSync(path.join(SHIPPED, f), 'utf8')).toBe(original);
    }
  });

  it.each(seeds)('%s loads and validates', (f) => {
    const r = loadWorkflow(readFileSync(path.join(SHIPPED, f), 'utf8'), f, { handlers: catalog });
    expect(r.issues.map(formatIssue)).toEqual([]);
    expect(r.plan).toBeDefined();
  });

  it('every shipped workflow validates', () => {
    for (const f of readdirSync(SHIPPED).filter((x) => /\.ya?ml$/.test(x))) {
      const r = loadWorkflow(readFileSync(path.join(SHIPPED, f), 'utf8'), f, { handlers: catalog });
      expect(r.issues.map(formatIssue), f).toEqual([]);
    }
  });
});

describe('schema rules (SPEC §1)', () => {
  const base = { nodes: { start: { type: 'start', next: 'a' }, a: task('end'), end: { type: 'end' } } };

  it('reports unknown keys with a did-you-mean hint instead of dropping them (regression)', () => {
    const r = load({
      ...base,
      inputz: {},
      nodes: { ...base.nodes, a: { ...task('end'), retry: { max_attemps: 2 } } },
    });
    const unknown = r.issues.filter((i) => i.code === 'unknown_key');
    expect(unknown.map((i) => [i.path.join('.'), i.hint])).toEqual(
      expect.arrayContaining([
        ['inputz', 'did you mean "inputs"?'],
        ['nodes.a.retry.max_attemps', 'did you mean "max_attempts"?'],
      ]),
    );
  });

  it('suggests the same name for the same typo in a YAML key and in a template (one edit distance)', () => {
    // "nodse"/"inptus" swap two letters: one edit for suggest.ts, two for plain Levenshtein (which the
    // template compiler used to run, so templates suggested nothing where YAML keys did).
    for (const [typo, name] of [
      ['nodse', 'nodes'],
      ['inptus', 'inputs'],
    ] as const) {
      const yamlHint = load({ ...base, [typo]: {} }).issues.find((i) => i.path.join('.') === typo)?.hint;
      const rendered = renderString(`{{ ${typo}.x }}`, { inputs: {}, nodes: {} });
      const templateMessage = rendered.ok ? '' : rendered.error.message;
      expect(yamlHint).toBe(`did you mean "${name}"?`);
      expect(templateMessage).toContain(`Did you mean "${name}"?`);
    }
  });

  it('accepts the map form of branches, including YAML boolean keys (regression)', () => {
    const yaml = `workflow_id: cond_map
name: c
nodes:
  start: {type: start, next: check}
  check:
    type: conditional
    condition: "{{ 1 > 0 }}"
    branches:
      true: a
      false: b
  a: {type: task, handler: echo, next: end}
  b: {type: task, handler: echo, next: end}
  end: {type: end}
`;
    const r = loadWorkflow(yaml, 'c.yaml', { handlers: catalog });
    expect(r.issues.map(formatIssue)).toEqual([]);
    expect(r.workflow!.nodes.check).toMatchObject({ branches: { true: 'a', false: 'b' } });
  });

  it('requires workflow_id, name and nodes, and checks id patterns', () => {
    const r = loadWorkflow('description: x\n', 'x.yaml');
    expect(r.issues.map((i) => i.path.join('.'))).toEqual(
      expect.arrayContaining(['workflow_id', 'name', 'nodes']),
    );
    expect(codes({ workflow_id: 'Bad Id', ...base })).toContain('schema');
    expect(codes({ workflow_id: 'x'.repeat(65), ...base })).toContain('schema');
    expect(codes({ nodes: { ...base.nodes, 'bad-id': task('end') } })).toContain('bad_node_id');
    expect(codes({ nodes: { ...base.nodes, a__b: task('end') } })).toContain('bad_node_id');
  });

  it('checks types and ranges of task fields', () => {
    const bad = (extra: Record<string, unknown>) =>
      codes({ nodes: { ...base.nodes, a: { ...task('end'), ...extra } } });
    expect(bad({ timeout_seconds: 0 })).toContain('schema');
    expect(bad({ timeout_seconds: 86401 })).toContain('schema');
    expect(bad({ retry: { max_attempts: 11 } })).toContain('schema');
    expect(bad({ retry: { backoff: 'random' } })).toContain('schema');
    expect(bad({ handler: undefined })).toContain('missing_key');
    expect(bad({ timeout_seconds: 10, retry: { max_attempts: 0, backoff: 'linear' } })).toEqual([]);
  });

  it('defaults: type task, timeout 3600, retry 3 attempts exponential 5s capped at 300s', () => {
    const r = load({
      nodes: {
        start: { type: 'start', next: 'a' },
        a: { handler: 'echo', next: 'end', retry: {} },
        end: { type: 'end' },
      },
    });
    expect(r.workflow!.nodes.a).toMatchObject({
      type: 'task',
      timeout_seconds: 3600,
      retry: { max_attempts: 3, backoff: 'exponential', initial_delay_seconds: 5, max_delay_seconds: 300 },
    });
  });

  it('reports an unknown node type with a suggestion', () => {
    const r = load({ nodes: { ...base.nodes, a: { type: 'taks', handler: 'echo', next: 'end' } } });
    expect(r.issues[0]).toMatchObject({ code: 'unknown_node_type', hint: 'did you mean "task"?' });
  });

  it('accepts every depends_on form', () => {
    for (const d of ['a', ['a'], { all_of: ['a'] }, { any_of: 'a' }, { all_of: 'a', any_of: ['b'] }]) {
      const r = load({
        nodes: {
          start: { type: 'start', next: ['a', 'b'] },
          a: task('end'),
          b: task('end'),
          c: { ...task('end'), depends_on: d },
          end: { type: 'end' },
        },
      });
      expect(r.issues.map(formatIssue), JSON.stringify(d)).toEqual([]);
    }
  });

  it('fan_in aggregation must be one of collect, concat, sum, first, last', () => {
    const fan = (aggregation: string) =>
      codes({
        inputs: { xs: { type: 'array' } },
        nodes: {
          start: { type: 'start', next: 'f' },
          f: { type: 'fan_out', source: '{{ inputs.xs }}', task: { handler: 'echo' }, next: 'g' },
          g: { type: 'fan_in', aggregation, next: 'end' },
          end: { type: 'end' },
        },
      });
    for (const a of ['collect', 'concat', 'sum', 'first', 'last']) expect(fan(a)).toEqual([]);
    expect(fan('average')).toContain('schema');
  });
});

describe('positions', () => {
  it('reports file:line:col of the offending value', () => {
    const yaml = [
      'workflow_id: w',
      'name: w',
      'nodes:',
      '  start: {type: start, next: a}',
      '  a:',
      '    type: task',
      '    handler: ech0',
      '    next: end',
      '  end: {type: end}',
      '',
    ].join('\n');
    const r = loadWorkflow(yaml, 'wf.yaml', { handlers: catalog });
    expect(r.issues.map(formatIssue)).toEqual([
      'wf.yaml:7:14: nodes.a.handler: unknown handler "ech0" (did you mean "echo"?)',
    ]);
  });

  it('points unknown keys at the key itself', () => {
    const yaml = 'workflow_id: w\nname: w\nnodez: {}\n';
    const r = loadWorkflow(yaml, 'wf.yaml');
    expect(r.issues.find((i) => i.code === 'unknown_key')).toMatchObject({ line: 3, col: 1 });
  });
});

describe('semantic validation reports every problem at once', () => {
  it('start and end nodes', () => {
    expect(codes({ nodes: { a: task('end'), end: { type: 'end' } } })).toContain('no_start');
    expect(codes({ nodes: { start: { type: 'start', next: 'a' }, a: task() } })).toContain('no_end');
    expect(
      codes({
        nodes: {
          s1: { type: 'start', next: 'end' },
          s2: { type: 'start', next: 'end' },
          end: { type: 'end' },
        },
      }),
    ).toContain('multiple_starts');
  });

  it('unknown edge and branch targets, with suggestions', () => {
    const r = load({
      nodes: {
        start: { type: 'start', next: 'alpha' },
        alpha: { type: 'conditional', condition: '{{ true }}', branches: { true: 'bravo', false: 'charly' } },
        bravo: { ...task('end'), depends_on: ['alpha', 'ghost'] },
        charlie: task('end'),
        end: { type: 'end' },
      },
    });
    const unknown = r.issues.filter((i) => i.code === 'unknown_target');
    expect(unknown.map((i) => i.path.join('.'))).toEqual(
      expect.arrayContaining(['nodes.alpha.branches.false', 'nodes.bravo.depends_on.1']),
    );
    expect(unknown.find((i) => i.path.includes('false'))?.hint).toBe('did you mean "charlie"?');
  });

  it('cycles, with the cycle as a path (regression: not reported at load)', () => {
    const r = load({
      nodes: {
        start: { type: 'start', next: 'a' },
        a: task('b'),
        b: task(['c', 'end']),
        c: task('a'),
        end: { type: 'end' },
      },
    });
    const cycle = r.issues.find((i) => i.code === 'cycle');
    expect(cycle?.message).toBe('cycle: a -> b -> c -> a');
  });

  it('unreachable nodes and nodes that cannot reach an end', () => {
    const c = codes({
      nodes: {
        start: { type: 'start', next: ['a', 'b'] },
        a: task('end'),
        b: task(),
        island: task('end'),
        end: { type: 'end' },
      },
    });
    expect(c).toEqual(expect.arrayContaining(['unreachable', 'dead_end']));
  });

  it('unknown handlers (regression: not reported at load)', () => {
    const r = load({
      nodes: {
        start: { type: 'start', next: 'a' },
        a: { handler: 'hello_wrld', next: 'end' },
        end: { type: 'end' },
      },
    });
    expect(r.issues[0]).toMatchObject({ code: 'unknown_handler', hint: 'did you mean "hello_world"?' });
  });

  it('a handler on a queue whose runner lacks it', () => {
    const own = new Map(catalog);
    own.set('gdal_only', { runners: ['container'], defaultRunner: 'container' });
    const r = loadWorkflow(
      JSON.stringify({
        workflow_id: 'q',
        name: 'q',
        nodes: {
          start: { type: 'start', next: 'a' },
          a: { handler: 'gdal_only', queue: 'functionapp-tasks', next: 'end' },
          end: { type: 'end' },
        },
      }),
      'q.yaml',
      { handlers: own },
    );
    expect(r.issues.map((i) => i.code)).toEqual(['handler_runner']);
  });

  it('template references to undeclared inputs and non-upstream nodes (regression)', () => {
    const r = load({
      inputs: { name: { type: 'string' } },
      nodes: {
        start: { type: 'start', next: ['a', 'b'] },
        a: {
          ...task('end'),
          params: { x: '{{ inputs.nmae }}', y: '{{ nodes.b.output.v }}', z: '{{ nodes.nope.output }}' },
        },
        b: task('end'),
        end: { type: 'end' },
      },
    });
    const byCode = Object.fromEntries(r.issues.map((i) => [i.code, i]));
    expect(byCode.unknown_input?.hint).toBe('did you mean "name"?');
    expect(byCode.not_upstream?.message).toContain('nodes.b, which is not upstream of a');
    expect(byCode.not_upstream?.path).toEqual(['nodes', 'a', 'params', 'y']);
    expect(byCode.unknown_node_reference).toBeDefined();
  });

  it('template syntax errors and item/index outside fan-out children', () => {
    const c = codes({
      nodes: {
        start: { type: 'start', next: 'a' },
        a: { ...task('end'), params: { x: '{{ inputs. }}', y: '{{ item }}' } },
        end: { type: 'end' },
      },
    });
    expect(c).toEqual(expect.arrayContaining(['template_syntax', 'child_variable']));
  });

  it('fan_in without an upstream fan_out', () => {
    expect(
      codes({
        nodes: {
          start: { type: 'start', next: 'g' },
          g: { type: 'fan_in', next: 'end' },
          end: { type: 'end' },
        },
      }),
    ).toContain('fan_in_without_fan_out');
  });

  it('conditional forms are checked', () => {
    const c = codes({
      nodes: {
        start: { type: 'start', next: ['c1', 'c2'] },
        c1: { type: 'conditional', branches: { true: 'end' } },
        c2: {
          type: 'conditional',
          condition_field: 'x',
          branches: [{ next: 'end' }, { default: true, next: 'end' }, { default: true, next: 'end' }],
        },
        end: { type: 'end' },
      },
    });
    expect(c.filter((x) => x === 'conditional_form').length).toBeGreaterThanOrEqual(3);
  });

  it('input defaults must match their type', () => {
    expect(
      codes({
        inputs: { n: { type: 'integer', default: 'five' } },
        nodes: { start: { type: 'start', next: 'end' }, end: { type: 'end' } },
      }),
    ).toEqual(['bad_default']);
  });

  it('collects problems of several kinds in one run', () => {
    const c = codes({
      nodes: {
        start: { type: 'start', next: 'a' },
        a: { handler: 'nope', next: 'b', params: { x: '{{ inputs.missing }}' } },
        b: task('a'),
        end: { type: 'end' },
      },
    });
    expect(new Set(c)).toEqual(new Set(['unknown_handler', 'cycle']));
  });
});

describe('bad input never crashes or hangs the loader', () => {
  it.each([
    ['empty', ''],
    ['scalar', '42'],
    ['list', '- a\n- b'],
    ['tabs', 'workflow_id:\tx\n\tname: y'],
    ['binary', '\u0000\u0001\u0002'],
    [
      'alias bomb',
      'a: &a [1,2]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
    ],
    ['deep nesting', '['.repeat(50_000)],
    ['huge', 'a: ' + 'x'.repeat(5 * 1024 * 1024)],
    ['duplicate keys', 'workflow_id: a\nworkflow_id: b\n'],
    ['nodes as list', 'workflow_id: a\nname: a\nnodes: [1, 2]\n'],
    ['node as scalar', 'workflow_id: a\nname: a\nnodes: {start: 5}\n'],
  ])('%s', (_name, text) => {
    const r = loadWorkflow(text, 'bad.yaml', { handlers: catalog });
    expect(r.plan).toBeUndefined();
    expect(r.issues.length).toBeGreaterThan(0);
    for (const i of r.issues) expect(formatIssue(i)).toMatch(/^bad\.yaml:\d+:\d+: /);
  });
});
