// Property test: random orchestrations (activities, retries, Task.all/any with failures, timers,
// timer races with cancel, sub-orchestrations with and without retry) must complete with the
// expected output while test mode cross-checks the host's task ids with the SDK after every episode.
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expectedOutput, type Item, type Step } from '../fixtures/devhost/randomProgram';
import { fixtures, useDevHost } from './helpers';

const host = useDevHost({ appEntry: path.join(fixtures, 'randomProgramApp.ts') });

const item: fc.Arbitrary<Item> = fc.record({
  fail: fc.integer({ min: 0, max: 3 }).map((x) => x === 0),
  delay: fc.integer({ min: 0, max: 8 }),
});
const leaf: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ t: fc.constant('act' as const), fail: fc.boolean(), delay: fc.integer({ min: 0, max: 8 }) }),
  fc.record({
    t: fc.constant('retry' as const),
    failures: fc.integer({ min: 0, max: 3 }),
    max: fc.integer({ min: 1, max: 3 }),
    delay: fc.integer({ min: 0, max: 5 }),
  }),
  fc.record({ t: fc.constant('all' as const), items: fc.array(item, { minLength: 1, maxLength: 4 }) }),
  fc.record({ t: fc.constant('any' as const), items: fc.array(item, { minLength: 1, maxLength: 3 }) }),
  fc.record({ t: fc.constant('timer' as const), ms: fc.integer({ min: 1, max: 15 }) }),
  fc.record({
    t: fc.constant('race' as const),
    delay: fc.integer({ min: 0, max: 15 }),
    ms: fc.integer({ min: 1, max: 15 }),
  }),
  fc.record({
    t: fc.constant('subRetry' as const),
    failures: fc.integer({ min: 0, max: 2 }),
    max: fc.integer({ min: 1, max: 3 }),
  }),
);
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: leaf },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('sub' as const),
      steps: fc.array(leaf, { minLength: 1, maxLength: 3 }),
    }),
  },
);
const program = fc.array(step, { minLength: 1, maxLength: 6 });

let n = 0;

describe('dev host: random orchestrations in test mode', () => {
  it('complete with the expected output and no task id drift', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(program, { minLength: 4, maxLength: 4 }), async (programs) => {
        const ids = await Promise.all(
          programs.map((steps) =>
            host().startNew('randomProgram', { instanceId: `prog-${++n}`, input: { steps } }),
          ),
        );
        for (let i = 0; i < ids.length; i++) {
          const s = await host().waitForCompletion(ids[i]!, 20_000);
          expect(s.runtimeStatus, String(s.output)).toBe('Completed');
          expect(s.output).toEqual(expectedOutput(programs[i]!));
        }
      }),
      { numRuns: 12 },
    );
  });
});
