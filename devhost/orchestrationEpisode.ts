// One orchestration episode: given the claimed instance, its stored history and its newly visible
// events, invoke the orchestrator function once (full replay, as the Durable extension does),
// emulate what the extension does with the returned actions, and produce the commit for the store.
// No I/O besides the orchestrator invocation: the caller owns claiming and committing.
import type { FunctionInvoker } from './functionInvoker';
import {
  EventType,
  completionTaskId,
  isSchedulingEvent,
  isTerminal,
  newEvent,
  type HistoryEvent,
  type RuntimeStatus,
} from './historyEvents';
import { findRegistration, type Registration } from './loadApp';
import type { Logger } from './logger';
import type { ActionJson } from './actionJson';
import { replayActions, type NewTask, type ShimResult, type TaskInfo } from './replayShim';
import { fromRpc } from './rpcData';
import type { EpisodeCommit, EventMessage, InstanceRecord, QueuedEvent } from './store/instanceStore';
import { newExecutionId } from './store/memoryStore';
import { checkTaskIdDrift } from './taskIdDriftCheck';

export interface EpisodeContext {
  /** Invokes the orchestrator function (the dev host's FunctionInvoker; tests may call the SDK directly). */
  invoker: Pick<FunctionInvoker, 'invoke'>;
  registrations: Map<string, Registration>;
  testMode: boolean;
  logger: Logger;
}

export interface EpisodeInput {
  instance: InstanceRecord;
  /** Stored history of the current execution (not modified). */
  history: readonly HistoryEvent[];
  /** The same history serialized with IsPlayed:true, comma-separated (cached by the caller). */
  playedJson: string;
  events: QueuedEvent[];
  now: Date;
}

export interface EpisodeOutcome {
  commit: EpisodeCommit;
  /** Events appended to the current execution (empty when the history was reset). */
  appended: HistoryEvent[];
  /** The orchestrator function ran. */
  invoked: boolean;
  invocationMs: number;
  /** Activities and sub-orchestrations still running after this episode. */
  pendingWork: number;
  /** The earliest new durable timer. */
  nextTimer: Date | undefined;
  /** Set when the instance failed in this episode. */
  failure?: string;
  /**
   * The orchestrator returned (or threw) while these tasks were still open: DTFx keeps the instance
   * Running until they finish, so it did not complete in this episode.
   */
  openTasksAtReturn?: TaskInfo[];
}

/** The JSON the SDK returns (OrchestratorState). */
interface OrchestratorStateJson {
  isDone?: boolean;
  actions: unknown[];
  output?: unknown;
  error?: string;
  customStatus?: unknown;
}

const outOfProcMarker = '\n\n$OutOfProcData$:';

// The Azure Storage provider's values (MaximumDelayTime, LongRunningTimerIntervalLength). Longer
// timers become chains of sub-timers, in the SDK (LongTimerTask) and in replayShim.ts alike.
const maximumShortTimerDuration = '6.00:00:00';
const longRunningTimerIntervalDuration = '3.00:00:00';

