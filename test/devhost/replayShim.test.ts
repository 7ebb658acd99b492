// The emulation of the Durable extension's action replay and DTFx id assignment, on hand-written
// histories (the end-to-end tests cover the same code through real orchestrators).
import { describe, expect, it } from 'vitest';
import { EventType, type HistoryEvent } from '../../devhost';
import { ActionType, type ActionJson } from '../../devhost/actionJson';
import { replayActions, type ShimContext } from '../../devhost/replayShim';

const t0 = Date.parse('2024-01-01T00:00:00Z');
const at = (ms: number) => new Date(t0 + ms).toISOString();
const ev = (type: number, fields: Partial<HistoryEvent> = {}, ms = 0): HistoryEvent => ({
  EventType: type,
  EventId: -1,
  IsPlayed: false,
  Timestamp: at(ms),
  ...fields,
});
const start = (ms = 0) => [
  ev(EventType.OrchestratorStarted, {}, ms),
  ev(EventType.ExecutionStarted, { Name: 'o' }, ms),
];
const episode = (ms: number) => ev(EventType.OrchestratorStarted, {}, ms);
const scheduled = (id: number, name: string) => ev(EventType.TaskScheduled, { EventId: id, Name: name });
const completed = (id: number) => ev(EventType.TaskCompleted, { TaskScheduledId: id, Result: '1' });
const failed = (id: number) => ev(EventType.TaskFailed, { TaskScheduledId: id, Reason: 'r', Details: 'd' });
const timerCreated = (id: number) => ev(EventType.TimerCreated, { EventId: id, FireAt: at(0) });
const timerFired = (id: number) => ev(EventType.TimerFired, { TimerId: id });

const ctx: ShimContext = {
  instanceId: 'i1',
  executionId: 'exec1',
  parentInstanceId: 'p1',
  functionKind: (name) => (name.startsWith('orch') ? 'orchestration' : 'activity'),
  functionNames: () => [],
};
const act = (name: string): ActionJson => ({ actionType: ActionType.CallActivity, functionName: name });
const retry = (name: string, first: number, max: number, extra = {}): ActionJson => ({
  actionType: ActionType.CallActivityWithRetry,
  functionName: name,
  retryOptions: { firstRetryIntervalInMilliseconds: first, maxNumberOfAttempts: max, ...extra },
});
const all = (...a: ActionJson[]): ActionJson => ({ actionType: ActionType.WhenAll, compoundActions: a });
const any = (...a: ActionJson[]): ActionJson => ({ actionType: ActionType.WhenAny, compoundActions: a });

