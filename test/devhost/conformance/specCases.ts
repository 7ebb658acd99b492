// The cases of the durable-functions SDK's orchestrator spec (Azure/azure-functions-durable-js,
// test/integration/orchestrator-spec.ts), one entry per `it`, with two expectations:
// - sdk: what the spec expects the SDK to return for that history (flattened actions, done, output,
//   error); inputs travel as the extension sends them (JSON: NaN and undefined arrive as null);
// - azure: what the Durable extension and DTFx then do with it (TaskOrchestrationExecutor,
//   OutOfProcOrchestrationShim, RetryInterceptor): the tasks they schedule (ids re-derived for the
//   fixture's last episode), whether the instance ends, and how.
// Out of scope for the dev host (callHttp, callEntity, isLocked) are listed in `excludedSpecTests`.
import { expect } from 'vitest';
import type { HistoryEvent } from '../../../devhost';
import * as H from './sdkHistories';

export type AzureStatus = 'Running' | 'Completed' | 'Failed' | 'ContinuedAsNew';

export interface SpecCase {
  /** The spec's `it` title (with the value for its loops). */
  name: string;
  orchestrator: string;
  history: (t0: number) => HistoryEvent[];
  instanceId?: string;
  parentInstanceId?: string;
  sdk: {
    isDone: boolean;
    /** Flattened actions: "CallActivity Hello", "CreateTimer @300000" (fireAt, ms after the first
     * event), "WaitForExternalEvent start". */
    actions: string[];
    output?: unknown;
    /** "+ms" strings stand for times relative to the first event (Dates arrive as ISO text). */
    /** Substring of the SDK's error (a failing orchestrator). */
    error?: string;
    customStatus?: unknown;
    /** Properties of context.df the spec checks ("+ms" for a time relative to the first event). */
    context?: Record<string, unknown>;
  };
  azure: {
    status: AzureStatus;
    /** Tasks scheduled in this episode: "A1 Hello", "T0 +1000" (delay from now), "S0 SayHelloInline". */
    scheduled?: string[];
    output?: unknown;
    /** Substring of the failure (Failed). */
    error?: string;
    /** Ids still open although the orchestrator returned (DTFx keeps the instance Running). */
    open?: number[];
    /** Input of the next execution (ContinuedAsNew). */
    nextInput?: unknown;
    customStatus?: unknown;
  };
}

export const excludedSpecTests = [
  'callHttp(): schedules simple HTTP GET calls',
  'callHttp(): schedules authenticated HTTP POST calls with headers',
  'callHttp(): handles a completed HTTP request',
  'callEntity(): schedules an entity request',
  'callEntity(): handles a completed entity request',
  'isLocked(): returns correct state when no locks are owned (describe.skip in the spec)',
];

const retryFailure = "Activity function 'Hello' failed: Result: Failure";
const subFailure = "Sub orchestrator function 'SayHelloInline' failed: Result: Failure";
const files = ['file1.txt', 'file2.png', 'file3.csx'];
const fanOutActions = ['CallActivity GetFileList', ...files.map(() => 'CallActivity GetFileSize')];
const falsy: { label: string; value: unknown; json: unknown }[] = [
  { label: 'false', value: false, json: false },
  { label: '0', value: 0, json: 0 },
  { label: 'empty string', value: '', json: '' },
  { label: 'null', value: null, json: null },
  { label: 'undefined', value: undefined, json: null },
  { label: 'NaN', value: NaN, json: null },
];
const day = 24 * 3600 * 1000;
const taskSetActions = [
  'WaitForExternalEvent firstRequiredEvent',
  'WaitForExternalEvent secondRequiredEvent',
  'CreateTimer @300000',
];
/** The outputs of MultipleSubOrchestratorNoSubId (the SDK's orchestrator) for an input. */
export const multipleSubOutputs = (input: string) =>
  ['SayHelloWithActivity', 'SayHelloInline', 'SayHelloWithActivity', 'SayHelloInline'].map(
    (n, i) => `Hello, ${input}_${n}_${i}!`,
  );
const uuid: unknown = expect.stringMatching(
  /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
);

