// What a finished wait of queued container attempts brought (orchestrations/awaitResults.ts): results
// raised alone or several in one event (named after the first of their tasks), pending or overdue.
import type * as df from 'durable-functions';
import { describe, expect, it } from 'vitest';
import { collectResults, type ResultsUnit } from '../../orchestrations/awaitResults';

const task = (result?: unknown) => ({ isCompleted: result !== undefined, result }) as unknown as df.Task;
const ref = (n: number) => ({ key: `f__${n}`, attempt: 0, taskId: `j_f__${n}_0`, timeoutSeconds: 60 });

function unit(events: Array<unknown>, timerFired = false, together = true): ResultsUnit {
  return {
    kind: 'results',
    task: task(),
    attempts: events.map((e, i) => ({ ...ref(i), event: task(e) })),
    timer: { isCompleted: timerFired } as unknown as df.TimerTask,
    deadline: 0,
    ...(together ? { together } : {}),
    fresh: false,
  };
}

describe('collectResults', () => {
  it('spreads an event carrying several results to the attempts it names; the others wait', () => {
    const many = {
      results: [
        { task_id: 'j_f__0_0', outcome: { ok: true } },
        { task_id: 'j_f__2_0', outcome: { ok: false, error: 'boom', retryable: false } },
        { task_id: 'someone_else_0', outcome: { ok: true } },
      ],
    };
    const u = unit([many, undefined, undefined, { ok: true }]);
    const r = collectResults(u);
    expect(r.outcomes).toEqual([
      { ref: ref(0), outcome: { ok: true } },
      { ref: ref(2), outcome: { ok: false, error: 'boom', retryable: false } },
      { ref: ref(3), outcome: { ok: true } },
    ]);
    expect(r.pending.map(({ event: _e, ...x }) => x)).toEqual([ref(1)]);
    // Waited for again on the same waiter (a new one could let the old one take its event unseen).
    expect(r.pending[0]!.event).toBe(u.attempts[1]!.event);
    expect(r.overdue).toEqual([]);
  });

  it('is overdue once the timer fired; an unreadable result fails its attempt', () => {
    const r = collectResults(unit([{ nonsense: 1 }, undefined], true));
    expect(r.outcomes).toEqual([
      { ref: ref(0), invalid: expect.stringMatching(/^invalid attempt result: /) },
    ]);
    expect(r.overdue).toEqual([ref(1)]);
    expect(r.pending).toEqual([]);
  });

  it('reads several results in one event only when the unit asked for them (scheduler version 4)', () => {
    const many = {
      results: [
        { task_id: 'j_f__0_0', outcome: { ok: true } },
        { task_id: 'j_f__1_0', outcome: { ok: true } },
      ],
    };
    const r = collectResults(unit([many, undefined], true, false));
    expect(r.outcomes).toEqual([{ ref: ref(0), invalid: expect.stringMatching(/^invalid attempt result/) }]);
    expect(r.overdue).toEqual([ref(1)]);
  });
});
