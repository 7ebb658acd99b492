// The hand-built histories of the durable-functions SDK's tests (Azure/azure-functions-durable-js,
// test/testobjects/testhistories.ts), written again with a small builder: the same events, ids,
// names, results and relative timestamps, in the DTFx JSON shape the extension sends.
import { EventType, type HistoryEvent } from '../../../devhost';

export class History {
  readonly events: HistoryEvent[] = [];
  constructor(private readonly t0: number) {}

  private add(type: number, ms: number, fields: Partial<HistoryEvent> = {}, played = false): this {
    this.events.push({
      EventType: type,
      EventId: -1,
      IsPlayed: played,
      Timestamp: new Date(this.t0 + ms).toISOString(),
      ...fields,
    });
    return this;
  }

  at(ms: number): string {
    return new Date(this.t0 + ms).toISOString();
  }

  /** OrchestratorStarted at t0 + ms. */
  os(ms = 0): this {
    return this.add(EventType.OrchestratorStarted, ms);
  }
  oc(ms = 0): this {
    return this.add(EventType.OrchestratorCompleted, ms);
  }
  start(name: string, input?: unknown, ms = 0): this {
    return this.add(EventType.ExecutionStarted, ms, {
      Name: name,
      Input: input === undefined ? undefined : JSON.stringify(input),
    });
  }
  /** ExecutionStarted whose Input is given as raw text (some SDK histories pass it unencoded). */
  startRaw(name: string, input: string | undefined, ms = 0): this {
    return this.add(EventType.ExecutionStarted, ms, { Name: name, Input: input });
  }
  sched(id: number, name: string, input?: string, ms = 0): this {
    return this.add(EventType.TaskScheduled, ms, { EventId: id, Name: name, Input: input });
  }
  done(id: number, result: unknown, ms = 0): this {
    return this.add(EventType.TaskCompleted, ms, { TaskScheduledId: id, Result: JSON.stringify(result) });
  }
  doneRaw(id: number, result: string, ms = 0): this {
    return this.add(EventType.TaskCompleted, ms, { TaskScheduledId: id, Result: result });
  }
  fail(id: number, reason: string, details = 'Big stack trace here', ms = 0): this {
    return this.add(EventType.TaskFailed, ms, { TaskScheduledId: id, Reason: reason, Details: details });
  }
  timer(id: number, fireAtMs: number, ms = 0): this {
    return this.add(EventType.TimerCreated, ms, { EventId: id, FireAt: this.at(fireAtMs) });
  }
  fired(id: number, fireAtMs: number, ms = 0): this {
    return this.add(EventType.TimerFired, ms, { TimerId: id, FireAt: this.at(fireAtMs) });
  }
  sub(id: number, name: string, instanceId: string, input?: string, ms = 0): this {
    return this.add(EventType.SubOrchestrationInstanceCreated, ms, {
      EventId: id,
      Name: name,
      InstanceId: instanceId,
      Input: input,
    });
  }
  subDone(id: number, result: unknown, ms = 0): this {
    return this.add(EventType.SubOrchestrationInstanceCompleted, ms, {
      TaskScheduledId: id,
      Result: JSON.stringify(result),
    });
  }
  subFail(id: number, reason: string, ms = 0): this {
    return this.add(EventType.SubOrchestrationInstanceFailed, ms, {
      TaskScheduledId: id,
      Reason: reason,
      Details: 'Big stack trace here',
    });
  }
  raised(name: string, input?: unknown, ms = 0): this {
    return this.add(EventType.EventRaised, ms, {
      Name: name,
      Input: input === undefined ? undefined : JSON.stringify(input),
    });
  }
}

const h = (t0: number) => new History(t0);
const failure = "Activity function 'Hello' failed: Result: Failure";
const subFailure = "Sub orchestrator function 'SayHelloInline' failed: Result: Failure";

/** TestHistories.GetOrchestratorStart */
export const orchestratorStart = (t0: number, name: string, input?: unknown) =>
  h(t0).os().start(name, input, 5).events;

