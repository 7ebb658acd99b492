// The wait of queued container attempts for their results (runScheduler's 'results' units). Each
// result comes as an external event named after its task id. From scheduler version 4, when the
// enqueue call says its results come together (EnqueueTasksOutput.together: the product's workers on
// a fan-out batch), the trigger raises the results of one result message for one enqueue call as ONE
// event, named after the first of their task ids and carrying them all (ResultsEventSchema): one
// history event and one episode for many tasks, where each result used to cost both (and Azure
// Storage delivers about 50 external events a second to one instance).
//
// Such a unit wakes on the first of its events (Task.any), not when all have come (Task.all), and
// waits again for the attempts still waiting, on their same waiters, with a new timer at the same
// deadline. The same waiters: the SDK hands an event to the newest waiter tracked for its name, so a
// new waiter not yet yielded (the loop may yield another call first) would let the old one take the
// event, unseen. A waiter joins the new Task.any (which becomes its parent) while it is still
// pending: both happen in the same step, so it cannot complete in between. Every event name is a
// task id that receives one event, so the SDK tracking a waiter twice (the loop yields a unit in
// flight again) changes nothing.
import type * as df from 'durable-functions';
import { AttemptOutcomeSchema, ResultsEventSchema, type AttemptOutcome } from '../lib/containerMessages';
import { attemptRef, type AttemptRef, type InFlight } from './inFlight';

export type ResultsUnit = Extract<InFlight, { kind: 'results' }>;

/**
 * The wait for the results of `attempts` until `deadline` (ms); `together`: several per event. An
 * attempt that brings its waiter (a wait again) keeps it.
 */
export function awaitResults(
  d: df.DurableOrchestrationContext,
  attempts: Array<AttemptRef & { event?: df.Task }>,
  deadline: number,
  together = false,
): ResultsUnit {
  // The order of these calls is part of the histories recorded before version 4: keep it. A wait
  // again passes its pending attempts as collectResults returned them (waiter included): reused as
  // they are, since every replay re-arms each unit once per event.
  const waiting = attempts.map((a) =>
    a.event
      ? (a as AttemptRef & { event: df.Task })
      : { ...attemptRef(a), event: d.waitForExternalEvent(a.taskId) },
  );
  const timer = d.createTimer(new Date(deadline));
  const events = waiting.map((a) => a.event);
  const task = together
    ? d.Task.any([...events, timer])
    : d.Task.any([events.length === 1 ? events[0]! : d.Task.all(events), timer]);
  return {
    kind: 'results',
    task,
    attempts: waiting,
    timer,
    deadline,
    ...(together ? { together } : {}),
    fresh: true,
  };
}

export interface CollectedResults {
  outcomes: Array<{ ref: AttemptRef; outcome: AttemptOutcome } | { ref: AttemptRef; invalid: string }>;
  /** No result yet, the deadline not come: to wait for again, on the same waiters (an event woke the unit). */
  pending: Array<AttemptRef & { event: df.Task }>;
  /** The deadline passed without a result: Postgres is asked (dagSettleAttempts). */
  overdue: AttemptRef[];
}

/** What a finished wait brought: a result per attempt, else pending or overdue. */
export function collectResults(u: ResultsUnit): CollectedResults {
  // Results that came in another attempt's event (together), by task id.
  const carried = new Map<string, AttemptOutcome>();
  const own = new Map<string, AttemptOutcome | { invalid: string }>();
  for (const a of u.attempts) {
    if (!a.event.isCompleted) continue;
    const result: unknown = a.event.result;
    // Several results (together) or one; the shape says which, so a wait does not pay for a failed
    // parse per event.
    const many =
      u.together && typeof result === 'object' && result !== null && 'results' in result
        ? ResultsEventSchema.safeParse(result)
        : undefined;
    if (many?.success) {
      for (const r of many.data.results) carried.set(r.task_id, r.outcome);
      continue;
    }
    const single = AttemptOutcomeSchema.safeParse(result);
    own.set(
      a.taskId,
      single.success
        ? single.data
        : { invalid: `invalid attempt result: ${single.error.issues[0]?.message ?? 'unknown'}` },
    );
  }
  const out: CollectedResults = { outcomes: [], pending: [], overdue: [] };
  for (const a of u.attempts) {
    const o = own.get(a.taskId) ?? carried.get(a.taskId);
    if (o) {
      const ref = attemptRef(a);
      out.outcomes.push('invalid' in o ? { ref, invalid: o.invalid } : { ref, outcome: o });
    }
    // The deadline passed without a result event: the worker died, the queue lost the task, or the
    // result was recorded while this app could not hear it. Postgres says which.
    else if (u.timer.isCompleted) out.overdue.push(attemptRef(a));
    // Still waiting: the same attempt, with its waiter (awaitResults reuses it as it is).
    else out.pending.push(a);
  }
  return out;
}
