// The orchestration loop around the pure scheduler, shared by the job orchestration and the
// fan-out chunk orchestration: decide → record/evaluate (one batched activity) → dispatch →
// wait for whatever finishes first (an attempt, a container result, a timer, cancel) → apply.
//
// Replay-safe by construction: time is context.df.currentUtcDateTime, ids are task ids derived
// from (job, node, attempt), every branch depends only on replayed task results. Activities
// return {ok:false} for expected failures, so no Task.any ever fails fast.
//
// How it waits matters: durable-functions v3 re-sends the actions of every child of a new Task.any,
// and the Durable extension schedules them again (azure-functions-durable-js #574) — an activity
// already started would run twice. So a task is put in a Task.any only the first time it is
// yielded (with the other new tasks, a fresh cancel waiter and a fresh wake timer); afterwards the
// loop waits on the oldest unit alone, which the SDK never re-sends, and then takes every unit
// that completed meanwhile. Queued container attempts are one unit: their result events raced
// against one timer at their deadline, all created together.
//
// A deadline that passes is not a failure by itself: the worker may have finished while the Function
// App could not hear it (down, redeployed, its result message held by a crashed instance). Timed-out
// attempts go to one settle activity that records the timeout in Postgres — where a result recorded
// first wins — and answers the canonical outcome, which is what the loop applies.
import type * as df from 'durable-functions';
import {
  ACTIVITY,
  ORCHESTRATION,
  RecordTransitionsOutputSchema,
  type EnqueueInput,
  type EnqueueTasksOutput,
  type FanOutInput,
  type Placement,
  type RecordTransitionsInput,
  type RunTasksOutput,
  type SettleAttemptsInput,
  type TaskAttempt,
} from '../activities/contracts';
import { applyInPlace, ownedState } from '../dag/applyEvent';
import type { Plan } from '../dag/compilePlan';
import type { AttemptOutcome } from '../lib/containerMessages';
import { awaitResults, collectResults } from './awaitResults';
import { decide, decisionEvents, isAttemptInFlight } from '../dag/decide';
import {
  EnqueueTasksOutputSchema,
  FanOutSummarySchema,
  RunTasksOutputSchema,
  SettleAttemptsOutputSchema,
} from '../activities/contracts';
import { isTerminalJob, taskIdOf, type Decision, type JobEvent, type JobState } from '../dag/jobState';
import type { FanOutNode } from '../dag/workflowModel';
import { chainAfter, runTasksInput } from './chainAfter';
import { attemptRef, type AttemptRef, type InFlight } from './inFlight';
import { progress } from './progress';
import { retryOptions } from './retryOptions';

/** How often units in flight are checked while a retry waits (they cannot be raced against its timer). */
const POLL_MS = 5000;
const SETTLE_BATCH = 1000; // timed-out attempts per settle activity call (its input allows 1000)

export interface SchedulerIO {
  plan: Plan;
  jobId: string;
  placement: Record<string, Placement>;
  /** job: records every structural transition; chunk: records only attempt timeouts. */
  mode: 'job' | 'chunk';
  chunkSize: number;
  /** Fan-out children per runner activity call. */
  activityBatchSize: number;
  /** Runner calls a max_parallel window is split into, at least (LoadJobOutput.callsPerWindow). */
  callsPerWindow?: number;
  /** Structural rounds record with the next round (SCHEDULER_VERSION 2); a chunk does not. */
  coalesceTransitions?: boolean;
  chainBudgetMs?: number; // a runner call may chain tasks that are not light this long
  batchedResults?: boolean; // container results may come several per event (version 4)
}

/** Decisions that neither run, read nor end anything: their transitions can wait for the next round's. */
const STRUCTURAL: ReadonlySet<Decision['kind']> = new Set(['start_job', 'complete', 'skip', 'fail']);

/** Events the orchestration applied that no activity recorded: the batched activity writes them. */
function recordable(e: JobEvent, mode: SchedulerIO['mode']): boolean {
  if (e.type === 'dispatched' || e.type === 'fan_out_started') return false;
  if (mode === 'chunk') return e.type === 'attempt_failed';
  return true;
}