/** TestHistories.GetAnyAOrB */
export const anyAOrB = (t0: number, inOrder: boolean) =>
  h(t0)
    .os()
    .start('AnyAOrB', inOrder)
    .sched(0, 'TaskA', JSON.stringify(inOrder))
    .sched(1, 'TaskB', JSON.stringify(inOrder))
    .oc()
    .os(1000)
    .done(inOrder ? 0 : 1, inOrder ? 'A' : 'B', 1000).events;

/** TestHistories.GetTimerActivityRaceActivityWinsHistory */
export function timerActivityRaceActivityWins(t0: number, iteration: number): HistoryEvent[] {
  const b = h(t0);
  if (iteration >= 1) b.os().start('TimerActivityRace').timer(0, 1000).sched(1, 'TaskA').oc();
  if (iteration >= 2) b.os(500).doneRaw(1, '{}', 500).sched(2, 'TaskB', undefined, 500).oc();
  if (iteration >= 3) b.os(1100).fired(0, 1000).oc(1100);
  if (iteration >= 4) b.os(2000).doneRaw(2, '{}', 1100).oc(2000);
  return b.events;
}

/** TestHistories.GetTimerActivityRaceTimerWinsHistory */
export function timerActivityRaceTimerWins(t0: number, iteration: number): HistoryEvent[] {
  const b = h(t0);
  if (iteration >= 1) b.os().start('TimerActivityRace').timer(0, 1000).sched(1, 'TaskA').oc();
  if (iteration >= 2) b.os(1100).fired(0, 1000);
  return b.events;
}

/** TestHistories.GetAnyWithTaskSet */
export function anyWithTaskSet(t0: number, iteration: number, eventsWin: boolean): HistoryEvent[] {
  const b = h(t0);
  if (iteration >= 1) b.os().start('AnyWithTaskSet').timer(0, 300_000).oc();
  if (iteration >= 2) {
    b.os(eventsWin ? 2500 : 31_500).raised('firstRequiredEvent', undefined, 2000);
    if (eventsWin) b.raised('secondRequiredEvent', undefined, 2000).fired(0, 300_000);
    else b.fired(0, 300_000).raised('secondRequiredEvent', undefined, 3000);
  }
  return b.events;
}

const fanOutStart = (t0: number, files: string[]) => {
  const b = h(t0).os().startRaw('FanOutFanInDiskUsage', undefined).sched(0, 'GetFileList', 'C:\\Dev').oc();
  b.os(1000).done(0, files, 1000).oc().os(2000);
  files.forEach((f, i) => b.sched(i + 1, 'GetFileSize', f, 2000));
  return b;
};

/** TestHistories.GetFanOutFanInDiskUsageReplayOne */
export const fanOutReplayOne = (t0: number, files: string[]) =>
  h(t0)
    .os()
    .startRaw('FanOutFanInDiskUsage', undefined)
    .sched(0, 'GetFileList', 'C:\\Dev')
    .oc()
    .os(1000)
    .done(0, files, 1000).events;

/** TestHistories.GetFanOutFanInDiskUsagePartComplete */
export const fanOutPartComplete = (t0: number, files: string[]) =>
  fanOutStart(t0, files).oc().os(3000).done(2, 2, 3000).events;

/** TestHistories.GetFanOutFanInDiskUsageComplete */
export const fanOutComplete = (t0: number, files: string[]) =>
  fanOutStart(t0, files).oc().os(2000).done(1, 1, 3000).done(2, 2, 3000).oc().os(4000).done(3, 3, 4000)
    .events;

/** TestHistories.GetFanOutFanInDiskUsageFaulted */
export const fanOutFaulted = (t0: number, files: string[]) =>
  fanOutStart(t0, files)
    .oc()
    .os(4000)
    .done(1, 1, 3000)
    .fail(
      2,
      `Activity function 'GetFileSize' failed: Could not find file ${files[1]}`,
      'Serialized System.Exception here',
      3000,
    )
    .fail(
      3,
      `Activity function 'GetFileSize' failed: Could not find file ${files[2]}`,
      'Serialized System.Exception here',
      4000,
    ).events;

