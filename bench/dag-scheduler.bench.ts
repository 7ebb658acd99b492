// Issue "Foundation": the scheduler's per-event apply+decide time is flat (within 2×) from 1,000
// to 100,000 fan-out children.
import { apply } from '../dag/applyEvent';
import { decide, decisionEvents } from '../dag/decide';
import { initJobState } from '../dag/initJobState';
import { loadWorkflow } from '../dag/loadWorkflow';
import type { JobState } from '../dag/jobState';
import { defaultRegistry } from '../handlers/handlerRegistry';
import { record } from './lib/record';

function plan(maxParallel?: number) {
  const wf = {
    workflow_id: 'fan',
    name: 'fan',
    inputs: { xs: { type: 'array' } },
    nodes: {
      start: { type: 'start', next: 'split' },
      split: {
        type: 'fan_out',
        source: '{{ inputs.xs }}',
        ...(maxParallel ? { max_parallel: maxParallel } : {}),
        task: { handler: 'echo', params: { i: '{{ index }}' } },
        next: 'join',
      },
      join: { type: 'fan_in', next: 'end' },
      end: { type: 'end' },
    },
  };
  const r = loadWorkflow(JSON.stringify(wf), 'fan.yaml', { handlers: defaultRegistry().catalog() });
  if (!r.plan) throw new Error(r.issues[0]?.message);
  return r.plan;
}

/** Drives a job up to the point where every child is dispatched (or the window is full). */
function expanded(n: number, maxParallel?: number): { p: ReturnType<typeof plan>; s: JobState } {
  const p = plan(maxParallel);
  let s = initJobState(p, 'job');
  for (let guard = 0; guard < 10; guard++) {
    const ds = decide(p, s, 0);
    for (const e of decisionEvents(ds, 0)) s = apply(p, s, e);
    if (ds.some((d) => d.kind === 'evaluate'))
      s = apply(p, s, { type: 'fan_out_expanded', node: 'split', count: n, at: 0 });
    if (ds.some((d) => d.kind === 'dispatch')) break;
  }
  return { p, s };
}

/** Mean µs per completion event (apply of the result + the next decide + applying its dispatches). */
function perEvent(n: number, maxParallel: number | undefined, events: number): number {
  const { p, s: s0 } = expanded(n, maxParallel);
  let s = s0;
  let now = 1;
  const complete = (i: number) => {
    s = apply(p, s, { type: 'attempt_succeeded', key: `split__${i}`, attempt: 0, output: { i }, at: now });
    const ds = decide(p, s, now);
    for (const e of decisionEvents(ds, now)) s = apply(p, s, e);
    now++;
  };
  const inFlight = (i: number) =>
    s.fanOuts.split!.chunks[Math.floor(i / 1024)]![i % 1024]!.s === 'dispatched';
  let order: number[];
  if (maxParallel) {
    // A window moves in index order: untimed, complete the first half, then time the events in the
    // middle of the range (where a cost that grows with the position or the total would show).
    const middle = Math.floor(n / 2) - Math.floor(events / 2);
    for (let i = 0; i < middle; i++) complete(i);
    order = Array.from({ length: events }, (_, k) => middle + k);
  } else {
    // Every child in flight: complete children spread over the whole index range.
    const stride = Math.max(1, Math.floor(n / events));
    order = [];
    for (let k = 0; order.length < events && k < n; k += stride) order.push(k);
  }
  let done = 0;
  const t0 = process.hrtime.bigint();
  for (const i of order) {
    if (!inFlight(i)) throw new Error(`bench: child ${i} is not in flight`);
    complete(i);
    done++;
  }
  const us = Number(process.hrtime.bigint() - t0) / 1000;
  return us / done;
}

const sizes = [1_000, 10_000, 100_000];
const results: Record<string, unknown> = {};
for (const mode of [undefined, 100] as const) {
  const row: Record<string, number> = {};
  for (const n of sizes) {
    perEvent(n, mode, 500); // warm-up
    const runs = [perEvent(n, mode, 1000), perEvent(n, mode, 1000), perEvent(n, mode, 1000)].sort(
      (a, b) => a - b,
    );
    row[String(n)] = Math.round(runs[1]! * 100) / 100;
  }
  results[mode ? `maxParallel${mode}_usPerEvent` : 'unbounded_usPerEvent'] = row;
}
const ratios = Object.values(results).map((row) => {
  const r = row as Record<string, number>;
  return r['100000']! / r['1000']!;
});
results.ratio100kTo1k = ratios.map((x) => Math.round(x * 100) / 100);
record({
  name: 'dag-scheduler-per-event',
  target: 'per-event apply+decide flat within 2x from 1,000 to 100,000 fan-out children',
  pass: ratios.every((x) => x <= 2),
  results,
  notes: 'event = a child completion: apply(attempt_succeeded) + decide + apply of the resulting decisions',
});
