// Emulates what the Durable extension does with the actions an out-of-process orchestrator returns
// (OutOfProcOrchestrationShim.ProcessAsyncActionsV2, schema V2/V3) on top of DTFx id assignment and
// RetryInterceptor. It replays the whole history in order, like DTFx: every call the extension would
// make to the orchestration context gets the next sequence id; completion events resolve tasks by
// id; each top-level action is awaited before the next one is invoked (WhenAll waits for every
// child even if one failed). The result says which tasks are new (to be scheduled), which ids are
// still waiting for a completion event, which of them DTFx counts as open (TaskOrchestrationContext
// openTasks: a canceled timer is not), and whether the extension has reached the end of the action
// list. DTFx completes, fails or continues an instance as new only when both hold: the end of the
// list was reached and no task is open (TaskOrchestrationExecutor: `if (!context.HasOpenTasks)`).
import { ActionType, type ActionJson } from './actionJson';
import { describeHistoryEvent, describeTask } from './describeTask';
import { SimTask } from './simTask';
import { EventType, type HistoryEvent } from './historyEvents';

export type TaskKind = 'activity' | 'timer' | 'subOrchestration';

export interface TaskInfo {
  id: number;
  kind: TaskKind;
  /** Activity or orchestrator name; for retry timers, the function being retried. */
  name?: string;
  purpose: 'call' | 'retryAttempt' | 'timer' | 'retryTimer' | 'canceledTimer';
}

export type NewTask =
  | { id: number; kind: 'activity'; name: string; input: unknown }
  | { id: number; kind: 'timer'; fireAt: Date; purpose: TaskInfo['purpose']; name?: string }
  | {
      id: number;
      kind: 'subOrchestration';
      name: string;
      instanceId: string;
      input: unknown;
      version: string;
    };

export type ShimFailureKind =
  'non-determinism' | 'unsupported' | 'unknown-function' | 'retry-timeout' | 'invalid-action';

export interface ShimResult {
  /** Tasks the replay created that have no scheduling event in history yet, in id order. */
  newTasks: NewTask[];
  /** Every id allocated during replay. */
  allocated: Map<number, TaskInfo>;
  /** Allocated ids still waiting for their completion event (canceled timers included: they still fire). */
  pending: Map<number, TaskInfo>;
  /** What DTFx counts as open tasks: pending ids except canceled timers. */
  open: TaskInfo[];
  nextId: number;
  /** The extension awaited every action in the list (it may now complete / fail / continue as new). */
  allActionsDone: boolean;
  continueAsNew: { input: unknown } | undefined;
  /** EventRaised events processed after continueAsNew: DTFx carries them into the next execution. */
  carryover: HistoryEvent[];
  failure?: { kind: ShimFailureKind; message: string };
}

export interface ShimContext {
  instanceId: string;
  executionId: string;
  parentInstanceId: string | null;
  /** 'activity' | 'orchestration' | other kind for a registered function, undefined if unknown
   * (looked up case-insensitively, as the extension does). */
  functionKind(name: string): string | undefined;
  /** Names of registered functions of a kind, for error messages. */
  functionNames(kind: 'activity' | 'orchestration'): string[];
}

/** The extension's default RetryOptions.MaxRetryInterval. */
const defaultMaxRetryIntervalMs = 6 * 24 * 3600 * 1000;

/** Azure Storage provider (AzureStorageDurabilityProvider): MaximumDelayTime and LongRunningTimerIntervalLength. */
export const maximumShortTimerMs = 6 * 24 * 3600 * 1000;
export const longRunningTimerIntervalMs = 3 * 24 * 3600 * 1000;

class ShimFailure extends Error {
  constructor(
    readonly kind: ShimFailureKind,
    message: string,
  ) {
    super(message);
  }
}

export function replayActions(
  history: readonly HistoryEvent[],
  actions: readonly ActionJson[],
  ctx: ShimContext,
): ShimResult {
  return new Simulator(history, actions, ctx).run();
}

