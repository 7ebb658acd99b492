// The durable-functions SDK's test orchestrations (sdkOrchestrations.ts, as the v4 app
// conformanceApp.ts) run end to end on the dev host, in test mode (task ids cross-checked with the
// SDK after every episode). Each case states the history DTFx would write (the tasks with their ids,
// in the SDK's spec histories' numbering), how the tasks ended and the result. Expectations
// follow the SDK's spec and DTFx: e.g. an instance ends only once no task is open, so a Task.any
// loser's completion and a timer that was not canceled are in the history before the end.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EventType, type DevHost, type HistoryEvent, type OrchestrationStatus } from '../../../devhost';
import { fixtures, useDevHost, waitFor } from '../helpers';
import { conformanceState } from './conformanceState';
import { multipleSubOutputs } from './specCases';

const host = useDevHost({
  appEntry: path.join(__dirname, 'conformanceApp.ts'),
  hostJsonPath: path.join(fixtures, 'host.json'),
  testMode: true,
});
const state = conformanceState();
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

interface E2eCase {
  name: string;
  orchestrator: string;
  input?: unknown;
  /** Arms failures or delays before the start. */
  setup?: () => void;
  /** Raises events while the instance runs. */
  drive?: (h: DevHost, id: string) => Promise<void>;
  /** Scheduling events in id order: "A0 Hello", "T1 +50" (delay from its episode; "+*": any),
   * "S0 SayHelloInline <instance id>". */
  scheduled: string[];
  /** How each task ended, by id: "0 ok", "1 failed", "2 fired". */
  ended?: string[];
  status: 'Completed' | 'Failed';
  output?: unknown;
  /** For Failed: a pattern of the reason. */
  error?: RegExp;
  customStatus?: unknown;
  check?: (s: OrchestrationStatus, h: HistoryEvent[]) => void;
}

const running = (h: DevHost, id: string) =>
  waitFor(async () => (await h.getStatus(id))?.runtimeStatus === 'Running', 10_000, `${id} running`);
const files = ['file1.txt', 'file2.png', 'file3.csx'];
const ended = (n: number, first = 0) => Array.from({ length: n }, (_, i) => `${first + i} ok`);