export async function runEpisode(input: EpisodeInput, ctx: EpisodeContext): Promise<EpisodeOutcome> {
  const { instance, history, events, now } = input;
  const commit: EpisodeCommit = {
    consumedEventIds: events.map((e) => e.id),
    historyReset: false,
    historyAppend: [],
    instance: {
      runtimeStatus: instance.runtimeStatus,
      executionId: instance.executionId,
      input: instance.input,
      output: instance.output,
      customStatus: undefined,
      completedAt: instance.completedAt,
      historyLength: instance.historyLength,
    },
    activities: [],
    messages: [],
    children: [],
  };
  const outcome: EpisodeOutcome = {
    commit,
    appended: [],
    invoked: false,
    invocationMs: 0,
    pendingWork: 0,
    nextTimer: undefined,
  };
  // Messages for finished instances are discarded, as DTFx does.
  if (isTerminal(instance.runtimeStatus)) return outcome;

  const scheduled = new Set<number>();
  const completed = new Set<number>();
  let started = false;
  for (const e of history) {
    if (e.EventType === EventType.ExecutionStarted) started = true;
    else if (isSchedulingEvent(e)) scheduled.add(e.EventId);
    else {
      const id = completionTaskId(e);
      if (id !== undefined) completed.add(id);
    }
  }
  const fresh: HistoryEvent[] = [];
  let terminate: HistoryEvent | undefined;
  for (const q of events) {
    const e = q.event;
    // Results addressed to an earlier execution (before continue-as-new or a restart) are stale.
    if (q.executionId && q.executionId !== instance.executionId) continue;
    if (e.EventType === EventType.ExecutionTerminated) {
      terminate ??= e;
      continue;
    }
    if (e.EventType === EventType.ExecutionStarted) {
      if (!started) fresh.push(e);
      started = true;
      continue;
    }
    const id = completionTaskId(e);
    if (id !== undefined) {
      // At-least-once delivery: a duplicate or unknown completion is dropped so each result applies once.
      if (!scheduled.has(id) || completed.has(id)) continue;
      completed.add(id);
    }
    fresh.push(e);
  }

  const started_ = newEvent(EventType.OrchestratorStarted, {}, now);
  if (terminate) {
    // DTFx: ExecutionTerminated completes the instance with its reason, stored as given (a JSON
    // reason reads back as JSON), and the parent's SubOrchestrationInstanceFailed carries the bare
    // reason and no details (TaskOrchestrationDispatcher.ProcessWorkflowCompletedTaskDecision).
    const reason = terminate.Input ?? '';
    finish(outcome, input, [started_, ...fresh, terminate], 'Terminated', reason, now);
    if (instance.parentInstanceId) {
      commit.messages.push(
        parentMessage(instance, EventType.SubOrchestrationInstanceFailed, { Reason: reason }),
      );
    }
    return outcome;
  }
  if (!started || fresh.length === 0) return outcome; // nothing the orchestrator has not seen

  const newEvents = [started_, ...fresh];
  const reg = findRegistration(ctx.registrations, instance.name);
  if (!reg || reg.kind !== 'orchestration') {
    const msg =
      `Orchestrator function '${instance.name}' failed: The function '${instance.name}' doesn't exist, is disabled, ` +
      'or is not an orchestrator function.';
    failWith(outcome, input, newEvents, msg, '', now);
    return outcome;
  }

  const payload = buildPayload(instance, input.playedJson, newEvents);
  const t0 = performance.now();
  const res = await ctx.invoker.invoke(reg.name, [{ name: reg.triggerBinding, data: { string: payload } }]);
  outcome.invoked = true;
  let state: OrchestratorStateJson | undefined;
  let crash: string | undefined;
  let crashDetails = '';
  if (res.ok) {
    const value = fromRpc(res.response.returnValue);
    if (isState(value)) state = value;
    else {
      crash =
        `it returned ${value === undefined ? 'nothing' : typeof value} instead of an orchestrator state. ` +
        'Register orchestrators with df.app.orchestration(name, function* (context) { ... }).';
    }
  } else {
    const m = res.error.message;
    const i = m.indexOf(outOfProcMarker);
    if (i >= 0) {
      try {
        const parsed: unknown = JSON.parse(m.slice(i + outOfProcMarker.length));
        if (isState(parsed)) state = parsed;
        else crash = m.slice(0, i);
      } catch {
        crash = m.slice(0, i);
      }
    } else {
      crash = m;
      crashDetails = res.error.stack ?? '';
    }
  }
  // The extension takes the custom status from every invocation (null when the orchestrator set
  // none, or set null: the status is cleared). A new execution that sets none keeps the previous
  // execution's (TaskOrchestrationDispatcher: runtimeState.Status ?? carryOverStatus).
  const custom = state?.customStatus;
  const firstEpisode = fresh.some((e) => e.EventType === EventType.ExecutionStarted);
  if (custom !== undefined && custom !== null) commit.instance.customStatus = JSON.stringify(custom);
  else if (!firstEpisode) commit.instance.customStatus = null;
  if (!state) {
    outcome.invocationMs = performance.now() - t0;
    failWith(
      outcome,
      input,
      newEvents,
      `Orchestrator function '${instance.name}' failed: ${crash}`,
      crashDetails,
      now,
    );
    return outcome;
  }
  if (state.actions.length > 1) {
    outcome.invocationMs = performance.now() - t0;
    failWith(
      outcome,
      input,
      newEvents,
      `Orchestrator function '${instance.name}' failed: it used replay schema V1; the dev host speaks V3 only`,
      '',
      now,
    );
    return outcome;
  }
  const actions = (state.actions[0] ?? []) as ActionJson[];
  const full = history.concat(newEvents);
  const shim = replayActions(full, actions, {
    instanceId: instance.instanceId,
    executionId: instance.executionId,
    parentInstanceId: instance.parentInstanceId,
    functionKind: (name) => findRegistration(ctx.registrations, name)?.kind,
    functionNames: (kind) =>
      [...ctx.registrations.values()].filter((r) => r.kind === kind).map((r) => r.name),
  });
  outcome.invocationMs = performance.now() - t0;

  if (shim.failure) {
    failWith(
      outcome,
      input,
      newEvents,
      `Orchestrator function '${instance.name}' failed: ${shim.failure.message}`,
      '',
      now,
    );
    return outcome;
  }
  if (ctx.testMode && !state.error && !state.isDone) {
    const open = res.context?.df?.taskOrchestratorExecutor?.openTasks;
    const drift = open
      ? checkTaskIdDrift(shim, open)
      : 'the SDK executor (context.df.taskOrchestratorExecutor.openTasks) could not be read';
    if (drift) {
      const msg = `Task id drift detected (dev host test mode) after replaying '${instance.name}': ${drift}`;
      ctx.logger.warn(msg, { instanceId: instance.instanceId });
      failWith(outcome, input, newEvents, `Orchestrator function '${instance.name}' failed: ${msg}`, '', now);
      return outcome;
    }
  }

  // The extension schedules everything the replay produced, even when the orchestrator then fails.
  const scheduling = schedule(shim.newTasks, instance, commit, now);
  outcome.nextTimer = commit.messages.reduce<Date | undefined>(
    (min, m) => (m.visibleAt && (!min || m.visibleAt < min) ? m.visibleAt : min),
    undefined,
  );
  outcome.pendingWork = [...shim.pending.values()].filter((t) => t.kind !== 'timer').length;
  const appended = [...newEvents, ...scheduling];

  // DTFx ends the execution only once the extension reached the end of the action list and no task
  // is open: an orchestrator that returned (or threw) beside a running activity, sub-orchestration,
  // Task.any loser or un-canceled timer stays Running until those finish, then ends on that replay.
  const returned = shim.allActionsDone && (!!state.error || !!state.isDone);
  if (returned && shim.open.length) outcome.openTasksAtReturn = shim.open;
  const ends = returned && shim.open.length === 0;

  if (ends && state.error) {
    failWith(
      outcome,
      input,
      appended,
      `Orchestrator function '${instance.name}' failed: ${state.error}`,
      '',
      now,
    );
  } else if (ends && shim.continueAsNew) {
    continueAsNew(outcome, input, shim, now);
  } else if (ends) {
    finish(outcome, input, appended, 'Completed', JSON.stringify(state.output ?? null), now);
    if (instance.parentInstanceId) {
      commit.messages.push(
        parentMessage(instance, EventType.SubOrchestrationInstanceCompleted, {
          Result: commit.instance.output,
        }),
      );
    }
  } else {
    appended.push(newEvent(EventType.OrchestratorCompleted, {}, now));
    commit.historyAppend = appended;
    commit.instance.runtimeStatus = 'Running';
    commit.instance.historyLength = history.length + appended.length;
    outcome.appended = appended;
  }
  return outcome;
}

