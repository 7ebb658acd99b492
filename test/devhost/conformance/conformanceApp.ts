// The SDK's test orchestrations (sdkOrchestrations.ts) as a Functions app, with the activities they
// call, for the end-to-end conformance run on the dev host (endToEnd.test.ts).
import * as df from 'durable-functions';
import { conformanceState, failNow } from './conformanceState';
import { sdkTestOrchestrations, type Timings } from './sdkOrchestrations';

/** The SDK's timings, shortened so the run takes seconds. */
export const e2eTimings: Timings = {
  retryMs: 50,
  fanoutRetryMs: 30,
  raceTimerMs: 300,
  taskSetTimeoutMs: 1500,
};

const state = conformanceState();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sizes: Record<string, number> = { 'file1.txt': 1, 'file2.png': 2, 'file3.csx': 3 };

for (const [name, handler] of Object.entries(sdkTestOrchestrations(e2eTimings))) {
  if (name === 'SayHelloInline') continue; // registered below: it can be told to fail
  df.app.orchestration(name, handler);
}
// eslint-disable-next-line require-yield
df.app.orchestration('SayHelloInline', function* (ctx) {
  const input: unknown = ctx.df.getInput();
  if (failNow(`child:${String(input)}`)) throw new Error(`SayHelloInline failed for ${String(input)}`);
  return `Hello, ${String(input)}!`;
});

df.app.activity('Hello', {
  handler: (name: unknown) => {
    if (failNow(name)) throw new Error(`Hello failed for ${String(name)}`);
    return `Hello, ${String(name)}!`;
  },
});
// AnyAOrB passes completeInOrder: with true TaskA wins, with false TaskB. TimerActivityRace passes
// nothing: TaskA takes taskADelayMs, TaskB answers at once.
df.app.activity('TaskA', {
  handler: async (inOrder: unknown) => {
    if (typeof inOrder !== 'boolean') return (await sleep(state.taskADelayMs), {});
    return (await sleep(inOrder ? 10 : 300), 'A');
  },
});
df.app.activity('TaskB', {
  handler: async (inOrder: unknown) => {
    if (typeof inOrder !== 'boolean') return {};
    return (await sleep(inOrder ? 300 : 10), 'B');
  },
});
df.app.activity('ReturnsFour', { handler: () => 4 });
df.app.activity('GetFileList', { handler: () => Object.keys(sizes) });
df.app.activity('GetFileSize', {
  handler: (file: string) => {
    if (failNow(file)) throw new Error(`Could not find file ${file}`);
    return sizes[file];
  },
});
df.app.activity('ThrowsErrorActivity', {
  handler: () => {
    throw new Error('thrown on purpose');
  },
});
df.app.activity('Merge', { handler: () => '' });
df.app.activity('CheckIfMerged', {
  handler: () => {
    if (state.notMergedChecks > 0) {
      state.notMergedChecks--;
      return { output: false };
    }
    return { output: true };
  },
});