const cases: E2eCase[] = [
  { name: 'NotGenerator', orchestrator: 'NotGenerator', scheduled: [], status: 'Completed', output: 'Hello' },
  {
    name: 'SayHelloInline',
    orchestrator: 'SayHelloInline',
    input: 'World',
    scheduled: [],
    status: 'Completed',
    output: 'Hello, World!',
  },
  ...[false, 0, '', null].map((v): E2eCase => ({
    name: `PassThrough ${JSON.stringify(v)}`,
    orchestrator: 'PassThrough',
    input: v,
    scheduled: [],
    status: 'Completed',
    output: v,
  })),
  {
    name: 'SayHelloWithActivity',
    orchestrator: 'SayHelloWithActivity',
    input: 'World',
    scheduled: ['A0 Hello'],
    ended: ended(1),
    status: 'Completed',
    output: 'Hello, World!',
  },
  {
    name: 'CallActivityNoInput',
    orchestrator: 'CallActivityNoInput',
    scheduled: ['A0 ReturnsFour'],
    ended: ended(1),
    status: 'Completed',
    output: 4,
  },
  {
    name: 'SayHelloWithActivityYieldTwice (scheduled once)',
    orchestrator: 'SayHelloWithActivityYieldTwice',
    input: 'World',
    scheduled: ['A0 Hello'],
    ended: ended(1),
    status: 'Completed',
    output: 'Hello, World!',
  },
  {
    name: 'SayHelloSequence',
    orchestrator: 'SayHelloSequence',
    scheduled: ['A0 Hello', 'A1 Hello', 'A2 Hello'],
    ended: ended(3),
    status: 'Completed',
    output: ['Hello, Tokyo!', 'Hello, Seattle!', 'Hello, London!'],
  },
  {
    name: 'SayHelloWithCustomStatus',
    orchestrator: 'SayHelloWithCustomStatus',
    scheduled: ['A0 Hello', 'A1 Hello', 'A2 Hello'],
    ended: ended(3),
    status: 'Completed',
    output: ['Hello, Tokyo!', 'Hello, Seattle!', 'Hello, London!'],
    customStatus: 'London',
  },
  {
    name: 'ThrowsExceptionInline',
    orchestrator: 'ThrowsExceptionInline',
    scheduled: [],
    status: 'Failed',
    error: /^Orchestrator function 'ThrowsExceptionInline' failed: Exception from Orchestrator$/,
  },
  {
    name: 'ThrowsExceptionFromActivity',
    orchestrator: 'ThrowsExceptionFromActivity',
    scheduled: ['A0 ThrowsErrorActivity'],
    ended: ['0 failed'],
    status: 'Failed',
    error:
      /^Orchestrator function 'ThrowsExceptionFromActivity' failed: Activity function 'ThrowsErrorActivity' failed: thrown on purpose/,
  },
  {
    name: 'ThrowsExceptionFromActivityWithCatch',
    orchestrator: 'ThrowsExceptionFromActivityWithCatch',
    input: 'World',
    scheduled: ['A0 ThrowsErrorActivity', 'A1 Hello'],
    ended: ['0 failed', '1 ok'],
    status: 'Completed',
    output: 'Hello, World!',
  },
  {
    name: 'SayHelloWithActivityRetry (one failure)',
    orchestrator: 'SayHelloWithActivityRetry',
    input: 'flaky-a',
    setup: () => (state.failures['flaky-a'] = 1),
    scheduled: ['A0 Hello', 'T1 +50', 'A2 Hello'],
    ended: ['0 failed', '1 fired', '2 ok'],
    status: 'Completed',
    output: 'Hello, flaky-a!',
  },
  {
    // After the last failed attempt DTFx creates a timer that fires at once (durabletask #661).
    name: 'SayHelloWithActivityRetryAndReturnTimestamps (all attempts fail)',
    orchestrator: 'SayHelloWithActivityRetryAndReturnTimestamps',
    input: 'flaky-b',
    setup: () => (state.failures['flaky-b'] = 2),
    scheduled: ['A0 Hello', 'T1 +50', 'A2 Hello', 'T3 +0'],
    ended: ['0 failed', '1 fired', '2 failed', '3 fired'],
    status: 'Completed',
    check: (s) => {
      const [a, b] = s.output as string[];
      expect(Date.parse(b!) - Date.parse(a!)).toBeGreaterThanOrEqual(50);
    },
  },
  {
    name: 'SayHelloWithActivityRetryFanout (Tokyo fails once)',
    orchestrator: 'SayHelloWithActivityRetryFanout',
    setup: () => (state.failures.Tokyo = 1),
    scheduled: ['A0 Hello', 'A1 Hello', 'T2 +30', 'A3 Hello'],
    ended: ['0 failed', '1 ok', '2 fired', '3 ok'],
    status: 'Completed',
    output: ['Hello, Tokyo!', 'Hello, Seattle!'],
  },
  {
    name: 'SayHelloWithActivityRetryNoOptions',
    orchestrator: 'SayHelloWithActivityRetryNoOptions',
    scheduled: [],
    status: 'Failed',
    error: /retryOptions/,
  },
  {
    name: 'SayHelloWithSubOrchestrator',
    orchestrator: 'SayHelloWithSubOrchestrator',
    input: 'World',
    scheduled: ['S0 SayHelloWithActivity e2e-SayHelloWithSubOrchestrator:0'],
    ended: ended(1),
    status: 'Completed',
    output: 'Hello, World!',
  },
  {
    name: 'SayHelloWithSubOrchestratorNoSubId',
    orchestrator: 'SayHelloWithSubOrchestratorNoSubId',
    input: 'World',
    scheduled: ['S0 SayHelloWithActivity <executionId>:0'],
    ended: ended(1),
    status: 'Completed',
    output: 'Hello, World!',
  },
  {
    name: 'MultipleSubOrchestratorNoSubId',
    orchestrator: 'MultipleSubOrchestratorNoSubId',
    input: 'World',
    scheduled: [
      'S0 SayHelloWithActivity <executionId>:0',
      'S1 SayHelloInline <executionId>:1',
      'S2 SayHelloWithActivity <executionId>:2',
      'S3 SayHelloInline <executionId>:3',
    ],
    ended: ended(4),
    status: 'Completed',
    output: multipleSubOutputs('World'),
  },
  {
    name: 'SayHelloWithSubOrchestratorRetry (the child fails once)',
    orchestrator: 'SayHelloWithSubOrchestratorRetry',
    input: 'flaky-c',
    setup: () => (state.failures['child:flaky-c'] = 1),
    scheduled: [
      'S0 SayHelloInline e2e-SayHelloWithSubOrchestratorRetry:0',
      'T1 +50',
      'S2 SayHelloInline e2e-SayHelloWithSubOrchestratorRetry:0',
    ],
    ended: ['0 failed', '1 fired', '2 ok'],
    status: 'Completed',
    output: 'Hello, flaky-c!',
  },
  {
    name: 'SayHelloWithSubOrchestratorRetryFanout (Tokyo fails once)',
    orchestrator: 'SayHelloWithSubOrchestratorRetryFanout',
    setup: () => (state.failures['child:Tokyo'] = 1),
    scheduled: [
      'S0 SayHelloInline <executionId>:0',
      'S1 SayHelloInline <executionId>:1',
      'T2 +30',
      'S3 SayHelloInline <executionId>:3',
    ],
    ended: ['0 failed', '1 ok', '2 fired', '3 ok'],
    status: 'Completed',
    output: ['Hello, Tokyo!', 'Hello, Seattle!'],
  },
  {
    name: 'SayHelloWithSubOrchestratorRetryNoOptions',
    orchestrator: 'SayHelloWithSubOrchestratorRetryNoOptions',
    scheduled: [],
    status: 'Failed',
    error: /retryOptions/,
  },
  {
    name: 'ContinueAsNewCounter (three executions)',
    orchestrator: 'ContinueAsNewCounter',
    input: { value: 0, max: 3 },
    scheduled: [],
    status: 'Completed',
    output: 3,
    check: (s) => expect(s.input).toEqual({ value: 2, max: 3 }),
  },
  {
    name: 'FanOutFanInDiskUsage',
    orchestrator: 'FanOutFanInDiskUsage',
    input: 'C:\\Dev',
    scheduled: ['A0 GetFileList', 'A1 GetFileSize', 'A2 GetFileSize', 'A3 GetFileSize'],
    ended: ended(4),
    status: 'Completed',
    output: 6,
  },
  {
    name: 'FanOutFanInDiskUsage (a file fails: Task.all throws)',
    orchestrator: 'FanOutFanInDiskUsage',
    input: 'C:\\Dev',
    setup: () => (state.failures[files[1]!] = 1),
    scheduled: ['A0 GetFileList', 'A1 GetFileSize', 'A2 GetFileSize', 'A3 GetFileSize'],
    ended: ['0 ok', '1 ok', '2 failed', '3 ok'],
    status: 'Failed',
    error: /Activity function 'GetFileSize' failed: Could not find file file2\.png/,
  },
  {
    name: 'AnyAOrB in order (ends after the loser)',
    orchestrator: 'AnyAOrB',
    input: true,
    scheduled: ['A0 TaskA', 'A1 TaskB'],
    ended: ended(2),
    status: 'Completed',
    output: 'A',
  },
  {
    name: 'AnyAOrB out of order (ends after the loser)',
    orchestrator: 'AnyAOrB',
    input: false,
    scheduled: ['A0 TaskA', 'A1 TaskB'],
    ended: ended(2),
    status: 'Completed',
    output: 'B',
  },
  {
    name: 'AnyAOrBYieldATwice',
    orchestrator: 'AnyAOrBYieldATwice',
    input: true,
    scheduled: ['A0 TaskA', 'A1 TaskB'],
    ended: ended(2),
    status: 'Completed',
    output: 'A',
  },
  {
    name: 'TimerActivityRace, the activity wins (ends after the timer fires)',
    orchestrator: 'TimerActivityRace',
    setup: () => (state.taskADelayMs = 10),
    scheduled: ['T0 +300', 'A1 TaskA', 'A2 TaskB'],
    ended: ['0 fired', '1 ok', '2 ok'],
    status: 'Completed',
    output: {},
  },
  {
    name: 'TimerActivityRace, the timer wins (ends after the activity)',
    orchestrator: 'TimerActivityRace',
    setup: () => (state.taskADelayMs = 700),
    scheduled: ['T0 +300', 'A1 TaskA'],
    ended: ['0 fired', '1 ok'],
    status: 'Completed',
    output: 'Timer finished',
  },
  {
    name: 'AnyWithTaskSet, the events win (the canceled timer does not hold the instance)',
    orchestrator: 'AnyWithTaskSet',
    drive: async (h, id) => {
      await running(h, id);
      await h.raiseEvent(id, 'firstRequiredEvent');
      await h.raiseEvent(id, 'secondRequiredEvent');
    },
    scheduled: ['T0 +1500', 'A1 Hello'],
    ended: ['1 ok'],
    status: 'Completed',
    output: ['Hello, Tokyo!'],
  },
  {
    name: 'AnyWithTaskSet, the timer wins',
    orchestrator: 'AnyWithTaskSet',
    drive: async (h, id) => {
      await running(h, id);
      await h.raiseEvent(id, 'firstRequiredEvent');
    },
    scheduled: ['T0 +1500'],
    ended: ['0 fired'],
    status: 'Completed',
    output: ['timeout'],
  },
  {
    name: 'GuidGenerator',
    orchestrator: 'GuidGenerator',
    scheduled: [],
    status: 'Completed',
    check: (s) =>
      expect(s.output).toEqual([
        expect.stringMatching(uuid),
        expect.stringMatching(uuid),
        expect.stringMatching(uuid),
      ]),
  },
  {
    name: 'WaitForExternalEvent',
    orchestrator: 'WaitForExternalEvent',
    drive: async (h, id) => {
      await running(h, id);
      await h.raiseEvent(id, 'start', 'Reykjavik');
    },
    scheduled: ['A0 Hello'],
    ended: ended(1),
    status: 'Completed',
    output: 'Hello, Reykjavik!',
  },
  {
    name: 'WaitOnTimer',
    orchestrator: 'WaitOnTimer',
    input: 'in 50 ms',
    scheduled: ['T0 +*'],
    ended: ['0 fired'],
    status: 'Completed',
    output: 'Timer fired!',
  },
  {
    name: 'TimestampExhaustion (one not-merged check, then an event)',
    orchestrator: 'TimestampExhaustion',
    input: { delayMergeUntilSecs: 0.05 },
    setup: () => (state.notMergedChecks = 1),
    drive: async (h, id) => {
      await waitFor(async () =>
        (await h.getHistory(id)).some(
          (e) => e.EventType === EventType.TaskCompleted && e.TaskScheduledId === 2,
        )
          ? true
          : undefined,
      );
      await h.raiseEvent(id, 'CheckPrForMerge', { value: 0 });
    },
    scheduled: ['A0 Merge', 'T1 +50', 'A2 CheckIfMerged', 'A3 CheckIfMerged'],
    ended: ['0 ok', '1 fired', '2 ok', '3 ok'],
    status: 'Completed',
    output: 'Merge successful',
  },
  {
    name: 'TaskAllWithNoChildren (the SDK throws)',
    orchestrator: 'TaskAllWithNoChildren',
    scheduled: [],
    status: 'Failed',
    error: /you must specify at least one Task/,
  },
  {
    name: 'TaskAnyWithNoChildren (the SDK throws)',
    orchestrator: 'TaskAnyWithNoChildren',
    scheduled: [],
    status: 'Failed',
    error: /you must specify at least one Task/,
  },
  {
    name: 'SayHelloInlineInproperYield (the SDK rejects a non-Task yield)',
    orchestrator: 'SayHelloInlineInproperYield',
    input: 'World',
    scheduled: [],
    status: 'Failed',
    error: /^Orchestrator function 'SayHelloInlineInproperYield' failed: /,
  },
  {
    name: 'CallEntitySet (entities: not supported by the dev host)',
    orchestrator: 'CallEntitySet',
    input: { name: 'StringStore2', key: '12345' },
    scheduled: [],
    status: 'Failed',
    error: /not supported by the dev host/,
  },
  {
    name: 'SendHttpRequest (callHttp: not supported by the dev host)',
    orchestrator: 'SendHttpRequest',
    input: { method: 'GET', uri: 'https://example.com' },
    scheduled: [],
    status: 'Failed',
    error: /not supported by the dev host/,
  },
];