class Simulator {
  private readonly scheduledInHistory = new Map<number, HistoryEvent>();
  private readonly tasks = new Map<number, SimTask>();
  private readonly allocated = new Map<number, TaskInfo>();
  private readonly pending = new Map<number, TaskInfo>();
  private readonly newTasks: NewTask[] = [];
  private readonly eventWaiters = new Map<string, SimTask[]>();
  private readonly bufferedEvents = new Map<string, number>();
  private nextId = 0;
  private now = new Date(0);
  private actionIndex = 0;
  private allDone = false;
  private continueAsNew: { input: unknown } | undefined;
  private readonly carryover: HistoryEvent[] = [];

  constructor(
    private readonly history: readonly HistoryEvent[],
    private readonly actions: readonly ActionJson[],
    private readonly ctx: ShimContext,
  ) {}

  run(): ShimResult {
    for (const e of this.history) {
      if (
        e.EventType === EventType.TaskScheduled ||
        e.EventType === EventType.TimerCreated ||
        e.EventType === EventType.SubOrchestrationInstanceCreated
      ) {
        this.scheduledInHistory.set(e.EventId, e);
      }
    }
    let failure: ShimResult['failure'];
    try {
      for (const e of this.history) this.process(e);
    } catch (err) {
      if (!(err instanceof ShimFailure)) throw err;
      failure = { kind: err.kind, message: err.message };
    }
    return {
      newTasks: this.newTasks,
      allocated: this.allocated,
      pending: this.pending,
      open: [...this.pending.values()].filter((t) => t.purpose !== 'canceledTimer'),
      nextId: this.nextId,
      allActionsDone: this.allDone,
      continueAsNew: this.continueAsNew,
      carryover: this.carryover,
      failure,
    };
  }

  private process(e: HistoryEvent): void {
    switch (e.EventType) {
      case EventType.OrchestratorStarted:
        this.now = new Date(e.Timestamp);
        break;
      case EventType.ExecutionStarted:
        this.advance();
        break;
      case EventType.TaskScheduled:
      case EventType.TimerCreated:
      case EventType.SubOrchestrationInstanceCreated:
        this.verifyScheduled(e);
        break;
      case EventType.TaskCompleted:
      case EventType.SubOrchestrationInstanceCompleted:
        this.resolve(e.TaskScheduledId, false);
        break;
      case EventType.TaskFailed:
      case EventType.SubOrchestrationInstanceFailed:
        this.resolve(e.TaskScheduledId, true);
        break;
      case EventType.TimerFired:
        this.resolve(e.TimerId, false);
        break;
      case EventType.EventRaised:
        // Once the orchestration has called continueAsNew, DTFx (BehaviorOnContinueAsNew.Carryover,
        // the Azure Storage default) keeps later events for the next execution.
        if (this.continueAsNew) this.carryover.push(e);
        else this.raise(e.Name ?? '');
        break;
      default:
        break;
    }
  }

  /** The sequential action loop of ProcessAsyncActionsV2 (iterative so long chains do not recurse). */
  private readonly advance = (): void => {
    while (this.actionIndex < this.actions.length) {
      const action = this.actions[this.actionIndex++]!;
      const task = this.invoke(action);
      if (!task.done) {
        task.then(this.advance);
        return;
      }
    }
    this.allDone = true;
  };