/** TestHistories.GetHelloSequenceReplayFinal */
export const helloSequenceReplayFinal = (t0: number, name: string) =>
  h(t0)
    .os()
    .startRaw(name, undefined)
    .sched(0, 'Hello')
    .oc()
    .os(1000)
    .done(0, 'Hello, Tokyo!', 1000)
    .sched(1, 'Hello', undefined, 1000)
    .oc(1000)
    .os(2000)
    .done(1, 'Hello, Seattle!', 2000)
    .sched(2, 'Hello', undefined, 2000)
    .oc(2000)
    .os(1000)
    .done(2, 'Hello, London!', 3000).events;

/** TestHistories.GetTimestampExhaustion: fewer OrchestratorStarted events than replayed awaits. */
export function timestampExhaustion(t0: number): HistoryEvent[] {
  const s = (i: number) => i * 1000;
  return h(t0)
    .os(s(0))
    .start('TimestampExhaustion', { delayMergeUntilSecs: 1 }, s(0))
    .raised('CheckPrForMerge', { value: 0 }, s(0))
    .sched(0, 'Merge', undefined, s(0))
    .oc(s(0))
    .os(s(1))
    .raised('CheckPrForMerge', { value: 1 }, s(1))
    .oc(s(1))
    .os(s(2))
    .done(0, '', s(2))
    .timer(1, s(2), s(2))
    .oc(s(2))
    .os(s(3))
    .fired(1, s(2), s(3))
    .fired(1, s(2), s(3))
    .sched(2, 'CheckIfMerged', undefined, s(3))
    .oc(s(3))
    .os(s(4))
    .done(2, { output: false }, s(4))
    .sched(3, 'CheckIfMerged', undefined, s(4))
    .oc(s(4))
    .os(s(5))
    .done(3, { output: false }, s(5))
    .sched(4, 'CheckIfMerged', undefined, s(5))
    .oc(s(5))
    .os(s(6))
    .done(4, { output: false }, s(6))
    .oc(s(6))
    .os(s(7))
    .raised('CheckPrForMerge', { value: 2 }, s(7))
    .raised('CheckPrForMerge', { value: 3 }, s(7))
    .raised('CheckPrForMerge', { value: 4 }, s(7))
    .sched(5, 'CheckIfMerged', undefined, s(7))
    .oc(s(7))
    .os(s(8))
    .done(5, { output: false }, s(8)).events;
}

/** TestHistories.GetSayHelloWithActivityReplayOne */
export const sayHelloWithActivityReplayOne = (t0: number, name: string, input: unknown) =>
  h(t0)
    .os()
    .start(name, input)
    .sched(0, 'Hello', input === undefined ? undefined : JSON.stringify(input))
    .oc()
    .os(1000)
    .done(0, `Hello, ${String(input)}!`, 1000).events;

const activityFirstFailure = (t0: number, input: unknown) =>
  h(t0)
    .os()
    .start('SayHelloWithActivityRetry', input)
    .sched(0, 'Hello')
    .oc()
    .os(1000)
    .fail(0, failure, undefined, 1000);

/** TestHistories.GetSayHelloWithActivityRetryFailOne */
export const activityRetryFailOne = (t0: number, input: unknown) => activityFirstFailure(t0, input).events;

/** TestHistories.GetSayHelloWithActivityRetryRetryOne */
export const activityRetryRetryOne = (t0: number, input: unknown, interval: number) =>
  activityFirstFailure(t0, input)
    .timer(1, 1000 + interval, 1000)
    .oc(1000)
    .os(1000 + interval)
    .fired(1, 1000 + interval, 1000 + interval).events;

