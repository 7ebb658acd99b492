// The one YAML reader (js-yaml) and the locator that gives problems their file:line:col.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_EXPANDED_VALUES, readYaml } from '../../dag/readYaml';
import { positionAt, yamlLocator } from '../../dag/yamlLocator';
import { loadWorkflow } from '../../dag/loadWorkflow';
import { formatIssue } from '../../dag/workflowIssue';

const doc = [
  '# a comment before anything',
  'workflow_id: w',
  'nodes:',
  '  start: {type: start, next: a}',
  '',
  '  a:',
  '    # a comment inside',
  '    type: task',
  '    empty:',
  '    next:',
  '      - b',
  '      -   c',
  '  "quoted key": {"x":1}',
  '',
].join('\n');

describe('yamlLocator', () => {
  const at = yamlLocator(doc);
  it.each([
    [['workflow_id'], false, 2, 14],
    [['workflow_id'], true, 2, 1],
    [['nodes'], false, 4, 3],
    [['nodes', 'start'], false, 4, 10],
    [['nodes', 'start', 'next'], false, 4, 30],
    [['nodes', 'start', 'next'], true, 4, 24],
    [['nodes', 'a'], false, 8, 5],
    [['nodes', 'a', 'type'], false, 8, 11],
    [['nodes', 'a', 'empty'], true, 9, 5],
    [['nodes', 'a', 'next', 0], false, 11, 9],
    [['nodes', 'a', 'next', 1], false, 12, 11],
    [['nodes', 'quoted key', 'x'], false, 13, 22],
    [['nodes', 'quoted key', 'x'], true, 13, 18],
  ] as const)('%j (at key: %s) is at %i:%i', (path, atKey, line, col) => {
    expect(at([...path], atKey)).toEqual({ line, col });
  });

  it('a path past the document points at its nearest existing ancestor', () => {
    expect(at(['nodes', 'a', 'retry', 'max_attempts'])).toEqual({ line: 8, col: 5 });
    expect(at(['nodes', 'a', 'next', 7])).toEqual({ line: 11, col: 7 });
    expect(at(['nope'])).toEqual({ line: 2, col: 1 });
  });

  it('a text that does not parse locates everything at its start', () => {
    expect(yamlLocator('a: [1,\n')(['a'])).toEqual({ line: 1, col: 1 });
  });

  it('positionAt counts lines and columns from 1', () => {
    expect(positionAt('ab\ncd\n', 0)).toEqual({ line: 1, col: 1 });
    expect(positionAt('ab\ncd\n', 4)).toEqual({ line: 2, col: 2 });
    expect(positionAt('ab\ncd\n', 6)).toEqual({ line: 3, col: 1 });
  });
});