function buildPayload(instance: InstanceRecord, playedJson: string, newEvents: HistoryEvent[]): string {
  const newJson = newEvents.map((e) => JSON.stringify(e)).join(',');
  const all = playedJson ? `${playedJson},${newJson}` : newJson;
  return (
    `{"history":[${all}],"input":${instance.input ?? 'null'},"instanceId":${JSON.stringify(instance.instanceId)},` +
    `"isReplaying":${playedJson ? 'true' : 'false'},"parentInstanceId":${JSON.stringify(instance.parentInstanceId)},` +
    `"upperSchemaVersion":1,"upperSchemaVersionNew":2,` +
    `"longRunningTimerIntervalDuration":"${longRunningTimerIntervalDuration}",` +
    `"maximumShortTimerDuration":"${maximumShortTimerDuration}","defaultHttpAsyncRequestSleepTimeMillseconds":30000}`
  );
}

function isState(v: unknown): v is OrchestratorStateJson {
  return typeof v === 'object' && v !== null && Array.isArray((v as { actions?: unknown }).actions);
}

/** History events and work items for the tasks the replay created. */
function schedule(
  tasks: NewTask[],
  instance: InstanceRecord,
  commit: EpisodeCommit,
  now: Date,
): HistoryEvent[] {
  const out: HistoryEvent[] = [];
  for (const t of tasks) {
    if (t.kind === 'activity') {
      out.push(
        newEvent(
          EventType.TaskScheduled,
          { EventId: t.id, Name: t.name, Version: '', Input: JSON.stringify([t.input ?? null]) },
          now,
        ),
      );
      commit.activities.push({
        executionId: instance.executionId,
        taskId: t.id,
        name: t.name,
        input: JSON.stringify(t.input ?? null),
      });
    } else if (t.kind === 'timer') {
      const fireAt = t.fireAt.toISOString();
      out.push(newEvent(EventType.TimerCreated, { EventId: t.id, FireAt: fireAt }, now));
      commit.messages.push({
        instanceId: instance.instanceId,
        executionId: instance.executionId,
        event: newEvent(EventType.TimerFired, { TimerId: t.id, FireAt: fireAt }, t.fireAt),
        visibleAt: t.fireAt,
      });
    } else {
      const inputJson = JSON.stringify(t.input ?? null);
      out.push(
        newEvent(
          EventType.SubOrchestrationInstanceCreated,
          { EventId: t.id, Name: t.name, Version: t.version, InstanceId: t.instanceId, Input: inputJson },
          now,
        ),
      );
      commit.children.push({
        instanceId: t.instanceId,
        name: t.name,
        version: t.version,
        input: inputJson,
        parent: {
          instanceId: instance.instanceId,
          executionId: instance.executionId,
          taskId: t.id,
          name: instance.name,
        },
      });
    }
  }
  return out;
}

