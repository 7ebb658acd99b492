// Knobs the end-to-end conformance test turns on conformanceApp.ts's activities (kept apart from
// the app: importing the app would register its functions outside the dev host).
export interface ConformanceState {
  /** Input → how many more calls of Hello / SayHelloInline / GetFileSize fail. */
  failures: Record<string, number>;
  /** TaskA without input (TimerActivityRace) takes this long. */
  taskADelayMs: number;
  /** CheckIfMerged answers {output: false} this many more times. */
  notMergedChecks: number;
}

const key = Symbol.for('rmhdagmaster.test.conformanceState');
const g = globalThis as unknown as Record<symbol, ConformanceState | undefined>;

export function conformanceState(): ConformanceState {
  return (g[key] ??= { failures: {}, taskADelayMs: 10, notMergedChecks: 0 });
}

/** True while `input` still has failures to give (and counts one). */
export function failNow(input: unknown): boolean {
  const s = conformanceState();
  const k = String(input);
  if (!s.failures[k]) return false;
  s.failures[k]--;
  return true;
}
