import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../cli/main';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (s: string) => out.push(s), err: (s: string) => err.push(s) }, out, err };
}

describe('dagmaster validate', () => {
  it('exits 0 for the shipped workflows', async () => {
    const c = capture();
    expect(await runCli(['validate', path.join(__dirname, '..', '..', 'workflows')], c.io)).toBe(0);
    expect(c.out).toEqual([]);
  });

  it('exits 1 with file:line:col lines for every problem of every file', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'wf-'));
    writeFileSync(
      path.join(dir, 'a.yaml'),
      'workflow_id: a\nname: a\nnodes:\n  start: {type: start, next: x}\n  end: {type: end}\n',
    );
    writeFileSync(path.join(dir, 'b.yml'), 'workflow_id: b\nname: b\nnodes: [\n');
    writeFileSync(path.join(dir, 'ignored.txt'), 'not yaml');
    const c = capture();
    expect(await runCli(['validate', dir], c.io)).toBe(1);
    expect(
      c.out.some((l) =>
        l.startsWith(`${path.join(dir, 'a.yaml')}:4:30: nodes.start.next: next "x" is not a node`),
      ),
    ).toBe(true);
    expect(c.out.some((l) => l.startsWith(`${path.join(dir, 'b.yml')}:`))).toBe(true);
    expect(c.err.at(-1)).toMatch(/0 of 2 workflow file\(s\) valid/);
  });

  it('exits 2 on usage errors', async () => {
    expect(await runCli(['validate'], capture().io)).toBe(2);
    expect(await runCli(['frobnicate'], capture().io)).toBe(2);
  });
});

describe('dagmaster schema', () => {
  it('prints the JSON Schema', async () => {
    const c = capture();
    expect(await runCli(['schema', '--json-schema'], c.io)).toBe(0);
    expect(JSON.parse(c.out.join('\n'))).toMatchObject({ title: 'rmhdagmaster workflow', type: 'object' });
  });
});