  private invoke(a: ActionJson): SimTask {
    switch (a.actionType) {
      case ActionType.CallActivity:
        return this.schedule(
          { kind: 'activity', name: this.functionName(a, 'activity'), purpose: 'call' },
          a.input,
        );
      case ActionType.CallActivityWithRetry:
        return this.withRetry(a, 'activity');
      case ActionType.CallSubOrchestrator:
        return this.schedule(
          { kind: 'subOrchestration', name: this.functionName(a, 'orchestration'), purpose: 'call' },
          a.input,
          a,
        );
      case ActionType.CallSubOrchestratorWithRetry:
        return this.withRetry(a, 'subOrchestration');
      case ActionType.ContinueAsNew:
        this.continueAsNew = { input: a.input };
        return SimTask.completed();
      case ActionType.CreateTimer: {
        const fireAt = new Date(a.fireAt ?? NaN);
        if (Number.isNaN(fireAt.getTime()))
          throw new ShimFailure('invalid-action', `createTimer: invalid fireAt ${a.fireAt}`);
        if (a.isCanceled) {
          // The extension cancels it right after creating it: it consumes one id (even a long timer:
          // the loop stops after its first sub-timer) and still fires later, but DTFx no longer counts
          // it as open and the awaiting code sees it complete (canceled) at once.
          const first =
            fireAt.getTime() - this.now.getTime() > maximumShortTimerMs
              ? new Date(this.now.getTime() + longRunningTimerIntervalMs)
              : fireAt;
          this.scheduleTimer(first, 'canceledTimer');
          return SimTask.completed(true);
        }
        if (fireAt.getTime() - this.now.getTime() > maximumShortTimerMs) return this.longTimer(fireAt);
        return this.scheduleTimer(fireAt, 'timer');
      }
      case ActionType.WaitForExternalEvent: {
        // The extension matches event names case-insensitively and keeps waiters on a stack.
        const key = (a.externalEventName ?? '').toLowerCase();
        const buffered = this.bufferedEvents.get(key) ?? 0;
        if (buffered > 0) {
          this.bufferedEvents.set(key, buffered - 1);
          return SimTask.completed();
        }
        const t = new SimTask();
        let list = this.eventWaiters.get(key);
        if (!list) this.eventWaiters.set(key, (list = []));
        list.push(t);
        return t;
      }
      case ActionType.WhenAll:
      case ActionType.WhenAny: {
        const children = (a.compoundActions ?? []).map((c) => this.invoke(c));
        const t = new SimTask();
        if (children.length === 0) return SimTask.completed();
        if (a.actionType === ActionType.WhenAny) {
          for (const c of children) c.then(() => t.complete(false));
        } else {
          let left = children.length;
          for (const c of children) c.then(() => --left === 0 && t.complete(children.some((x) => x.failed)));
        }
        return t;
      }
      case ActionType.CallEntity:
      case ActionType.SignalEntity:
      case ActionType.ScheduledSignalEntity:
      case ActionType.LockEntities:
      case ActionType.ReleaseEntities:
        throw new ShimFailure(
          'unsupported',
          'Durable entities (callEntity, signalEntity, lock) are not supported by the dev host. ' +
            'Model the state with activities and Postgres instead.',
        );
      case ActionType.CallHttp:
        throw new ShimFailure(
          'unsupported',
          'context.df.callHttp is not supported by the dev host. Call the HTTP endpoint from an activity instead.',
        );
      default:
        throw new ShimFailure(
          'invalid-action',
          `The orchestrator returned an unknown action type ${String(a.actionType)}`,
        );
    }
  }

  /**
   * The extension's DurableOrchestrationContext.CreateTimer for timers longer than MaximumDelayTime
   * (V3 schema, where the SDK's LongTimerTask predicts the same ids): a chain of sub-timers of
   * LongRunningTimerIntervalLength, each with its own id, the last one at the requested time.
   */
  private longTimer(fireAt: Date): SimTask {
    const outer = new SimTask();
    const end = fireAt.getTime();
    const next = (at: number): void => {
      const t = this.scheduleTimer(new Date(at), 'timer');
      t.then(() => {
        const remaining = end - this.now.getTime();
        if (remaining <= 0) outer.complete(false);
        else next(this.now.getTime() + Math.min(remaining, longRunningTimerIntervalMs));
      });
    };
    next(this.now.getTime() + longRunningTimerIntervalMs);
    return outer;
  }