/** The history in the shape of the cases: scheduling events in id order, and how each task ended. */
function summarize(h: HistoryEvent[], executionId: string): { scheduled: string[]; ended: string[] } {
  let now = 0;
  const scheduled: [number, string][] = [];
  const endings: [number, string][] = [];
  for (const e of h) {
    if (e.EventType === EventType.OrchestratorStarted) now = Date.parse(e.Timestamp);
    else if (e.EventType === EventType.TaskScheduled) scheduled.push([e.EventId, `A${e.EventId} ${e.Name}`]);
    else if (e.EventType === EventType.TimerCreated)
      scheduled.push([e.EventId, `T${e.EventId} +${Date.parse(e.FireAt!) - now}`]);
    else if (e.EventType === EventType.SubOrchestrationInstanceCreated)
      scheduled.push([
        e.EventId,
        `S${e.EventId} ${e.Name} ${e.InstanceId!.replace(executionId, '<executionId>')}`,
      ]);
    else if (
      e.EventType === EventType.TaskCompleted ||
      e.EventType === EventType.SubOrchestrationInstanceCompleted
    )
      endings.push([e.TaskScheduledId!, `${e.TaskScheduledId} ok`]);
    else if (e.EventType === EventType.TaskFailed || e.EventType === EventType.SubOrchestrationInstanceFailed)
      endings.push([e.TaskScheduledId!, `${e.TaskScheduledId} failed`]);
    else if (e.EventType === EventType.TimerFired) endings.push([e.TimerId!, `${e.TimerId} fired`]);
  }
  const byId = (a: [number, string], b: [number, string]) => a[0] - b[0];
  return { scheduled: scheduled.sort(byId).map((x) => x[1]), ended: endings.sort(byId).map((x) => x[1]) };
}

