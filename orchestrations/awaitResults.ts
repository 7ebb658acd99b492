// The wait of queued container attempts for their results (runScheduler's 'results' units). Each
// result comes as an external event named after its task id. From scheduler version 4, when the
// enqueue call says its results come together (EnqueueTasksOutput.together: the product's workers on
// a fan-out batch), the trigger raises the results of one result message for one enqueue call as ONE
// event, named after the first of their task ids and carrying them all (ResultsEventSchema): one
// history event and one episode for many tasks, where each result used to cost both (and Azure
// Storage delivers about 50 external events a second to one instance).
//
// Such a unit wakes on the first of its events (Task.any), not when all have come (Task.all), and
// arms a new wait for the attempts still waiting, with a new timer at the same deadline (a task
// already yielded cannot join a new Task.any: runScheduler.ts). Every event name is still a task id
// that receives one event: a waiter yielded twice (the loop waits on a unit in flight by yielding it
// again, which the SDK tracks as a second waiter for the same name) can then never swallow an event
// meant for a later wait.
import type * as df from 'durable-functions';
import { AttemptOutcomeSchema, ResultsEventSchema, type AttemptOutcome } from '../lib/containerMessages';
import { attemptRef, type AttemptRef, type InFlight } from './inFlight';

export type ResultsUnit = Extract<InFlight, { kind: 'results' }>;

/** The wait for the results of `attempts` until `deadline` (ms); `together`: several per event. */
export function awaitResults(
  d: df.DurableOrchestrationContext,
  attempts: AttemptRef[],
  deadline: number,
  together = false,
): ResultsUnit {
  // The order of these calls is part of the histories recorded before version 4: keep it.
  const waiting = attempts.map((a) => ({ ...a, event: d.waitForExternalEvent(a.taskId) }));
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
  /** No result yet, the deadline not come: to wait for again (an event woke the unit). */
  pending: AttemptRef[];
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
    const single = AttemptOutcomeSchema.safeParse(a.event.result);
    if (single.success) {
      own.set(a.taskId, single.data);
      continue;
    }
    const many = u.together ? ResultsEventSchema.safeParse(a.event.result) : undefined;
    if (many?.success) for (const r of many.data.results) carried.set(r.task_id, r.outcome);
    else
      own.set(a.taskId, {
        invalid: `invalid attempt result: ${single.error.issues[0]?.message ?? 'unknown'}`,
      });
  }
  const out: CollectedResults = { outcomes: [], pending: [], overdue: [] };
  for (const a of u.attempts) {
    const ref = attemptRef(a);
    const o = own.get(a.taskId) ?? carried.get(a.taskId);
    if (o) out.outcomes.push('invalid' in o ? { ref, invalid: o.invalid } : { ref, outcome: o });
    // The deadline passed without a result event: the worker died, the queue lost the task, or the
    // result was recorded while this app could not hear it. Postgres says which.
    else (u.timer.isCompleted ? out.overdue : out.pending).push(ref);
  }
  return out;
}