  private functionName(a: ActionJson, kind: 'activity' | 'orchestration'): string {
    const name = a.functionName;
    if (typeof name !== 'string' || !name)
      throw new ShimFailure('invalid-action', `An action without functionName`);
    if (this.ctx.functionKind(name) !== kind) {
      // Same check and wording as the extension's ThrowIfFunctionDoesNotExist.
      const known = this.ctx.functionNames(kind);
      throw new ShimFailure(
        'unknown-function',
        `The function '${name}' doesn't exist, is disabled, or is not an ${kind === 'activity' ? 'activity' : 'orchestrator'} function. ` +
          `Additional info: the following are the known ${kind === 'activity' ? 'activity' : 'orchestrator'} functions: ` +
          `${known.map((n) => `'${n}'`).join(', ') || '(none)'}.`,
      );
    }
    return name;
  }

  private schedule(info: Omit<TaskInfo, 'id'>, input: unknown, sub?: ActionJson): SimTask {
    const id = this.nextId++;
    const full: TaskInfo = { id, ...info };
    const prev = this.scheduledInHistory.get(id);
    if (prev) {
      this.checkMatches(prev, full);
    } else if (info.kind === 'activity') {
      this.newTasks.push({ id, kind: 'activity', name: info.name!, input });
    } else if (info.kind === 'subOrchestration') {
      this.newTasks.push({
        id,
        kind: 'subOrchestration',
        name: info.name!,
        instanceId: this.subInstanceId(sub, id),
        input,
        version: sub?.version ?? '',
      });
    }
    const task = new SimTask();
    this.tasks.set(id, task);
    this.allocated.set(id, full);
    this.pending.set(id, full);
    return task;
  }

  private scheduleTimer(fireAt: Date, purpose: TaskInfo['purpose'], name?: string): SimTask {
    const id = this.nextId++;
    const full: TaskInfo = { id, kind: 'timer', purpose, ...(name ? { name } : {}) };
    const prev = this.scheduledInHistory.get(id);
    if (prev) this.checkMatches(prev, full);
    else this.newTasks.push({ id, kind: 'timer', fireAt, purpose, ...(name ? { name } : {}) });
    const task = new SimTask();
    this.tasks.set(id, task);
    this.allocated.set(id, full);
    this.pending.set(id, full);
    return task;
  }

  private subInstanceId(a: ActionJson | undefined, id: number): string {
    const explicit = a?.instanceId;
    if (explicit) {
      // Compared with StringComparison.OrdinalIgnoreCase, as the extension does.
      const same = (x: string | null) => x !== null && x.toLowerCase() === explicit.toLowerCase();
      if (same(this.ctx.instanceId) || same(this.ctx.parentInstanceId)) {
        throw new ShimFailure(
          'invalid-action',
          'The instance ID of a sub-orchestration must be different than the instance ID of a parent orchestration.',
        );
      }
      if (explicit.startsWith('@'))
        throw new ShimFailure('invalid-action', 'Orchestration instance ids must not start with @');
      return explicit;
    }
    // DTFx's default for sub-orchestrations: "<parent execution id>:<task id>".
    return `${this.ctx.executionId}:${id}`;
  }