/** TestHistories.GetSayHelloWithActivityRetryRetryTwo */
export function activityRetryRetryTwo(t0: number, input: unknown, interval: number): HistoryEvent[] {
  const a = 20_000;
  const b = a + interval;
  const c = b + 20_000;
  const d = c + interval;
  return h(t0)
    .os()
    .start('SayHelloWithActivityRetry', input)
    .sched(0, 'Hello')
    .oc()
    .os(a)
    .fail(0, failure, undefined, a)
    .timer(1, b, a)
    .oc(a)
    .os(b)
    .fired(1, b, b)
    .sched(2, 'Hello', undefined, b)
    .oc(b)
    .os(c)
    .fail(2, failure, undefined, c)
    .timer(3, d, c)
    .oc(c)
    .os(d)
    .fired(3, d, d).events;
}

/** TestHistories.GetSayHelloWithActivityRetryFanout */
export function activityRetryFanout(t0: number, interval: number, iteration: number): HistoryEvent[] {
  const b = h(t0);
  if (iteration >= 1)
    b.os()
      .startRaw('SayHelloWithActivityRetryFanout', undefined)
      .sched(0, 'Hello', 'Tokyo')
      .sched(1, 'Hello', 'Seattle')
      .oc();
  if (iteration >= 2)
    b.os(110)
      .fail(0, failure, undefined, 100)
      .timer(2, 100 + interval, 100)
      .done(1, 'Hello, Seattle!', 100_000 + interval + 100)
      .oc(100);
  if (iteration >= 3)
    b.os(1000 + interval)
      .fired(2, 100_000 + interval, 100 + interval)
      .sched(3, 'Hello', 'Tokyo', 100 + interval)
      .oc(100);
  if (iteration >= 4) b.os(100_000 + interval + 100).done(3, 'Hello, Tokyo!', 100_000 + interval + 100);
  return b.events;
}

/** TestHistories.GetSayHelloWithSubOrchestratorReplayOne */
export const subOrchestratorReplayOne = (
  t0: number,
  name: string,
  sub: string,
  subId: string,
  input?: string,
) =>
  h(t0)
    .os()
    .startRaw(name, input)
    .sub(0, sub, subId, input)
    .oc()
    .os(1000)
    .subDone(0, `Hello, ${input}!`, 1000).events;

/** TestHistories.GetMultipleSubOrchestratorNoIdsSubOrchestrationsFinished */
export function multipleSubOrchestratorsFinished(t0: number, name: string, subs: string[], input: string) {
  const b = h(t0).os().startRaw(name, input);
  subs.forEach((s, i) => b.sub(i, s, `dummy-unique-id_${i}`, `${input}_${s}_${i}`));
  b.oc().os(1000);
  subs.forEach((s, i) => b.subDone(i, `Hello, ${input}_${s}_${i}!`, 1000));
  return b.events;
}

/** TestHistories.GetSayHelloWithSubOrchestratorFail */
export const subOrchestratorFail = (t0: number, name: string, sub: string, subId: string, input?: string) =>
  h(t0).os().startRaw(name, input).sub(0, sub, subId, input).oc().os(1000).subFail(0, subFailure, 1000)
    .events;

/** TestHistories.GetSayHelloWithSubOrchestratorRetryFailOne */
export const subRetryFailOne = (t0: number, subId: string, input: unknown) =>
  h(t0)
    .os()
    .start('SayHelloWithSubOrchestratorRetry', input)
    .sub(0, 'SayHelloInline', subId, JSON.stringify(input))
    .oc()
    .os(1000)
    .subFail(0, subFailure, 1000).events;

/** The first failed attempt of SayHelloWithSubOrchestratorRetry and its retry timer. */
const subRetryFirstFailure = (t0: number, subId: string, input: string, interval: number) =>
  h(t0)
    .os()
    .startRaw('SayHelloWithSubOrchestratorRetry', input)
    .sub(0, 'SayHelloInline', subId, input)
    .oc()
    .os(1000)
    .subFail(0, subFailure, 1000)
    .timer(1, 1000 + interval, 1000)
    .oc(1000);