describe('SDK test orchestrations end to end on the dev host', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    c.setup?.();
    const id = `e2e-${c.orchestrator}-${Math.random().toString(36).slice(2, 8)}`;
    const instanceId = c.scheduled.some((s) => s.includes(`e2e-${c.orchestrator}:0`))
      ? `e2e-${c.orchestrator}`
      : id;
    const input = c.input === 'in 50 ms' ? new Date(Date.now() + 50).toISOString() : c.input;
    await host().startNew(c.orchestrator, { instanceId, input });
    await c.drive?.(host(), instanceId);
    const s = await host().waitForCompletion(instanceId, 15_000);
    const h = await host().getHistory(instanceId);
    const executionId = h.find((e) => e.EventType === EventType.ExecutionStarted)!.OrchestrationInstance!
      .ExecutionId;
    expect(s.runtimeStatus, String(s.output)).toBe(c.status);
    if ('output' in c) expect(s.output).toEqual(c.output);
    if (c.error) expect(String(s.output)).toMatch(c.error);
    if ('customStatus' in c) expect(s.customStatus).toEqual(c.customStatus);
    const summary = summarize(h, executionId);
    expect(
      summary.scheduled.map((x, i) => (c.scheduled[i]?.endsWith(' +*') ? x.replace(/\+\d+$/, '+*') : x)),
    ).toEqual(c.scheduled);
    // Tasks end before the instance does (DTFx's completion rule): a Task.any loser's or a
    // non-canceled timer's completion is in the history.
    expect(summary.ended).toEqual(c.ended ?? []);
    c.check?.(s, h);
  });
});
