// Timer triggers: NCRONTAB parsing and next occurrences, runOnStartup, %SETTING% schedules, the
// timer object the @azure/functions library hands to the handler.
import path from 'node:path';
import type { Timer } from '@azure/functions';
import { describe, expect, it } from 'vitest';
import { startDevHost } from '../../devhost';
import { nextOccurrence, parseSchedule } from '../../devhost/ncrontab';
import { sampleState } from '../fixtures/devhost/sampleState';
import { fixtures, waitFor } from './helpers';

const next = (expr: string, after: string) =>
  nextOccurrence(parseSchedule(expr), new Date(after))?.toISOString();

describe('NCRONTAB schedules', () => {
  it('computes next occurrences (UTC, six fields)', () => {
    expect(next('0 */5 * * * *', '2024-01-01T10:02:30Z')).toBe('2024-01-01T10:05:00.000Z');
    expect(next('*/15 * * * * *', '2024-01-01T10:02:30Z')).toBe('2024-01-01T10:02:45.000Z');
    expect(next('0 0 9 * * MON-FRI', '2024-01-05T10:00:00Z')).toBe('2024-01-08T09:00:00.000Z'); // Fri → Mon
    expect(next('0 30 23 31 DEC *', '2024-06-01T00:00:00Z')).toBe('2024-12-31T23:30:00.000Z');
    expect(next('0 0 0 29 2 *', '2025-01-01T00:00:00Z')).toBe('2028-02-29T00:00:00.000Z');
    expect(next('0 0 12 1 * 1', '2024-01-01T00:00:00Z')).toBe('2024-01-01T12:00:00.000Z'); // Jan 1 2024 is a Monday
    expect(next('5,10 0 0 * * *', '2024-01-01T00:00:05Z')).toBe('2024-01-01T00:00:10.000Z');
    expect(
      nextOccurrence(
        parseSchedule('00:00:10'),
        new Date('2024-01-01T00:00:25Z'),
        new Date('2024-01-01T00:00:00Z'),
      )?.toISOString(),
    ).toBe('2024-01-01T00:00:30.000Z');
  });

  it('rejects malformed expressions with a clear message', () => {
    expect(() => parseSchedule('*/5 * * * *')).toThrow(/expected 6 NCRONTAB fields/);
    expect(() => parseSchedule('0 61 * * * *')).toThrow(/61 is outside 0-59/);
    expect(() => parseSchedule('0 * * * FOO *')).toThrow(/"FOO" is not a valid value/);
  });
});

describe('dev host: timer triggers', () => {
  it('runs on startup, on schedule and on demand', async () => {
    const state = sampleState();
    const before = state.timerRuns;
    const host = await startDevHost({
      appEntry: path.join(fixtures, 'timerApp.ts'),
      env: { TIMER_SCHEDULE: '*/1 * * * * *' },
    });
    try {
      await waitFor(async () => (state.timerRuns - before >= 2 ? true : undefined), 10_000, 'two timer runs');
      const runs = state.timerRuns;
      await host.runTimer('everySecond');
      expect(state.timerRuns).toBeGreaterThan(runs);
      const timers = (globalThis as unknown as { __devhostTimers: Timer[] }).__devhostTimers;
      expect(timers[0]).toMatchObject({ isPastDue: false, schedule: { adjustForDST: true } });
      expect(typeof timers[0]!.scheduleStatus?.next).toBe('string');
    } finally {
      await host.stop();
    }
    const after = state.timerRuns;
    await new Promise((r) => setTimeout(r, 1200));
    expect(state.timerRuns).toBe(after); // stopped means stopped
  });
});