  /** DTFx RetryInterceptor: attempt, on failure a backoff timer, then retry; after the last failed
   * attempt a timer that fires at once (durabletask #661), then the failure. */
  private withRetry(a: ActionJson, kind: 'activity' | 'subOrchestration'): SimTask {
    const name = this.functionName(a, kind === 'activity' ? 'activity' : 'orchestration');
    const ro = a.retryOptions ?? {};
    const first = ro.firstRetryIntervalInMilliseconds ?? 0;
    const max = ro.maxNumberOfAttempts ?? 0;
    if (!(first > 0) || !(max >= 1)) {
      throw new ShimFailure(
        'invalid-action',
        `Retry options for '${name}' need firstRetryIntervalInMilliseconds > 0 and maxNumberOfAttempts >= 1 ` +
          `(got ${JSON.stringify(ro)})`,
      );
    }
    const backoff = ro.backoffCoefficient ?? 1;
    const maxInterval =
      ro.maxRetryIntervalInMilliseconds && ro.maxRetryIntervalInMilliseconds > 0
        ? ro.maxRetryIntervalInMilliseconds
        : defaultMaxRetryIntervalMs;
    const timeout =
      ro.retryTimeoutInMilliseconds && ro.retryTimeoutInMilliseconds > 0
        ? ro.retryTimeoutInMilliseconds
        : undefined;
    const outer = new SimTask();
    const firstAttempt = this.now.getTime();
    const attempt = (n: number): void => {
      const t = this.schedule({ kind, name, purpose: n === 0 ? 'call' : 'retryAttempt' }, a.input, a);
      t.then(() => {
        if (!t.failed) return outer.complete(false);
        if (n + 1 >= max) {
          // After the last attempt DTFx (durabletask #661) still creates a timer, for histories
          // written by older versions, but one that fires at once; then the failure surfaces.
          const timer = this.scheduleTimer(new Date(this.now.getTime()), 'retryTimer', name);
          timer.then(() => outer.complete(true));
          return;
        }
        let delay = 0;
        if (timeout === undefined || this.now.getTime() < firstAttempt + timeout) {
          const d = first * Math.pow(backoff, n);
          delay = d < maxInterval ? d : maxInterval;
        }
        if (delay === 0) {
          // DTFx gives up here without a timer, but durable-functions still waits for one, so on Azure
          // the orchestration hangs (durable-js #629). Fail loudly instead.
          throw new ShimFailure(
            'retry-timeout',
            `Retries of '${name}' stopped because retryTimeoutInMilliseconds (${timeout} ms) elapsed before ` +
              `attempt ${n + 2} of ${max}. On Azure this leaves the orchestration waiting forever ` +
              '(durable-functions v3 issue #629). Remove retryTimeoutInMilliseconds and bound retries with ' +
              'maxNumberOfAttempts.',
          );
        }
        const timer = this.scheduleTimer(
          new Date(this.now.getTime() + Math.round(delay)),
          'retryTimer',
          name,
        );
        timer.then(() => attempt(n + 1));
      });
    };
    attempt(0);
    return outer;
  }

  private verifyScheduled(e: HistoryEvent): void {
    const info = this.allocated.get(e.EventId);
    if (!info) {
      throw new ShimFailure(
        'non-determinism',
        `Non-deterministic workflow detected: expected ${describeHistoryEvent(e)} (id ${e.EventId}) in history, ` +
          `the orchestrator did not schedule it on replay (it scheduled ${this.nextId} task(s) so far). ` +
          'Was the orchestrator code changed while this instance was running?',
      );
    }
    this.checkMatches(e, info);
  }

  private checkMatches(e: HistoryEvent, info: TaskInfo): void {
    const kind: TaskKind =
      e.EventType === EventType.TaskScheduled
        ? 'activity'
        : e.EventType === EventType.TimerCreated
          ? 'timer'
          : 'subOrchestration';
    // DTFx compares names with StringComparison.OrdinalIgnoreCase.
    const sameName =
      kind === 'timer' || e.Name === undefined || e.Name.toLowerCase() === (info.name ?? '').toLowerCase();
    if (kind === info.kind && sameName) return;
    throw new ShimFailure(
      'non-determinism',
      `Non-deterministic workflow detected: expected ${describeHistoryEvent(e)} (id ${e.EventId}) in history, ` +
        `the orchestrator scheduled ${kind === info.kind ? `'${info.name}'` : describeTask(info)}`,
    );
  }

  private resolve(id: number | undefined, failed: boolean): void {
    if (id === undefined) return;
    const task = this.tasks.get(id);
    if (!task) return; // DTFx ignores completions it has no open task for
    this.pending.delete(id);
    task.complete(failed);
  }

  private raise(name: string): void {
    const key = name.toLowerCase();
    const waiters = this.eventWaiters.get(key);
    const waiter = waiters?.pop();
    if (waiter) waiter.complete(false);
    else this.bufferedEvents.set(key, (this.bufferedEvents.get(key) ?? 0) + 1);
  }
}