export const specCases: SpecCase[] = [
  {
    name: 'allows orchestrations with no yield-statements',
    orchestrator: 'NotGenerator',
    history: (t0) => H.orchestratorStart(t0, '', 'input'),
    sdk: { isDone: true, actions: [], output: 'Hello' },
    azure: { status: 'Completed', scheduled: [], output: 'Hello' },
  },
  {
    name: 'handles a simple orchestration function (no activity functions)',
    orchestrator: 'SayHelloInline',
    history: (t0) => H.orchestratorStart(t0, 'SayHelloInline', 'World'),
    sdk: { isDone: true, actions: [], output: 'Hello, World!' },
    azure: { status: 'Completed', output: 'Hello, World!' },
  },
  ...falsy.map((f): SpecCase => ({
    name: `handle falsy values: handles an orchestration function that returns ${f.label}`,
    orchestrator: 'PassThrough',
    history: (t0) => H.orchestratorStart(t0, 'PassThrough', f.value),
    sdk: { isDone: true, actions: [], output: f.json },
    azure: { status: 'Completed', output: f.json },
  })),
  {
    name: 'Properties: assigns instanceId',
    orchestrator: 'SayHelloInline',
    instanceId: 'a-given-instance-id',
    history: (t0) => H.orchestratorStart(t0, 'SayHelloInline', 'World'),
    sdk: {
      isDone: true,
      actions: [],
      output: 'Hello, World!',
      context: { instanceId: 'a-given-instance-id' },
    },
    azure: { status: 'Completed', output: 'Hello, World!' },
  },
  {
    name: 'Properties: assigns isReplaying',
    orchestrator: 'SayHelloSequence',
    history: (t0) => H.sayHelloWithActivityReplayOne(t0, 'SayHelloWithActivity', 'World'),
    sdk: {
      isDone: false,
      actions: ['CallActivity Hello', 'CallActivity Hello'],
      context: { isReplaying: false },
    },
    azure: { status: 'Running', scheduled: ['A1 Hello'] },
  },
  {
    name: 'Properties: assigns parentInstanceId',
    orchestrator: 'SayHelloSequence',
    parentInstanceId: 'the-parent',
    history: (t0) => H.sayHelloWithActivityReplayOne(t0, 'SayHelloWithActivity', 'World'),
    sdk: {
      isDone: false,
      actions: ['CallActivity Hello', 'CallActivity Hello'],
      context: { parentInstanceId: 'the-parent' },
    },
    azure: { status: 'Running', scheduled: ['A1 Hello'] },
  },
  {
    name: 'Properties: updates currentUtcDateTime to the most recent OrchestratorStarted timestamp',
    orchestrator: 'SayHelloSequence',
    history: (t0) => H.sayHelloWithActivityReplayOne(t0, 'SayHelloWithActivity', 'World'),
    sdk: {
      isDone: false,
      actions: ['CallActivity Hello', 'CallActivity Hello'],
      context: { currentUtcDateTime: '+1000' },
    },
    azure: { status: 'Running', scheduled: ['A1 Hello'] },
  },
  {
    name: 'Properties: uses existing currentUtcDateTime if OrchestratorStarted events are exhausted',
    orchestrator: 'TimestampExhaustion',
    history: (t0) => H.timestampExhaustion(t0),
    sdk: {
      isDone: false,
      actions: [
        'CallActivity Merge',
        'CreateTimer @3000',
        // Five checks (ids 2-6) with a wait between each: the events raised earlier are buffered.
        ...[2, 3, 4, 5].flatMap(() => ['CallActivity CheckIfMerged', 'WaitForExternalEvent CheckPrForMerge']),
        'CallActivity CheckIfMerged',
      ],
    },
    azure: { status: 'Running', scheduled: ['A6 CheckIfMerged'] },
  },
  {
    name: 'Error Handling: reports an unhandled exception from orchestrator',
    orchestrator: 'ThrowsExceptionInline',
    history: (t0) => H.orchestratorStart(t0, 'ThrowsExceptionInline'),
    sdk: { isDone: false, actions: [], error: 'Exception from Orchestrator' },
    azure: {
      status: 'Failed',
      error: "Orchestrator function 'ThrowsExceptionInline' failed: Exception from Orchestrator",
    },
  },
  {
    name: 'Error Handling: reports an unhandled exception from activity passed through orchestrator',
    orchestrator: 'ThrowsExceptionFromActivity',
    history: (t0) => H.throwsExceptionFromActivityReplayOne(t0),
    sdk: {
      isDone: false,
      actions: ['CallActivity ThrowsErrorActivity'],
      error: "Activity function 'ThrowsErrorActivity' failed.",
    },
    azure: { status: 'Failed', error: "Activity function 'ThrowsErrorActivity' failed." },
  },
  {
    name: 'Error Handling: schedules an activity function after orchestrator catches an exception',
    orchestrator: 'ThrowsExceptionFromActivityWithCatch',
    history: (t0) => H.throwsExceptionFromActivityReplayOne(t0),
    sdk: { isDone: false, actions: ['CallActivity ThrowsErrorActivity', 'CallActivity Hello'] },
    azure: { status: 'Running', scheduled: ['A1 Hello'] },
  },
  {
    name: 'callActivity(): schedules an activity function',
    orchestrator: 'SayHelloWithActivity',
    history: (t0) => H.orchestratorStart(t0, 'SayHelloWithActivity', 'World'),
    sdk: { isDone: false, actions: ['CallActivity Hello'] },
    azure: { status: 'Running', scheduled: ['A0 Hello'] },
  },
  {
    name: 'callActivity(): schedules an activity function with no input',
    orchestrator: 'CallActivityNoInput',
    history: (t0) => H.orchestratorStart(t0, 'CallActivityNoInput'),
    sdk: { isDone: false, actions: ['CallActivity ReturnsFour'] },
    azure: { status: 'Running', scheduled: ['A0 ReturnsFour'] },
  },
  ...falsy.map((f): SpecCase => ({
    name: `callActivity(): Falsy Input: schedules an activity function with input ${f.label}`,
    orchestrator: 'SayHelloWithActivity',
    history: (t0) => H.orchestratorStart(t0, 'SayHelloWithActivity', f.value),
    sdk: { isDone: false, actions: ['CallActivity Hello'] },
    azure: { status: 'Running', scheduled: ['A0 Hello'] },
  })),
  ...falsy.map((f): SpecCase => ({
    name: `callActivity(): Falsy Input: handles a completed activity function with falsy input ${f.label}`,
    orchestrator: 'SayHelloWithActivity',
    history: (t0) => H.sayHelloWithActivityReplayOne(t0, 'SayHelloWithActivity', f.value),
    sdk: { isDone: true, actions: ['CallActivity Hello'], output: `Hello, ${String(f.value)}!` },
    azure: { status: 'Completed', scheduled: [], output: `Hello, ${String(f.value)}!` },
  })),
  {
    name: 'callActivity(): handles a completed activity function',
    orchestrator: 'SayHelloWithActivity',
    history: (t0) => H.sayHelloWithActivityReplayOne(t0, 'SayHelloWithActivity', 'World'),
    sdk: { isDone: true, actions: ['CallActivity Hello'], output: 'Hello, World!' },
    azure: { status: 'Completed', output: 'Hello, World!' },
  },
  {
    name: 'callActivity(): is yielded twice, only scheduled once',
    orchestrator: 'SayHelloWithActivityYieldTwice',
    history: (t0) => H.sayHelloWithActivityReplayOne(t0, 'CallActivityYieldTwice', 'World'),
    sdk: { isDone: true, actions: ['CallActivity Hello'], output: 'Hello, World!' },
    azure: { status: 'Completed', output: 'Hello, World!' },
  },
  {
    name: 'callActivity(): handles a completed series of activity functions',
    orchestrator: 'SayHelloSequence',
    history: (t0) => H.helloSequenceReplayFinal(t0, 'SayHelloSequence'),
    sdk: {
      isDone: true,
      actions: ['CallActivity Hello', 'CallActivity Hello', 'CallActivity Hello'],
      output: ['Hello, Tokyo!', 'Hello, Seattle!', 'Hello, London!'],
    },
    azure: { status: 'Completed', output: ['Hello, Tokyo!', 'Hello, Seattle!', 'Hello, London!'] },
  },
  {
    name: 'callActivityWithRetry(): reports an error when retryOptions is undefined',
    orchestrator: 'SayHelloWithActivityRetryNoOptions',
    history: (t0) => H.orchestratorStart(t0, 'SayHelloWithActivityRetryOptionsUndefined'),
    sdk: { isDone: false, actions: [], error: 'retryOptions' },
    azure: { status: 'Failed', error: 'retryOptions' },
  },
  {
    name: 'callActivityWithRetry(): schedules an activity function',
    orchestrator: 'SayHelloWithActivityRetry',
    history: (t0) => H.orchestratorStart(t0, 'SayHelloWithActivityRetry', 'World'),
    sdk: { isDone: false, actions: ['CallActivityWithRetry Hello'] },
    azure: { status: 'Running', scheduled: ['A0 Hello'] },
  },
  {
    name: 'callActivityWithRetry(): schedules an activity function if < max attempts',
    orchestrator: 'SayHelloWithActivityRetry',
    history: (t0) => H.activityRetryRetryOne(t0, 'World', 10_000),
    sdk: { isDone: false, actions: ['CallActivityWithRetry Hello'] },
    azure: { status: 'Running', scheduled: ['A2 Hello'] },
  },
  {
    name: 'callActivityWithRetry(): retries a failed activity function if < max attempts',
    orchestrator: 'SayHelloWithActivityRetry',
    history: (t0) => H.activityRetryFailOne(t0, 'World'),
    sdk: { isDone: false, actions: ['CallActivityWithRetry Hello'] },
    azure: { status: 'Running', scheduled: ['T1 +10000'] },
  },
  {
    name: 'callActivityWithRetry(): reports a failed activity function if >= max attempts',
    orchestrator: 'SayHelloWithActivityRetry',
    history: (t0) => H.activityRetryRetryTwo(t0, 'World', 10_000),
    sdk: { isDone: false, actions: ['CallActivityWithRetry Hello'], error: retryFailure },
    azure: { status: 'Failed', error: retryFailure },
  },
  {
    name: 'callActivityWithRetry(): handles a completed activity function',
    orchestrator: 'SayHelloWithActivityRetry',
    history: (t0) => H.sayHelloWithActivityReplayOne(t0, 'SayHelloWithActivityRetry', 'World'),
    sdk: { isDone: true, actions: ['CallActivityWithRetry Hello'], output: 'Hello, World!' },
    azure: { status: 'Completed', output: 'Hello, World!' },
  },
  {
    name: 'callActivityWithRetry(): works with fan-out/fan-in',
    orchestrator: 'SayHelloWithActivityRetryFanout',
    history: (t0) => H.activityRetryFanout(t0, 100, 4),
    sdk: {
      isDone: true,
      actions: ['CallActivityWithRetry Hello', 'CallActivityWithRetry Hello'],
      output: ['Hello, Tokyo!', 'Hello, Seattle!'],
    },
    azure: { status: 'Completed', output: ['Hello, Tokyo!', 'Hello, Seattle!'] },
  },
  {
    name: 'callActivityWithRetry(): updates currentUtcDatetime after all retries fail',
    orchestrator: 'SayHelloWithActivityRetryAndReturnTimestamps',
    history: (t0) => H.activityRetryRetryTwo(t0, 'World', 10_000),
    sdk: { isDone: true, actions: ['CallActivityWithRetry Hello'], output: ['+0', '+60000'] },
    azure: { status: 'Completed', output: ['+0', '+60000'] },
  },
  {
    name: 'callSubOrchestrator(): schedules a suborchestrator function',
    orchestrator: 'SayHelloWithSubOrchestrator',
    instanceId: 'spec-parent',
    history: (t0) => H.orchestratorStart(t0, 'SayHelloWithSubOrchestrator', 'World'),
    sdk: { isDone: false, actions: ['CallSubOrchestrator SayHelloWithActivity spec-parent:0'] },
    azure: { status: 'Running', scheduled: ['S0 SayHelloWithActivity spec-parent:0'] },
  },
  {
    name: 'callSubOrchestrator(): schedules a suborchestrator function with no instanceId',
    orchestrator: 'SayHelloWithSubOrchestratorNoSubId',
    history: (t0) => H.orchestratorStart(t0, 'SayHelloWithSubOrchestrator', 'World'),
    sdk: { isDone: false, actions: ['CallSubOrchestrator SayHelloWithActivity'] },
    azure: { status: 'Running', scheduled: ['S0 SayHelloWithActivity <executionId>:0'] },
  },
  {
    name: 'callSubOrchestrator(): Succesfully runs multiple suborchestrator function with no instanceId',
    orchestrator: 'MultipleSubOrchestratorNoSubId',
    history: (t0) =>
      H.multipleSubOrchestratorsFinished(
        t0,
        'MultipleSubOrchestratorNoSubId',
        ['SayHelloWithActivity', 'SayHelloInline', 'SayHelloWithActivity', 'SayHelloInline'],
        'World',
      ),
    sdk: {
      isDone: true,
      actions: [
        'CallSubOrchestrator SayHelloWithActivity',
        'CallSubOrchestrator SayHelloInline',
        'CallSubOrchestrator SayHelloWithActivity',
        'CallSubOrchestrator SayHelloInline',
      ],
      output: multipleSubOutputs('World'),
    },
    azure: {
      status: 'Completed',
      output: multipleSubOutputs('World'),
    },
  },
  {
    name: 'callSubOrchestrator(): handles a completed suborchestrator function',
    orchestrator: 'SayHelloWithSubOrchestrator',
    instanceId: 'spec-parent',
    history: (t0) =>
      H.subOrchestratorReplayOne(
        t0,
        'SayHelloWithSubOrchestrator',
        'SayHelloWithActivity',
        'spec-parent:0',
        'World',
      ),
    sdk: {
      isDone: true,
      actions: ['CallSubOrchestrator SayHelloWithActivity spec-parent:0'],
      output: 'Hello, World!',
    },
    azure: { status: 'Completed', output: 'Hello, World!' },
  },
  {
    name: 'callSubOrchestrator(): reports an unhandled exception from suborchestrator',
    orchestrator: 'SayHelloWithSubOrchestrator',
    instanceId: 'spec-parent',
    history: (t0) =>
      H.subOrchestratorFail(
        t0,
        'SayHelloWithSubOrchestrator',
        'SayHelloWithActivity',
        'spec-parent:0',
        'World',
      ),
    sdk: {
      isDone: false,
      actions: ['CallSubOrchestrator SayHelloWithActivity spec-parent:0'],
      error: subFailure,
    },
    azure: { status: 'Failed', error: subFailure },
  },
  {
    name: 'callSubOrchestratorWithRetry(): reports an error when retryOptions is undefined',
    orchestrator: 'SayHelloWithSubOrchestratorRetryNoOptions',
    history: (t0) => H.orchestratorStart(t0, 'SayHelloWithSubOrchestratorRetryNoOptions'),
    sdk: { isDone: false, actions: [], error: 'retryOptions' },
    azure: { status: 'Failed', error: 'retryOptions' },
  },
  {
    name: 'callSubOrchestratorWithRetry(): schedules a suborchestrator function',
    orchestrator: 'SayHelloWithSubOrchestratorRetry',
    instanceId: 'spec-parent',
    history: (t0) => H.orchestratorStart(t0, 'SayHelloWithSubOrchestratorRetry', 'World'),
    sdk: { isDone: false, actions: ['CallSubOrchestratorWithRetry SayHelloInline spec-parent:0'] },
    azure: { status: 'Running', scheduled: ['S0 SayHelloInline spec-parent:0'] },
  },
  {
    name: 'callSubOrchestratorWithRetry(): schedules a suborchestrator function if < max attempts',
    orchestrator: 'SayHelloWithSubOrchestratorRetry',
    instanceId: 'spec-parent',
    history: (t0) => H.subRetryRetryOne(t0, 'spec-parent:0', 'World', 10_000),
    sdk: { isDone: false, actions: ['CallSubOrchestratorWithRetry SayHelloInline spec-parent:0'] },
    azure: { status: 'Running', scheduled: ['S2 SayHelloInline spec-parent:0'] },
  },
  {
    name: 'callSubOrchestratorWithRetry(): retries a failed suborchestrator function if < max attempts',
    orchestrator: 'SayHelloWithSubOrchestratorRetry',
    instanceId: 'spec-parent',
    history: (t0) => H.subRetryFailOne(t0, 'spec-parent:0', 'World'),
    sdk: { isDone: false, actions: ['CallSubOrchestratorWithRetry SayHelloInline spec-parent:0'] },
    azure: { status: 'Running', scheduled: ['T1 +10000'] },
  },
  {
    name: 'callSubOrchestratorWithRetry(): reports a failed suborchestrator function if >= max attempts',
    orchestrator: 'SayHelloWithSubOrchestratorRetry',
    instanceId: 'spec-parent',
    history: (t0) => H.subRetryRetryTwo(t0, 'spec-parent:0', 'World', 10_000),
    sdk: {
      isDone: false,
      actions: ['CallSubOrchestratorWithRetry SayHelloInline spec-parent:0'],
      error: subFailure,
    },
    azure: { status: 'Failed', error: subFailure },
  },
  {
    name: 'callSubOrchestratorWithRetry(): handles a completed suborchestrator function',
    orchestrator: 'SayHelloWithSubOrchestratorRetry',
    instanceId: 'spec-parent',
    history: (t0) =>
      H.subOrchestratorReplayOne(
        t0,
        'SayHelloWithSubOrchestratorRetry',
        'SayHelloInline',
        'spec-parent:0',
        'World',
      ),
    sdk: {
      isDone: true,
      actions: ['CallSubOrchestratorWithRetry SayHelloInline spec-parent:0'],
      output: 'Hello, World!',
    },
    azure: { status: 'Completed', output: 'Hello, World!' },
  },
  {
    name: 'callSubOrchestratorWithRetry(): handles fan-out/fan-in',
    orchestrator: 'SayHelloWithSubOrchestratorRetryFanout',
    history: (t0) => H.subRetryFanout(t0, 100, 4),
    sdk: {
      isDone: true,
      actions: ['CallSubOrchestratorWithRetry SayHelloInline', 'CallSubOrchestratorWithRetry SayHelloInline'],
      output: ['Hello, Tokyo!', 'Hello, Seattle!'],
    },
    azure: { status: 'Completed', output: ['Hello, Tokyo!', 'Hello, Seattle!'] },
  },
  {
    name: 'continueAsNew(): schedules a continueAsNew request',
    orchestrator: 'ContinueAsNewCounter',
    history: (t0) => H.orchestratorStart(t0, 'ContinueAsNewCounter', { value: 5 }),
    sdk: { isDone: true, actions: ['ContinueAsNew'], output: 6 },
    azure: { status: 'ContinuedAsNew', nextInput: { value: 6 } },
  },
  {
    name: 'createTimer(): schedules a timer',
    orchestrator: 'WaitOnTimer',
    history: (t0) => H.orchestratorStart(t0, 'WaitOnTimer', new Date(t0 + 5 * 60_000)),
    sdk: { isDone: false, actions: ['CreateTimer @300000'] },
    azure: { status: 'Running', scheduled: ['T0 +300000'] },
  },
  {
    name: 'createTimer(): proceeds after a timer fires',
    orchestrator: 'WaitOnTimer',
    history: (t0) => H.waitOnTimerFired(t0, 5 * 60_000),
    sdk: { isDone: true, actions: ['CreateTimer @300000'], output: 'Timer fired!' },
    azure: { status: 'Completed', output: 'Timer fired!' },
  },
  {
    name: 'newGuid(): generates consistent GUIDs',
    orchestrator: 'GuidGenerator',
    instanceId: 'guid-instance',
    history: (t0) => H.orchestratorStart(t0, 'GuidGenerator'),
    sdk: { isDone: true, actions: [], output: [uuid, uuid, uuid] },
    azure: { status: 'Completed', output: [uuid, uuid, uuid] },
  },
  {
    name: 'setCustomStatus(): sets a custom status',
    orchestrator: 'SayHelloWithCustomStatus',
    history: (t0) => H.sayHelloWithActivityReplayOne(t0, 'SayHelloWithCustomStatus', 'World!'),
    sdk: { isDone: false, actions: ['CallActivity Hello', 'CallActivity Hello'], customStatus: 'Tokyo' },
    azure: { status: 'Running', scheduled: ['A1 Hello'], customStatus: 'Tokyo' },
  },
  {
    name: 'waitForExternalEvent(): waits for an external event',
    orchestrator: 'WaitForExternalEvent',
    history: (t0) => H.orchestratorStart(t0, 'WaitForExternalEvent,'),
    sdk: { isDone: false, actions: ['WaitForExternalEvent start'] },
    azure: { status: 'Running', scheduled: [] },
  },
  {
    name: 'waitForExternalEvent(): proceeds when the correctly-named event is received',
    orchestrator: 'WaitForExternalEvent',
    history: (t0) => H.waitForExternalEventReceived(t0, 'start', 'Reykjavik'),
    sdk: { isDone: false, actions: ['WaitForExternalEvent start', 'CallActivity Hello'] },
    azure: { status: 'Running', scheduled: ['A0 Hello'] },
  },
  {
    name: 'waitForExternalEvent(): does not proceed when an incorrectly-named event is received',
    orchestrator: 'WaitForExternalEvent',
    history: (t0) => H.waitForExternalEventReceived(t0, 'wrongEvent', 'Reykjavik'),
    sdk: { isDone: false, actions: ['WaitForExternalEvent start'] },
    azure: { status: 'Running', scheduled: [] },
  },
  {
    name: 'Task.all() and Task.any(): schedules a parallel set of tasks',
    orchestrator: 'FanOutFanInDiskUsage',
    history: (t0) => H.fanOutReplayOne(t0, files),
    sdk: { isDone: false, actions: fanOutActions },
    azure: { status: 'Running', scheduled: ['A1 GetFileSize', 'A2 GetFileSize', 'A3 GetFileSize'] },
  },
  {
    name: 'Task.all() and Task.any(): Task.all does not proceed if some parallel tasks have completed',
    orchestrator: 'FanOutFanInDiskUsage',
    history: (t0) => H.fanOutPartComplete(t0, files),
    sdk: { isDone: false, actions: fanOutActions },
    azure: { status: 'Running', scheduled: [] },
  },
  {
    name: 'Task.all() and Task.any(): Task.all proceeds if all parallel tasks have completed',
    orchestrator: 'FanOutFanInDiskUsage',
    history: (t0) => H.fanOutComplete(t0, files),
    sdk: { isDone: true, actions: fanOutActions, output: 6 },
    azure: { status: 'Completed', output: 6 },
  },
  {
    name: 'Task.all() and Task.any(): Task.all throws if a parallel task has faulted',
    orchestrator: 'FanOutFanInDiskUsage',
    history: (t0) => H.fanOutFaulted(t0, files),
    sdk: {
      isDone: false,
      actions: fanOutActions,
      error: "Activity function 'GetFileSize' failed: Could not find file file2.png",
    },
    azure: {
      status: 'Failed',
      error: "Activity function 'GetFileSize' failed: Could not find file file2.png",
    },
  },
  {
    // The SDK is done; DTFx waits for TaskB (id 1), still running.
    name: 'Task.all() and Task.any(): Task.any proceeds if a scheduled parallel task completes in order',
    orchestrator: 'AnyAOrB',
    history: (t0) => H.anyAOrB(t0, true),
    sdk: { isDone: true, actions: ['CallActivity TaskA', 'CallActivity TaskB'], output: 'A' },
    azure: { status: 'Running', scheduled: [], open: [1] },
  },
  {
    name: 'Task.all() and Task.any(): Task.any proceeds if a scheduled parallel task completes out of order',
    orchestrator: 'AnyAOrB',
    history: (t0) => H.anyAOrB(t0, false),
    sdk: { isDone: true, actions: ['CallActivity TaskA', 'CallActivity TaskB'], output: 'B' },
    azure: { status: 'Running', scheduled: [], open: [0] },
  },
  {
    name: 'Task.all() and Task.any(): Task.any called with one TaskSet and one timer where TaskSet wins (1st replay)',
    orchestrator: 'AnyWithTaskSet',
    history: (t0) => H.anyWithTaskSet(t0, 1, true),
    sdk: {
      isDone: false,
      actions: taskSetActions,
    },
    azure: { status: 'Running', scheduled: ['T0 +300000'] },
  },
  {
    name: 'Task.all() and Task.any(): Task.any called with one TaskSet and one timer where TaskSet wins (2nd replay)',
    orchestrator: 'AnyWithTaskSet',
    history: (t0) => H.anyWithTaskSet(t0, 2, true),
    sdk: {
      isDone: false,
      actions: [...taskSetActions, 'CallActivity Hello'],
    },
    azure: { status: 'Running', scheduled: ['A1 Hello'] },
  },
  {
    name: 'Task.all() and Task.any(): Task.any called with one TaskSet and one timer where timer wins (1st replay)',
    orchestrator: 'AnyWithTaskSet',
    history: (t0) => H.anyWithTaskSet(t0, 1, false),
    sdk: {
      isDone: false,
      actions: taskSetActions,
    },
    azure: { status: 'Running', scheduled: ['T0 +300000'] },
  },
  {
    name: 'Task.all() and Task.any(): Task.any called with one TaskSet and one timer where timer wins (2nd replay)',
    orchestrator: 'AnyWithTaskSet',
    history: (t0) => H.anyWithTaskSet(t0, 2, false),
    sdk: {
      isDone: true,
      actions: taskSetActions,
      output: ['timeout'],
    },
    azure: { status: 'Completed', output: ['timeout'] },
  },
  {
    name: 'Task.all() and Task.any(): Task yielded in both Task.any() and afterwards scheduled only once',
    orchestrator: 'AnyAOrBYieldATwice',
    history: (t0) => H.anyAOrB(t0, true),
    sdk: { isDone: true, actions: ['CallActivity TaskA', 'CallActivity TaskB'], output: 'A' },
    azure: { status: 'Running', scheduled: [], open: [1] },
  },
  ...[1, 2, 3, 4].map((iteration): SpecCase => ({
    name: `Task.all() and Task.any(): Timer in combination with Task.any() executes deterministically (iteration ${iteration})`,
    orchestrator: 'TimerActivityRace',
    history: (t0) => H.timerActivityRaceActivityWins(t0, iteration),
    sdk: {
      isDone: iteration === 4,
      actions: ['CreateTimer @1000', 'CallActivity TaskA', ...(iteration >= 2 ? ['CallActivity TaskB'] : [])],
      ...(iteration === 4 ? { output: {} } : {}),
    },
    azure:
      iteration === 4
        ? { status: 'Completed', output: {} }
        : { status: 'Running', scheduled: [[], ['T0 +1000', 'A1 TaskA'], ['A2 TaskB'], []][iteration] },
  })),
  {
    name: 'Task.all() and Task.any(): Timer in combination with Task.any() timer wins (1st replay)',
    orchestrator: 'TimerActivityRace',
    history: (t0) => H.timerActivityRaceTimerWins(t0, 1),
    sdk: { isDone: false, actions: ['CreateTimer @1000', 'CallActivity TaskA'] },
    azure: { status: 'Running', scheduled: ['T0 +1000', 'A1 TaskA'] },
  },
  {
    // The SDK is done; DTFx waits for TaskA (id 1), still running.
    name: 'Task.all() and Task.any(): Timer in combination with Task.any() timer wins (2nd replay)',
    orchestrator: 'TimerActivityRace',
    history: (t0) => H.timerActivityRaceTimerWins(t0, 2),
    sdk: { isDone: true, actions: ['CreateTimer @1000', 'CallActivity TaskA'], output: 'Timer finished' },
    azure: { status: 'Running', scheduled: [], open: [1] },
  },
  // Not in the SDK's spec: a 10-day timer, split into 3-day sub-timers by the SDK (LongTimerTask)
  // and by the extension (DurableOrchestrationContext.CreateTimer) with the same ids.
  ...[0, 1, 2, 3, 4].map((fired): SpecCase => ({
    name: `long timers: a 10-day timer after ${fired} fired sub-timer(s)`,
    orchestrator: 'WaitOnTimer',
    history: (t0) => H.longTimer(t0, fired),
    sdk: {
      isDone: fired === 4,
      actions: [`CreateTimer @${10 * day}`],
      ...(fired === 4 ? { output: 'Timer fired!' } : {}),
    },
    azure:
      fired === 4
        ? { status: 'Completed', output: 'Timer fired!' }
        : {
            status: 'Running',
            scheduled: [[`T0 +${3 * day}`], [`T1 +${3 * day}`], [`T2 +${3 * day}`], [`T3 +${day}`]][fired],
          },
  })),
];