export function* runScheduler(
  context: df.OrchestrationContext,
  initial: JobState,
  io: SchedulerIO,
): Generator<df.Task, JobState, unknown> {
  const d = context.df;
  const { plan } = io;
  // The loop owns its state and changes it in place: a replay folds every event of the history, and
  // a copy per event would make each episode quadratic in the number of nodes.
  const state = ownedState(initial);
  const inFlight = new Map<string, InFlight>();
  const cancelWaiters: df.Task[] = [];
  let cancelSeen = false;
  /** Task ids of attempts not to settle: in a settle call, or a budgeted chain's call still runs. */
  const settling = new Set<string>();
  const applyAll = (events: readonly JobEvent[]) => {
    for (const e of events) applyInPlace(plan, state, e);
  };
  // Events learnt from results that no activity recorded (a fan-out's summary, an activity that
  // faulted): they go to Postgres with the next batch, before anything is dispatched again.
  let unrecorded: JobEvent[] = [];
  /** Structural rounds decided since the last recording call (see below). */
  let structuralRounds = 0;
  const nodeCount = Object.keys(plan.workflow.nodes).length;
  const learn = (events: JobEvent[]) => {
    applyAll(events);
    unrecorded.push(...events.filter((e) => recordable(e, io.mode)));
  };

  for (;;) {
    const now = d.currentUtcDateTime.getTime();
    const decisions = decide(plan, state, now);
    settle(
      decisions.flatMap((x) =>
        x.kind === 'timeout'
          ? [
              {
                key: x.key,
                attempt: x.attempt,
                taskId: taskIdOf(io.jobId, x.key, x.attempt),
                timeoutSeconds: x.timeoutSeconds,
              },
            ]
          : [],
      ),
    );
    const actionable = decisions.filter((x) => x.kind !== 'wake' && x.kind !== 'timeout');
    if (actionable.length || unrecorded.length) {
      const events = decisionEvents(actionable, now);
      applyAll(events);
      // A round of structural steps only (the job starting, a start node passing, a cascade of
      // skips, the end node) is decided again at once: its transitions go to Postgres with the next
      // round's, still before anything is dispatched, in one activity call instead of one per round.
      // Each such round passes at least one node (or starts the job): more rounds than that would be
      // a scheduler bug, which then records round by round rather than spin without yielding.
      if (
        io.coalesceTransitions &&
        actionable.length &&
        actionable.every((x) => STRUCTURAL.has(x.kind)) &&
        !isTerminalJob(state.status) &&
        structuralRounds++ <= nodeCount
      ) {
        unrecorded.push(...events.filter((e) => recordable(e, io.mode)));
        continue;
      }
      structuralRounds = 0;
      const toRecord = [...unrecorded, ...events.filter((e) => recordable(e, io.mode))];
      unrecorded = [];
      const evaluate = actionable.flatMap((x) =>
        x.kind === 'evaluate' ? [{ node: x.node, nodeType: x.nodeType }] : [],
      );
      if (toRecord.length || evaluate.length) {
        const input: RecordTransitionsInput = { jobId: io.jobId, events: toRecord, evaluate };
        const out = RecordTransitionsOutputSchema.parse(
          yield d.callActivityWithRetry(ACTIVITY.recordTransitions, retryOptions(), input),
        );
        applyAll(out.results);
      }
      if (isTerminalJob(state.status)) break;
      startAll(actionable);
      continue;
    }

    // Nothing to decide: wait (see the header for why the waits are shaped like this).
    // Timers wake the loop for retries only: activities enforce their own timeouts and a container
    // attempt races its result against its own deadline timer.
    const retryAt = state.waits.find((w) => w.at > now)?.at;
    const fresh = [...inFlight.values()].filter((f) => f.fresh);
    // Progress walks every node: only the episode's live wait sets it (a replayed one would be
    // overwritten by it anyway), so a replay does not cost O(nodes) per step.
    if (!d.isReplaying) d.setCustomStatus(progress(state, io.mode));
    const race = (tasks: df.Task[], at: number | undefined) => {
      const waitOn = [...tasks];
      if (!cancelSeen) {
        const c = d.waitForExternalEvent('cancel');
        cancelWaiters.push(c);
        waitOn.push(c);
      }
      const timer = at === undefined ? undefined : d.createTimer(new Date(at));
      if (timer) waitOn.push(timer);
      return { task: d.Task.any(waitOn), timer };
    };
    if (fresh.length || (!inFlight.size && retryAt !== undefined)) {
      for (const f of fresh) f.fresh = false;
      const r = race(
        fresh.map((f) => f.task),
        retryAt,
      );
      yield r.task;
      if (r.timer && !r.timer.isCompleted) r.timer.cancel();
    } else if (inFlight.size && retryAt !== undefined) {
      // Units in flight cannot join a new Task.any: poll them while a retry is due, every few
      // seconds (their completions are replayed into them meanwhile).
      const r = race([], Math.min(retryAt, now + POLL_MS));
      yield r.task;
      if (r.timer && !r.timer.isCompleted) r.timer.cancel();
    } else if (inFlight.size) {
      yield inFlight.values().next().value!.task;
    } else {
      // The scheduler guarantees progress; this would be a bug. Fail the job instead of hanging.
      applyAll([
        { type: 'job_finished', status: 'failed', error: 'internal error: the scheduler stalled', at: now },
      ]);
      break;
    }

    const at = d.currentUtcDateTime.getTime();
    for (const [id, f] of inFlight) {
      if (!f.task.isCompleted) continue;
      inFlight.delete(id);
      finished(f, at);
    }
    if (!cancelSeen && cancelWaiters.some((c) => c.isCompleted)) {
      cancelSeen = true;
      applyAll([{ type: 'cancel_requested', at }]);
    }
  }

  // The job has ended, but DTFx completes an instance only when none of its tasks is open. Deadline
  // timers of queued container attempts are canceled (their results are events, not tasks); calls
  // still running (after a cancel, or past their deadline) are waited for one at a time (a new
  // Task.any would schedule them again) and their results ignored. Fresh units were never scheduled.
  for (const f of inFlight.values()) {
    if (f.kind === 'results') {
      if (!f.timer.isCompleted) f.timer.cancel();
    } else if (!f.fresh && !f.task.isCompleted) {
      try {
        yield f.task;
      } catch {
        // A faulted call no longer matters: the job's outcome is recorded.
      }
    }
  }
  d.setCustomStatus(progress(state, io.mode));
  return state;

  /**
   * Starts what the decisions ask for. A fan-out's children share runner and enqueue calls in
   * batches; a task node runs alone (a batch would make its successors wait for unrelated work).
   */
  function startAll(decisions: Decision[]): void {
    const batches = new Map<string, { container: boolean; queue?: string; attempts: TaskAttempt[] }>();
    const flush = (group: string) => {
      const b = batches.get(group);
      if (!b?.attempts.length) return;
      batches.delete(group);
      const refs = b.attempts.map(attemptRef);
      if (b.container) {
        const attempts: EnqueueInput[] = b.attempts.map((a) => ({ ...a, queue: b.queue! }));
        // Several results may come in one event (version 4): keyed by the call's first task.
        const resultsEvent =
          io.batchedResults && refs.length > 1 ? `dag-results-${refs[0]!.taskId}` : undefined;
        inFlight.set(refs[0]!.taskId, {
          kind: 'enqueue',
          task: d.callActivity(ACTIVITY.enqueueContainerTasks, {
            attempts,
            ...(resultsEvent ? { resultsEvent } : {}),
          }),
          attempts: refs,
          deadline: Math.max(...b.attempts.map((a) => a.deadline)),
          ...(resultsEvent ? { resultsEvent } : {}),
          fresh: true,
        });
      } else {
        // A task node alone may take the straight chain of task nodes after it along.
        const then =
          b.attempts.length === 1 && b.attempts[0]!.index === undefined
            ? chainAfter(b.attempts[0]!, plan, state, io, d.instanceId, d.currentUtcDateTime.getTime())
            : [];
        const input = runTasksInput(b.attempts, then, io.chainBudgetMs);
        // A budgeted chain may outlive the attempt's deadline: no settle (and second dispatch) meanwhile.
        if (input.budgetMs) settling.add(refs[0]!.taskId);
        inFlight.set(refs[0]!.taskId, {
          kind: 'run',
          task: d.callActivity(ACTIVITY.runTasks, input),
          attempts: refs,
          ...(then.length ? { then: then.map(attemptRef) } : {}),
          fresh: true,
        });
      }
    };
    for (const x of decisions) {
      if (x.kind === 'dispatch') {
        const attempt: TaskAttempt = {
          jobId: io.jobId,
          key: x.key,
          node: x.node,
          ...(x.index === undefined ? {} : { index: x.index }),
          attempt: x.attempt,
          taskId: x.taskId,
          timeoutSeconds: x.timeoutSeconds,
          deadline: x.deadline,
          instanceId: d.instanceId,
        };
        const place = io.placement[x.node] ?? { runner: 'activity' };
        const container = place.runner === 'container' && !!place.queue;
        const group = x.index === undefined ? `task:${x.key}` : x.node;
        const b = batches.get(group) ?? {
          container,
          ...(container ? { queue: place.queue! } : {}),
          attempts: [],
        };
        b.attempts.push(attempt);
        batches.set(group, b);
        if (x.index === undefined || b.attempts.length >= batchLimit(x.node, container)) flush(group);
      } else if (x.kind === 'run_fan_out') {
        const def = plan.workflow.nodes[x.node] as FanOutNode;
        const input: FanOutInput = {
          jobId: io.jobId,
          node: x.node,
          def,
          placement: io.placement[x.node] ?? { runner: 'activity' },
          count: x.count,
          ...(x.indices ? { indices: x.indices } : {}),
          ...(x.attempts ? { attempts: x.attempts } : {}),
          chunkSize: io.chunkSize,
          activityBatchSize: io.activityBatchSize,
          ...(io.callsPerWindow ? { callsPerWindow: io.callsPerWindow } : {}),
          ...(io.batchedResults ? { batchedResults: true } : {}),
        };
        // Deterministic child id: a replay (or a restarted host) finds the same sub-orchestration.
        const id = `${d.instanceId}:${x.node}`;
        inFlight.set(`fanout:${x.node}`, {
          kind: 'fan_out',
          task: d.callSubOrchestrator(ORCHESTRATION.fanOut, input, id),
          node: x.node,
          count: x.count,
          fresh: true,
        });
      }
    }
    for (const group of [...batches.keys()]) flush(group);
  }

  /**
   * Children per call for a fan-out: the configured batch size; for the runner, also at most a share
   * of the fan-out's max_parallel window (callsPerWindow). A runner call reports when its slowest
   * child ends, so its finished children hold their slots until then: several calls share the window.
   * An enqueue call holds nothing (each result comes back on its own). Both numbers come from the
   * history (the job's load, the fan-out's input), so a replay batches as the first run did.
   */
  function batchLimit(node: string, container: boolean): number {
    if (container || !io.callsPerWindow) return io.activityBatchSize;
    const window =
      state.fanOuts[node]?.window ?? (plan.workflow.nodes[node] as FanOutNode | undefined)?.max_parallel;
    return window === undefined
      ? io.activityBatchSize
      : Math.min(io.activityBatchSize, Math.max(1, Math.ceil(window / io.callsPerWindow)));
  }

  /**
   * Asks Postgres how attempts whose deadline passed really ended (one activity for all of them).
   * Until it answers they stay in flight; an attempt settling already is not asked about twice.
   */
  function settle(attempts: AttemptRef[]): void {
    // Plain refs: a results unit's attempts also carry their event task, which is not data.
    const todo = attempts
      .filter((a) => !settling.has(a.taskId) && isAttemptInFlight(state, a.key, a.attempt))
      .map(attemptRef);
    for (const a of todo) settling.add(a.taskId);
    // A chunk may time out thousands of children at once: at most SETTLE_BATCH per call.
    for (let i = 0; i < todo.length; i += SETTLE_BATCH) {
      const batch = todo.slice(i, i + SETTLE_BATCH);
      const input: SettleAttemptsInput = { jobId: io.jobId, attempts: batch };
      inFlight.set(`settle:${batch[0]!.taskId}`, {
        kind: 'settle',
        task: d.callActivityWithRetry(ACTIVITY.settleAttempts, retryOptions(), input),
        attempts: batch,
        fresh: true,
      });
    }
  }

  function finished(f: InFlight, at: number): void {
    switch (f.kind) {
      case 'fan_out': {
        const parsed = f.task.isFaulted ? undefined : FanOutSummarySchema.safeParse(f.task.result);
        const summary = parsed?.success
          ? parsed.data
          : {
              failed: f.count,
              failedSample: [],
              firstError: { key: f.node, error: `fan-out orchestration failed: ${errorText(f.task.result)}` },
              cancelled: false,
            };
        learn([
          {
            type: 'fan_out_finished',
            node: f.node,
            failed: summary.failed,
            failedSample: summary.failedSample,
            ...(summary.firstError ? { firstError: summary.firstError } : {}),
            at,
          },
        ]);
        if (summary.cancelled) applyAll([{ type: 'cancel_requested', at }]);
        return;
      }
      case 'run':
      case 'enqueue': {
        // One result per attempt of the call; a call that faulted (an infrastructure fault) or
        // answered nonsense fails every attempt it carried, and the retry policy applies.
        if (f.kind === 'run' && f.then && io.chainBudgetMs) settling.delete(f.attempts[0]!.taskId);
        const schema = f.kind === 'run' ? RunTasksOutputSchema : EnqueueTasksOutputSchema;
        const out = f.task.isFaulted ? undefined : schema.safeParse(f.task.result);
        const results =
          out?.success && out.data.results.length === f.attempts.length ? out.data.results : undefined;
        const why = f.task.isFaulted ? errorText(f.task.result) : 'the activity returned an invalid result';
        const queued: AttemptRef[] = [];
        f.attempts.forEach((a, i) => {
          const o = results?.[i];
          if (!o)
            learn([
              { type: 'attempt_failed', key: a.key, attempt: a.attempt, error: why, retryable: true, at },
            ]);
          else if (o.ok && f.kind === 'enqueue') queued.push(a);
          else applyOutcome(a.key, a.attempt, o, at);
        });
        if (f.kind === 'run' && f.then && out?.success && results) {
          // The chain the runner ran after the attempt: each node was dispatched and finished there.
          const chained = (out.data as RunTasksOutput).chained ?? [];
          f.then.slice(0, chained.length).forEach((a, k) => {
            const deadline = at + a.timeoutSeconds * 1000;
            applyAll([{ type: 'dispatched', items: [{ key: a.key, attempt: a.attempt, deadline }], at }]);
            applyOutcome(a.key, a.attempt, chained[k]!, at);
          });
        }
        // Queued: the results come back as external events (awaitResults.ts), raced against one
        // timer at the attempts' deadline (a dead worker never answers).
        if (!queued.length || f.kind !== 'enqueue') return;
        const together = !!f.resultsEvent && (out?.data as EnqueueTasksOutput | undefined)?.together === true;
        inFlight.set(queued[0]!.taskId, awaitResults(d, queued, Math.max(f.deadline, at), together));
        return;
      }
      case 'results': {
        if (!f.timer.isCompleted) f.timer.cancel();
        const r = collectResults(f);
        for (const x of r.outcomes) {
          const { key, attempt } = x.ref;
          if ('outcome' in x) applyOutcome(key, attempt, x.outcome, at);
          else learn([{ type: 'attempt_failed', key, attempt, error: x.invalid, retryable: true, at }]);
        }
        if (r.pending.length)
          inFlight.set(r.pending[0]!.taskId, awaitResults(d, r.pending, f.deadline, f.together));
        settle(r.overdue);
        return;
      }
      case 'settle': {
        const out = f.task.isFaulted ? undefined : SettleAttemptsOutputSchema.safeParse(f.task.result);
        const results =
          out?.success && out.data.results.length === f.attempts.length ? out.data.results : undefined;
        f.attempts.forEach((a, i) => {
          settling.delete(a.taskId);
          const o = results?.[i];
          // Postgres could not be asked (retries exhausted): the timeout stands, recorded with the
          // next batch of transitions (where a recorded result still wins in the database).
          if (!o)
            learn([
              {
                type: 'attempt_failed',
                key: a.key,
                attempt: a.attempt,
                error: `Task timed out after ${a.timeoutSeconds}s`,
                retryable: true,
                at,
              },
            ]);
          else applyOutcome(a.key, a.attempt, o, at);
        });
        return;
      }
    }
  }

  function applyOutcome(key: string, attempt: number, o: AttemptOutcome, at: number): void {
    if (o.ok) applyAll([{ type: 'attempt_succeeded', key, attempt, at }]);
    else {
      applyAll([{ type: 'attempt_failed', key, attempt, error: o.error, retryable: o.retryable, at }]);
      if (o.cancelled) applyAll([{ type: 'cancel_requested', at }]);
    }
  }
}

function errorText(result: unknown): string {
  if (result instanceof Error) return result.message;
  if (typeof result === 'string') return result;
  try {
    return JSON.stringify(result) ?? 'unknown error';
  } catch {
    return 'unknown error';
  }
}