describe('replay shim', () => {
  it('schedules new tasks with sequential ids and waits for each top-level action', () => {
    const r = replayActions(start(), [act('a'), act('b')], ctx);
    expect(r.newTasks.map((t) => [t.id, t.kind])).toEqual([[0, 'activity']]);
    expect(r.allActionsDone).toBe(false);
    const r2 = replayActions(
      [...start(), scheduled(0, 'a'), episode(5), completed(0)],
      [act('a'), act('b')],
      ctx,
    );
    expect(r2.newTasks).toEqual([{ id: 1, kind: 'activity', name: 'b', input: undefined }]);
    expect([...r2.pending.keys()]).toEqual([1]);
  });

  it('lets WhenAll wait for every child even after one failed (unlike the SDK)', () => {
    const h = [...start(), scheduled(0, 'a'), scheduled(1, 'b'), episode(5), failed(0)];
    const r = replayActions(h, [all(act('a'), act('b')), act('next')], ctx);
    expect(r.newTasks).toEqual([]);
    expect([...r.pending.keys()]).toEqual([1]);
    expect(r.nextId).toBe(2);
  });

  it('completes WhenAny with the first child', () => {
    const h = [...start(), scheduled(0, 'a'), scheduled(1, 'b'), episode(5), completed(1)];
    const r = replayActions(h, [any(act('a'), act('b')), act('next')], ctx);
    expect(r.newTasks.map((t) => t.id)).toEqual([2]);
  });

  it('follows RetryInterceptor: backoff, cap, and a timer after the last attempt', () => {
    const action = retry('x', 100, 3, { backoffCoefficient: 2, maxRetryIntervalInMilliseconds: 150 });
    let h = [...start(), scheduled(0, 'x'), episode(10), failed(0)];
    let r = replayActions(h, [action], ctx);
    expect(r.newTasks).toEqual([
      { id: 1, kind: 'timer', fireAt: new Date(t0 + 10 + 100), purpose: 'retryTimer', name: 'x' },
    ]);
    h = [...h, timerCreated(1), episode(110), timerFired(1), scheduled(2, 'x'), episode(120), failed(2)];
    r = replayActions(h, [action], ctx);
    expect(r.newTasks).toEqual([
      { id: 3, kind: 'timer', fireAt: new Date(t0 + 120 + 150), purpose: 'retryTimer', name: 'x' },
    ]);
    h = [...h, timerCreated(3), episode(300), timerFired(3), scheduled(4, 'x'), episode(310), failed(4)];
    r = replayActions(h, [action], ctx);
    // Still a timer after the last attempt, but one that fires at once (durabletask #661).
    expect(r.newTasks).toEqual([
      { id: 5, kind: 'timer', fireAt: new Date(t0 + 310), purpose: 'retryTimer', name: 'x' },
    ]);
    h = [...h, timerCreated(5), episode(500), timerFired(5)];
    r = replayActions(h, [action], ctx);
    expect(r.allActionsDone).toBe(true);
    expect(r.pending.size).toBe(0);
  });

  it('fails loudly when a retry timeout would make the SDK hang', () => {
    const h = [...start(), scheduled(0, 'x'), episode(1000), failed(0)];
    const r = replayActions(h, [retry('x', 100, 5, { retryTimeoutInMilliseconds: 500 })], ctx);
    expect(r.failure?.kind).toBe('retry-timeout');
  });

  it('keeps canceled timers pending until they fire', () => {
    const h = [...start(), episode(1)];
    const r = replayActions(
      h,
      [any({ actionType: ActionType.CreateTimer, fireAt: at(100), isCanceled: true }, act('a')), act('b')],
      ctx,
    );
    expect(r.newTasks.map((t) => [t.id, t.kind])).toEqual([
      [0, 'timer'],
      [1, 'activity'],
      [2, 'activity'],
    ]);
    expect([...r.pending.keys()]).toEqual([0, 1, 2]);
    // DTFx removes a canceled timer from its open tasks: it does not keep the instance alive.
    expect(r.open.map((t) => t.id)).toEqual([1, 2]);
  });

  it('carries events raised after continueAsNew into the next execution', () => {
    const raised = (name: string) => ev(EventType.EventRaised, { Name: name, Input: '1' });
    const wait: ActionJson = { actionType: ActionType.WaitForExternalEvent, externalEventName: 'a' };
    const can: ActionJson = { actionType: ActionType.ContinueAsNew, input: 2 };
    const h = [...start(), episode(1), raised('b'), raised('a'), raised('c')];
    const r = replayActions(h, [wait, can], ctx);
    expect(r.continueAsNew).toEqual({ input: 2 });
    expect(r.allActionsDone).toBe(true);
    // 'b' came before the call (buffered, then lost with the execution); 'c' after it.
    expect(r.carryover.map((e) => e.Name)).toEqual(['c']);
  });

  it('delivers external events to the newest waiter and buffers the rest in order', () => {
    const wait = (name: string): ActionJson => ({
      actionType: ActionType.WaitForExternalEvent,
      externalEventName: name,
    });
    const raised = (name: string) => ev(EventType.EventRaised, { Name: name, Input: '1' });
    const h = [...start(), episode(1), raised('GO'), raised('go')];
    const r = replayActions(h, [wait('go'), wait('go'), act('after')], ctx);
    expect(r.newTasks.map((t) => t.id)).toEqual([0]);
  });

  it('names sub-orchestrations "<execution id>:<task id>" unless given an id, and rejects the parent id', () => {
    const sub = (instanceId?: string): ActionJson => ({
      actionType: ActionType.CallSubOrchestrator,
      functionName: 'orchChild',
      instanceId,
    });
    const r = replayActions(start(), [all(sub(), sub('explicit'))], ctx);
    expect(r.newTasks.map((t) => (t.kind === 'subOrchestration' ? t.instanceId : ''))).toEqual([
      'exec1:0',
      'explicit',
    ]);
    expect(replayActions(start(), [sub('p1')], ctx).failure?.message).toMatch(
      /must be different than the instance ID of a parent/,
    );
  });

  it('reports non-determinism: a different task, or a task that is no longer scheduled', () => {
    const h = [...start(), scheduled(0, 'a'), episode(5), completed(0)];
    expect(replayActions(h, [act('b')], ctx).failure?.message).toBe(
      "Non-deterministic workflow detected: expected TaskScheduled 'a' (id 0) in history, the orchestrator scheduled 'b'",
    );
    expect(
      replayActions(h, [{ actionType: ActionType.CreateTimer, fireAt: at(9) }], ctx).failure?.message,
    ).toBe(
      "Non-deterministic workflow detected: expected TaskScheduled 'a' (id 0) in history, the orchestrator scheduled a timer",
    );
    expect(replayActions(h, [], ctx).failure?.message).toMatch(
      /expected TaskScheduled 'a' \(id 0\) in history, the orchestrator did not schedule it on replay/,
    );
  });

  it('rejects entities and callHttp as unsupported', () => {
    expect(replayActions(start(), [{ actionType: ActionType.CallEntity }], ctx).failure?.kind).toBe(
      'unsupported',
    );
    expect(replayActions(start(), [{ actionType: ActionType.CallHttp }], ctx).failure?.kind).toBe(
      'unsupported',
    );
  });
});
