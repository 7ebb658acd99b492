// What the scheduler loop waits on: the units in flight (runner calls, enqueues, queued container
// results, settle calls, fan-out sub-orchestrations) and the attempts each one carries.
import type * as df from 'durable-functions';

export interface AttemptRef {
  key: string;
  attempt: number;
  taskId: string;
  timeoutSeconds: number;
}

export type InFlight = (
  | {
      /** One runner call: a task attempt, or a batch of a fan-out's children. */
      kind: 'run';
      task: df.Task;
      attempts: AttemptRef[];
      /** Task nodes the runner may run after the attempt in the same call (a straight chain). */
      then?: AttemptRef[];
    }
  | {
      /** One enqueue call: a container attempt, or a batch of a fan-out's children. */
      kind: 'enqueue';
      task: df.Task;
      attempts: AttemptRef[];
      deadline: number;
      /** Asked for their results to come several per event (scheduler version 4). */
      resultsEvent?: string;
    }
  | {
      /** Queued container attempts: their result events, all raced against one deadline timer. */
      kind: 'results';
      task: df.Task;
      attempts: Array<AttemptRef & { event: df.Task }>;
      timer: df.TimerTask;
      /** The timer's time (ms). */
      deadline: number;
      /** Several results may come in one event: wake on the first (scheduler version 4: awaitResults.ts). */
      together?: boolean;
    }
  | {
      /** Timed-out attempts being settled against Postgres (a result may be recorded there). */
      kind: 'settle';
      task: df.Task;
      attempts: AttemptRef[];
    }
  | { kind: 'fan_out'; task: df.Task; node: string; count: number }
) & {
  /** Not yielded yet: it goes into the next Task.any (which schedules it). */
  fresh: boolean;
};

/** The plain data of an attempt (a results unit's attempts also carry their event task, which is not data). */
export function attemptRef({ key, attempt, taskId, timeoutSeconds }: AttemptRef): AttemptRef {
  return { key, attempt, taskId, timeoutSeconds };
}
