// Bad input never crashes or hangs the loader: 10,000+ generated and mutated documents each give
// a workflow or a list of file:line:col problems.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { dump } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { loadWorkflow } from '../../dag/loadWorkflow';
import { formatIssue } from '../../dag/workflowIssue';
import { catalog } from '../support/workflows';

// Thousands of documents take 10–25 s on a loaded 2-core machine: a generous limit, so that only a
// hang (which the property is about) fails the test, not a slow neighbour.
const FUZZ_TIMEOUT_MS = 300_000;
const dir = path.join(__dirname, '..', '..', 'workflows');
const seeds = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => readFileSync(path.join(dir, f), 'utf8'));

function check(text: string): void {
  let r;
  try {
    r = loadWorkflow(text, 'fuzz.yaml', { handlers: catalog });
  } catch (err) {
    throw new Error(`loader threw on ${JSON.stringify(text.slice(0, 200))}: ${(err as Error).stack}`);
  }
  if (!r.plan) {
    expect(r.issues.length).toBeGreaterThan(0);
    for (const i of r.issues) expect(formatIssue(i)).toMatch(/^fuzz\.yaml:\d+:\d+: .+/);
  } else {
    expect(r.issues).toEqual([]);
  }
}

const TOKENS = [
  ':',
  '-',
  '[',
  ']',
  '{',
  '}',
  '&a',
  '*a',
  '!!binary',
  '|',
  '>',
  '"',
  "'",
  '#',
  '\t',
  '\n',
  '  ',
  '{{',
  '}}',
  '%',
  '@',
  '`',
  'null',
  'true',
  '~',
  '\u0000',
  '\uFFFF',
  '😀',
  'next',
  'type',
  'nodes',
  'depends_on',
  'branches',
  '<<',
];

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('delete-line' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('duplicate-line' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('indent' as const), at: fc.nat(), by: fc.integer({ min: -4, max: 4 }) }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    text: fc.oneof(fc.constantFrom(...TOKENS), fc.string({ maxLength: 8 })),
  }),
  fc.record({ kind: fc.constant('swap-lines' as const), at: fc.nat(), with: fc.nat() }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
);

function mutate(
  text: string,
  ms: Array<fc.Arbitrary<unknown> extends never ? never : ReturnType<typeof mutation.generate>['value']>,
): string {
  let lines = text.split('\n');
  for (const m of ms) {
    const i = lines.length ? m.at % lines.length : 0;
    switch (m.kind) {
      case 'delete-line':
        lines.splice(i, 1);
        break;
      case 'duplicate-line':
        lines.splice(i, 0, lines[i] ?? '');
        break;
      case 'indent':
        lines[i] = m.by >= 0 ? ' '.repeat(m.by) + (lines[i] ?? '') : (lines[i] ?? '').slice(-m.by);
        break;
      case 'insert': {
        const line = lines[i] ?? '';
        const col = line.length ? m.at % line.length : 0;
        lines[i] = line.slice(0, col) + m.text + line.slice(col);
        break;
      }
      case 'swap-lines': {
        const j = lines.length ? m.with % lines.length : 0;
        [lines[i], lines[j]] = [lines[j] ?? '', lines[i] ?? ''];
        break;
      }
      case 'truncate':
        lines = lines.slice(0, i);
        break;
    }
  }
  return lines.join('\n');
}

describe('loader fuzzing', () => {
  it(
    'mutated seed workflows (5,000 documents)',
    () => {
      fc.assert(
        fc.property(
          fc.nat({ max: seeds.length - 1 }),
          fc.array(mutation, { minLength: 1, maxLength: 6 }),
          (s, ms) => {
            check(mutate(seeds[s]!, ms));
          },
        ),
        { numRuns: 5000 },
      );
    },
    FUZZ_TIMEOUT_MS,
  );

  it(
    'random structures serialized as YAML (3,000 documents)',
    () => {
      const nodeish = fc.dictionary(
        fc.constantFrom(
          'type',
          'handler',
          'next',
          'depends_on',
          'branches',
          'params',
          'retry',
          'source',
          'task',
          'condition',
          'x',
        ),
        fc.oneof(
          fc.jsonValue({ maxDepth: 3 }),
          fc.constantFrom('start', 'end', 'task', 'echo', 'a', '{{ inputs.x }}', '{{ nodes.a.output }}'),
        ),
      );
      fc.assert(
        fc.property(
          fc.record({
            workflow_id: fc.oneof(fc.constant('fz'), fc.string(), fc.integer()),
            name: fc.oneof(fc.constant('fz'), fc.jsonValue({ maxDepth: 1 })),
            nodes: fc.oneof(
              fc.dictionary(fc.constantFrom('start', 'a', 'b', 'end', 'c__d', ''), nodeish),
              fc.jsonValue({ maxDepth: 2 }),
            ),
            inputs: fc.option(fc.jsonValue({ maxDepth: 3 }), { nil: undefined }),
          }),
          (doc) => check(dump(doc)),
        ),
        { numRuns: 3000 },
      );
    },
    FUZZ_TIMEOUT_MS,
  );

  it(
    'random and adversarial text (2,000 documents)',
    () => {
      fc.assert(
        fc.property(
          fc.oneof(
            fc.string({ maxLength: 200 }),
            fc.array(fc.constantFrom(...TOKENS), { maxLength: 60 }).map((t) => t.join('')),
            fc.integer({ min: 1, max: 20_000 }).map((n) => '- '.repeat(n)),
            fc.integer({ min: 1, max: 20_000 }).map((n) => '{a: '.repeat(n)),
            fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('latin1')),
          ),
          check,
        ),
        { numRuns: 2000 },
      );
    },
    FUZZ_TIMEOUT_MS,
  );
});
