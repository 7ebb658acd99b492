// Golden histories: every sample orchestration is run through the dev host and its history, in the
// normal form of canonicalHistory.ts, is compared with the file checked in under
// test/fixtures/devhost/golden/. UPDATE_GOLDEN=1 rewrites the files (review the diff!). With
// CI=true a missing file is a failure.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DevHost } from '../../devhost';
import { sampleState } from '../fixtures/devhost/sampleState';
import { canonicalHistory } from './canonicalHistory';
import { fixtures, useDevHost, waitFor } from './helpers';

const host = useDevHost();
const goldenDir = path.join(fixtures, 'golden');

interface Case {
  name: string;
  orchestrator: string;
  input?: unknown;
  /** Drives the instance while it runs (external events, ...). */
  drive?: (host: DevHost, id: string) => Promise<void>;
}

const running = (h: DevHost, id: string) =>
  waitFor(async () => (await h.getStatus(id))?.runtimeStatus === 'Running');

const cases: Case[] = [
  { name: 'helloSequence', orchestrator: 'helloSequence' },
  { name: 'fanOut', orchestrator: 'fanOut', input: 5 },
  { name: 'retry', orchestrator: 'retry' },
  { name: 'retryExhausted', orchestrator: 'retryExhausted' },
  { name: 'caughtFailure', orchestrator: 'caughtFailure' },
  { name: 'uncaughtFailure', orchestrator: 'uncaughtFailure' },
  { name: 'failingOrchestrator', orchestrator: 'failingOrchestrator' },
  {
    name: 'timerRace-approved',
    orchestrator: 'timerRace',
    input: { timeoutMs: 600_000 },
    drive: async (h, id) => {
      await running(h, id);
      await h.raiseEvent(id, 'approve', 'yes');
    },
  },
  { name: 'timerRace-timeout', orchestrator: 'timerRace', input: { timeoutMs: 20 } },
  {
    name: 'bufferedEvents',
    orchestrator: 'bufferedEvents',
    drive: async (h, id) => {
      await h.raiseEvent(id, 'go', 'first');
      await h.raiseEvent(id, 'go', 'second');
    },
  },
  { name: 'parent', orchestrator: 'parent' },
  { name: 'counter', orchestrator: 'counter', input: 2 },
  {
    name: 'customStatus',
    orchestrator: 'customStatus',
    drive: async (h, id) => {
      await waitFor(
        async () => ((await h.getStatus(id))?.customStatus as { stage?: string } | null)?.stage === 'two',
      );
      await h.raiseEvent(id, 'finish');
    },
  },
  {
    name: 'terminated',
    orchestrator: 'waitForever',
    drive: async (h, id) => {
      await running(h, id);
      await h.terminate(id, 'golden');
    },
  },
  { name: 'inputs', orchestrator: 'inputs', input: 'top' },
  {
    name: 'nondeterministic',
    orchestrator: 'nondeterministic',
    drive: async (h, id) => {
      await waitFor(async () => ((await h.getHistory(id)).some((e) => e.EventType === 5) ? true : undefined));
      sampleState().variant = 'b';
      await h.raiseEvent(id, 'go');
      await h.waitForCompletion(id);
      sampleState().variant = 'a';
    },
  },
  { name: 'usesEntity', orchestrator: 'usesEntity' },
];

describe('golden histories', () => {
  it.each(cases)('$name', async (c) => {
    const id = `golden-${c.name}`;
    await host().startNew(c.orchestrator, { instanceId: id, input: c.input });
    await c.drive?.(host(), id);
    await host().waitForCompletion(id, 20_000);
    const actual = canonicalHistory(await host().getHistory(id));
    const file = path.join(goldenDir, `${c.name}.json`);
    if (process.env.UPDATE_GOLDEN === '1' || (!existsSync(file) && process.env.CI !== 'true')) {
      writeFileSync(file, JSON.stringify(actual, null, 2) + '\n');
    }
    if (!existsSync(file))
      throw new Error(`Missing golden history ${file}: run the test with UPDATE_GOLDEN=1 and review it`);
    expect(actual).toEqual(JSON.parse(readFileSync(file, 'utf8')));
  });
});