/**
 * Ends the execution. `output` is stored as DTFx stores ExecutionCompleted.Result: the output's JSON
 * when Completed, the raw reason text when Failed or Terminated (status readers parse it as JSON if
 * it is JSON, as the extension's ParseToJToken does).
 */
function finish(
  outcome: EpisodeOutcome,
  input: EpisodeInput,
  appended: HistoryEvent[],
  status: RuntimeStatus,
  output: string,
  now: Date,
): void {
  const c = outcome.commit;
  const all = [
    ...appended,
    newEvent(EventType.ExecutionCompleted, { OrchestrationStatus: status, Result: output }, now),
    newEvent(EventType.OrchestratorCompleted, {}, now),
  ];
  c.historyAppend = all;
  c.instance.runtimeStatus = status;
  c.instance.output = output;
  c.instance.completedAt = now;
  c.instance.historyLength = input.history.length + all.length;
  outcome.appended = all;
}

function failWith(
  outcome: EpisodeOutcome,
  input: EpisodeInput,
  appended: HistoryEvent[],
  message: string,
  details: string,
  now: Date,
): void {
  finish(outcome, input, appended, 'Failed', message, now);
  outcome.failure = message;
  if (input.instance.parentInstanceId)
    outcome.commit.messages.push(parentFailure(input.instance, message, details));
}

function continueAsNew(outcome: EpisodeOutcome, input: EpisodeInput, shim: ShimResult, now: Date): void {
  const c = outcome.commit;
  // durable-functions JSON-encodes a string input once more (Utils.processInput) and DTFx serializes
  // the action's input again, so the next execution's getInput() of 'x' is '"x"' (quotes included).
  const inputJson = JSON.stringify(shim.continueAsNew?.input ?? null);
  const executionId = newExecutionId();
  c.historyReset = true;
  c.historyAppend = [];
  // DTFx runs the new execution in the same work item: pollers never see ContinuedAsNew, and the
  // instance's CreatedTime becomes the new ExecutionStarted's timestamp (AzureTableTrackingStore).
  c.instance.runtimeStatus = 'Running';
  c.instance.createdAt = now;
  c.instance.executionId = executionId;
  c.instance.input = inputJson;
  c.instance.output = null;
  c.instance.historyLength = 0;
  c.messages.push({
    instanceId: input.instance.instanceId,
    executionId,
    event: newEvent(
      EventType.ExecutionStarted,
      {
        Name: input.instance.name,
        Version: input.instance.version,
        Input: inputJson,
        OrchestrationInstance: { InstanceId: input.instance.instanceId, ExecutionId: executionId },
        ParentInstance: parentRef(input.instance),
      },
      now,
    ),
  });
  // Events raised after the continueAsNew call go to the new execution, in order, right after its
  // start (TaskOrchestrationContext.AddEventToNextIteration; Azure Storage's Carryover behaviour).
  for (const e of shim.carryover) {
    c.messages.push({
      instanceId: input.instance.instanceId,
      executionId,
      event: { ...e, IsPlayed: false },
    });
  }
  outcome.appended = [];
}

function parentMessage(instance: InstanceRecord, type: 8 | 9, fields: Partial<HistoryEvent>): EventMessage {
  return {
    instanceId: instance.parentInstanceId!,
    executionId: instance.parentExecutionId,
    event: newEvent(type, { TaskScheduledId: instance.parentTaskId ?? -1, ...fields }),
  };
}

function parentFailure(instance: InstanceRecord, reason: string, details: string): EventMessage {
  return parentMessage(instance, EventType.SubOrchestrationInstanceFailed, {
    Reason: reason,
    Details: details,
  });
}

function parentRef(i: InstanceRecord): HistoryEvent['ParentInstance'] {
  if (!i.parentInstanceId || !i.parentExecutionId) return null;
  return {
    Name: i.parentName ?? '',
    Version: '',
    TaskScheduleId: i.parentTaskId ?? -1,
    OrchestrationInstance: { InstanceId: i.parentInstanceId, ExecutionId: i.parentExecutionId },
  };
}