/** TestHistories.GetSayHelloWithSubOrchestratorRetryRetryOne */
export const subRetryRetryOne = (t0: number, subId: string, input: string, interval: number) =>
  subRetryFirstFailure(t0, subId, input, interval)
    .os(1000 + interval)
    .fired(1, 1000 + interval, 1000 + interval).events;

/** TestHistories.GetSayHelloWithSubOrchestratorRetryRetryTwo */
export const subRetryRetryTwo = (t0: number, subId: string, input: string, interval: number) =>
  subRetryFirstFailure(t0, subId, input, interval)
    .os(2000 + interval)
    .fired(1, 2000 + interval, 2000 + interval)
    .sub(2, 'SayHelloInline', subId, input)
    .oc()
    .os(3000)
    .subFail(2, subFailure, 3000)
    .timer(3, 3000 + interval, 3000)
    .oc(3000)
    .os(4000 + interval)
    .fired(3, 4000 + interval, 4000 + interval).events;

/** TestHistories.GetSayHelloWithSuborchestratorRetryFanout */
export function subRetryFanout(t0: number, interval: number, iteration: number): HistoryEvent[] {
  const ids = ['sub-a', 'sub-b', 'sub-c'];
  const b = h(t0);
  if (iteration >= 1)
    b.os()
      .startRaw('SayHelloWithSubOrchestratorRetryFanout', undefined)
      .sub(0, 'SayHelloInline', ids[0]!, 'Tokyo')
      .sub(1, 'SayHelloInline', ids[1]!, 'Seattle')
      .oc();
  if (iteration >= 2)
    b.os(110)
      .subFail(0, failure, 100)
      .subDone(1, 'Hello, Seattle!', 100_000 + interval + 100)
      .timer(2, 100 + interval, 100)
      .oc(100);
  if (iteration >= 3)
    b.os(1000 + interval)
      .fired(2, 100_000 + interval, 100 + interval)
      .sub(3, 'SayHelloInline', ids[2]!, 'Tokyo', 100 + interval)
      .oc(100);
  if (iteration >= 4) b.os(100_000 + interval + 100).subDone(3, 'Hello, Tokyo!', 100_000 + interval + 100);
  return b.events;
}

/** TestHistories.GetThrowsExceptionFromActivityReplayOne */
export const throwsExceptionFromActivityReplayOne = (t0: number) =>
  h(t0)
    .os()
    .startRaw('DoesntHandleExceptionFromActivity', undefined)
    .sched(0, 'ThrowsErrorActivity')
    .oc()
    .os(1000)
    .fail(0, "Activity function 'ThrowsErrorActivity' failed.", undefined, 1000).events;

/** TestHistories.GetWaitForExternalEventEventReceived */
export const waitForExternalEventReceived = (t0: number, eventName: string, input?: unknown) =>
  h(t0).os().start('WaitForExternalEvent', input).oc().os(1000).raised(eventName, input, 1000).events;

/** TestHistories.GetWaitOnTimerFired */
export const waitOnTimerFired = (t0: number, fireAtMs: number) =>
  h(t0)
    .os()
    .start('WaitOnTimer', new Date(t0 + fireAtMs))
    .timer(0, fireAtMs)
    .oc()
    .os(fireAtMs)
    .fired(0, fireAtMs, fireAtMs).events;

/** Not in the SDK's fixtures: a 10-day timer on Azure Storage (6-day limit, 3-day sub-timers). */
export function longTimer(t0: number, firedSubTimers: number): HistoryEvent[] {
  const day = 24 * 3600 * 1000;
  const fireAt = 10 * day;
  const b = h(t0)
    .os()
    .start('WaitOnTimer', new Date(t0 + fireAt))
    .timer(0, 3 * day)
    .oc();
  const ends = [3 * day, 6 * day, 9 * day, 10 * day];
  for (let i = 0; i < firedSubTimers; i++) {
    b.os(ends[i]).fired(i, ends[i]!, ends[i]);
    if (i + 1 < ends.length) b.timer(i + 1, ends[i + 1]!, ends[i]).oc(ends[i]);
  }
  return b.events;
}
