import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { summarize, type JobBody } from '../../cli/jobClient';
import { runCli } from '../../cli/main';
import { unterminatedQuote } from '../../dag/readYaml';

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

describe('CLI output details', () => {
  it('the run summary lists nodes in the order they ran, those that never ran last', () => {
    const d: JobBody = {
      job: { job_id: 'j', status: 'failed', error_message: 'Node "b" failed: x', result_data: null },
      nodes: [
        {
          node_id: 'end',
          status: 'skipped',
          error_message: null,
          started_at: null,
          completed_at: '2026-01-01T00:00:09.000Z',
        },
        {
          node_id: 'z_first',
          status: 'completed',
          error_message: null,
          started_at: '2026-01-01T00:00:01.000Z',
          completed_at: '2026-01-01T00:00:02.000Z',
        },
        {
          node_id: 'b',
          status: 'failed',
          error_message: 'x',
          started_at: '2026-01-01T00:00:03.000Z',
          completed_at: '2026-01-01T00:00:04.000Z',
        },
        { node_id: 'a_never', status: 'pending', error_message: null, started_at: null, completed_at: null },
        {
          node_id: 'START',
          status: 'completed',
          error_message: null,
          started_at: null,
          completed_at: '2026-01-01T00:00:00.000Z',
        },
      ],
      node_summary: {},
    };
    const names = summarize(d)
      .split('\n')
      .filter((l) => l.startsWith('  '))
      .map((l) => l.trim().split(/\s+/)[0]);
    expect(names).toEqual(['START', 'z_first', 'b', 'end', 'a_never']);
  });

  it('an unterminated quote is reported where it opens, not at the end of the file', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'wf-'));
    const f = path.join(dir, 'q.yaml');
    writeFileSync(
      f,
      'workflow_id: q\nname: "abc\nnodes:\n  start: {type: start, next: end}\n  end: {type: end}\n',
    );
    const c = capture();
    expect(await runCli(['validate', f], c.io)).toBe(1);
    expect(c.out).toEqual([
      `${f}:2:7: (document): YAML syntax error: the double quote opened here is never closed (fix the YAML syntax (indentation, quotes, colons))`,
    ]);
    expect(unterminatedQuote("a: 'it''s'\nb: \"x\\\"y\"\nc: don't # 'x\nd: 'open\n")).toBe(
      "a: 'it''s'\nb: \"x\\\"y\"\nc: don't # 'x\nd: ".length,
    );
    expect(unterminatedQuote('a: "closed"\n# "not a value\n')).toBeUndefined();
  });
});