describe('readYaml', () => {
  it('reads the YAML 1.2 core schema (yes/on stay strings, ~ is null)', () => {
    expect(readYaml('a: yes\nb: on\nc: ~\nd: 0x10\ne: 1e3\nf: .inf\n')).toEqual({
      ok: true,
      value: { a: 'yes', b: 'on', c: null, d: 16, e: 1000, f: Infinity },
    });
  });

  it('an empty document is null', () => {
    expect(readYaml('')).toEqual({ ok: true, value: null });
    expect(readYaml('# only a comment\n')).toEqual({ ok: true, value: null });
  });

  it('syntax errors carry the position js-yaml found', () => {
    const r = readYaml('a: 1\nb: [1, 2\nc: 3\n');
    expect(r).toMatchObject({ ok: false, code: 'yaml_syntax' });
    if (r.ok) return;
    expect(r.message).toMatch(/^YAML syntax error: /);
    expect(r.line).toBeGreaterThanOrEqual(2);
  });

  it('duplicate keys are an error at the second key', () => {
    expect(readYaml('a: 1\nb: 2\na: 3\n')).toMatchObject({
      ok: false,
      message: 'YAML syntax error: duplicated mapping key',
      line: 3,
    });
  });

  it.each([
    ['double', 'a: 1\nb: "open\nc: 2\n', 2, 4],
    ['single', "a: 'it''s'\nb:\n  - 'open\n", 3, 5],
  ])('an unterminated %s quote points at where it opens', (kind, text, line, col) => {
    expect(readYaml(text)).toEqual({
      ok: false,
      code: 'yaml_syntax',
      message: `YAML syntax error: the ${kind} quote opened here is never closed`,
      hint: 'fix the YAML syntax (indentation, quotes, colons)',
      line,
      col,
    });
  });

  it('aliases become independent copies', () => {
    const r = readYaml('base: &r {max_attempts: 2, backoff: [1, 2]}\na: *r\nb: *r\n');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const v = r.value as Record<string, { backoff: number[] }>;
    expect(v.a).toEqual({ max_attempts: 2, backoff: [1, 2] });
    expect(v.a).not.toBe(v.b);
    v.a!.backoff.push(3);
    expect(v.b!.backoff).toEqual([1, 2]);
  });

  it('an alias bomb is refused with its bound', () => {
    const levels = ['l0: &l0 [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 7; i++)
      levels.push(
        `l${i}: &l${i} [${Array(10)
          .fill(`*l${i - 1}`)
          .join(', ')}]`,
      );
    const r = readYaml(levels.join('\n'));
    expect(r).toMatchObject({
      ok: false,
      code: 'yaml_syntax',
      message: `the YAML could not be read: its aliases expand to more than ${MAX_EXPANDED_VALUES} values`,
    });
  });

  it('an alias inside its own anchor (a cycle) is refused', () => {
    expect(readYaml('a: &a [1, *a]\n')).toMatchObject({
      ok: false,
      message: 'the YAML could not be read: an alias refers to a node that contains it (a cycle)',
    });
  });

  it('"__proto__" keys stay own data keys, through aliases too', () => {
    const r = readYaml('x: &x {__proto__: {polluted: 1}}\ny: *x\n');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const y = (r.value as Record<string, object>).y!;
    expect(Object.hasOwn(y, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(y)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('loading a workflow through them', () => {
  it('syntax errors are file:line:col problems', () => {
    const r = loadWorkflow('workflow_id: w\nname: "w\nnodes: {}\n', 'wf.yaml');
    expect(r.issues.map(formatIssue)).toEqual([
      'wf.yaml:2:7: (document): YAML syntax error: the double quote opened here is never closed (fix the YAML syntax (indentation, quotes, colons))',
    ]);
  });

  it('a reserved "__proto__" key is reported at its value', () => {
    const r = loadWorkflow('workflow_id: w\nname: w\nnodes:\n  __proto__: {type: end}\n', 'wf.yaml');
    expect(r.issues.find((i) => i.code === 'reserved_key')).toMatchObject({ line: 4, col: 14 });
  });
});

describe('one YAML library', () => {
  const ROOT = path.join(__dirname, '..', '..');
  const files = (dir: string): string[] =>
    readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
      e.isDirectory()
        ? files(path.join(dir, e.name))
        : /\.(ts|mjs)$/.test(e.name)
          ? [path.join(dir, e.name)]
          : [],
    );

  it('js-yaml is the only one the project depends on or imports', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as Record<
      string,
      Record<string, string>
    >;
    expect(
      Object.keys({ ...pkg.dependencies, ...pkg.devDependencies })
        .filter((d) => /yaml/.test(d))
        .sort(),
    ).toEqual(['@types/js-yaml', 'js-yaml']);
    const dirs = readdirSync(ROOT, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !/^(node_modules|\..*)$/.test(e.name))
      .map((e) => e.name);
    const importers = dirs
      .flatMap(files)
      .filter((f) =>
        /from ['"]yaml['"]|require\(['"]yaml['"]\)/.test(readFileSync(path.join(ROOT, f), 'utf8')),
      );
    expect(importers).toEqual([]);
  });
});
