// Property test of the scheduler over random workflows with conditionals, fan-outs, failures,
// retries, timeouts and cancels (issue: "every job terminates; no node becomes ready before its
// dependencies allow; no attempt is dispatched twice; folding the same event log twice gives
// identical decisions").
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { apply, applyInPlace, ownedState } from '../../dag/applyEvent';
import type { Plan } from '../../dag/compilePlan';
import { decide } from '../../dag/decide';
import { initJobState } from '../../dag/initJobState';
import { parseKey, TERMINAL_NODE, type JobEvent, type JobState } from '../../dag/jobState';
import { retryDelaySeconds } from '../../dag/retryDelay';
import { simulateJob, type SimOutcome } from '../../dag/simulateJob';
import { load } from '../support/workflows';

interface Shape {
  kinds: Array<'task' | 'conditional' | 'fan_out' | 'depends'>;
  links: number[][];
  flags: boolean[];
  retries: number[];
  maxParallel: Array<number | undefined>;
  anyOf: boolean[];
}

const shapeArb = fc.integer({ min: 1, max: 9 }).chain((n) =>
  fc.record({
    kinds: fc.array(
      fc.constantFrom('task', 'task', 'conditional', 'fan_out', 'depends') as fc.Arbitrary<
        Shape['kinds'][number]
      >,
      {
        minLength: n,
        maxLength: n,
      },
    ),
    links: fc.array(fc.array(fc.nat({ max: 20 }), { minLength: 1, maxLength: 3 }), {
      minLength: n,
      maxLength: n,
    }),
    flags: fc.array(fc.boolean(), { minLength: n, maxLength: n }),
    retries: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: n, maxLength: n }),
    maxParallel: fc.array(fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }), {
      minLength: n,
      maxLength: n,
    }),
    anyOf: fc.array(fc.boolean(), { minLength: n, maxLength: n }),
  }),
);

/** Turns a random shape into a valid workflow: nodes n0..nk in topological order between start and end. */
function buildWorkflow(shape: Shape): Record<string, unknown> {
  const n = shape.kinds.length;
  const ids = shape.kinds.map((_, i) => `n${i}`);
  const nodes: Record<string, Record<string, unknown>> = {
    start: { type: 'start', next: [] as string[] },
    end: { type: 'end' },
  };
  const hasPred = new Set<string>();
  const succ: Record<string, string[]> = { start: [] };
  const fanIns = new Set<string>();
  for (let i = 0; i < n; i++) {
    const id = ids[i]!;
    const kind = shape.kinds[i]!;
    const retry = { max_attempts: shape.retries[i]!, backoff: 'fixed', initial_delay_seconds: 0.5 };
    if (kind === 'conditional')
      nodes[id] = { type: 'conditional', condition: `{{ ${shape.flags[i]} }}`, branches: {} };
    else if (kind === 'fan_out') {
      nodes[id] = {
        type: 'fan_out',
        source: '{{ inputs.xs }}',
        ...(shape.maxParallel[i] ? { max_parallel: shape.maxParallel[i] } : {}),
        task: { handler: 'echo', params: { i: '{{ index }}' }, retry, timeout_seconds: 1 },
        next: [`${id}_in`],
      };
      nodes[`${id}_in`] = { type: 'fan_in', next: [] };
      fanIns.add(`${id}_in`);
    } else nodes[id] = { type: 'task', handler: 'echo', retry, timeout_seconds: 1, next: [] };
    succ[id] = [];
  }
  // Candidate successors of node i: later nodes (or the fan_in right after a fan_out).
  const later = (i: number) => [...ids.slice(i + 1), 'end'];
  const sourceOf = (i: number) => (shape.kinds[i] === 'fan_out' ? `${ids[i]}_in` : ids[i]!);
  const addEdge = (from: string, to: string) => {
    const node = nodes[from]!;
    if (node.type === 'conditional') {
      const b = node.branches as Record<string, string>;
      if (!b.true) b.true = to;
      else if (!b.false && b.true !== to) b.false = to;
      else return;
    } else {
      const nx = node.next as string[];
      if (nx.includes(to)) return;
      nx.push(to);
    }
    hasPred.add(to);
  };
  addEdge('start', ids[0]!);
  for (let i = 0; i < n; i++) {
    const from = shape.kinds[i] === 'conditional' ? ids[i]! : sourceOf(i);
    const cands = later(i);
    for (const l of shape.links[i]!) addEdge(from, cands[l % cands.length]!);
  }
  // Nodes nobody links to hang off the start node; explicit depends_on replaces some implicit edges.
  for (let i = 0; i < n; i++) {
    if (!hasPred.has(ids[i]!)) addEdge('start', ids[i]!);
  }
  for (let i = 1; i < n; i++) {
    if (shape.kinds[i] !== 'depends') continue;
    const preds = ids
      .slice(0, i)
      .filter((p, j) => shape.kinds[j] !== 'conditional')
      .map((p) => (nodes[`${p}_in`] ? `${p}_in` : p));
    if (preds.length < 2) continue;
    const chosen = preds.slice(-2);
    // Keep the graph connected: the chosen predecessors must lead here through next too.
    for (const p of chosen) addEdge(p, ids[i]!);
    nodes[ids[i]!]!.depends_on = shape.anyOf[i] ? { any_of: chosen } : { all_of: chosen };
  }
  for (const [id, node] of Object.entries(nodes)) {
    if (id === 'end') continue;
    if (node.type === 'conditional') {
      const b = node.branches as Record<string, string>;
      if (!b.true) b.true = 'end';
      if (!b.false) node.default = b.true === 'end' ? 'end' : 'end';
    } else if ((node.next as string[]).length === 0) node.next = ['end'];
  }
  void succ;
  void fanIns;
  return { inputs: { xs: { type: 'array' } }, nodes };
}

function hash(s: string, seed: number): number {
  let h = seed ^ 0x9e3779b9;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x85ebca6b) >>> 0;
  return (h >>> 0) / 2 ** 32;
}

/** An independent check of SPEC §2 readiness at the moment a node starts. */
function depsAllow(plan: Plan, state: JobState, node: string): boolean {
  const deps = plan.deps[node]!;
  const st = (p: string) => {
    const r = state.nodes[p]!;
    if (r.status === 'completed' && r.taken && plan.branchTargets[p]?.includes(node))
      return r.taken.includes(node) ? 'completed' : 'skipped';
    // Skipped because something upstream failed is a failure for what depends on it.
    if (r.status === 'skipped' && r.skipReason === 'upstream_failed') return 'failed';
    return r.status;
  };
  const all = deps.allOf.map(st);
  const any = deps.anyOf.map(st);
  // A branch target whose branches were all not taken runs only if another next-path completed.
  if (deps.gates.length && deps.gates.every((g) => st(g) === 'skipped' || st(g) === 'failed')) {
    if (!deps.nextPreds.some((p) => !deps.gates.includes(p) && st(p) === 'completed')) return false;
  }
  if (all.some((s) => s !== 'completed' && s !== 'skipped')) return false;
  if (any.length && !any.includes('completed')) return false;
  if (!any.length && all.length && !all.includes('completed')) return false;
  return true;
}

describe('scheduler properties over random workflows', () => {
  it('terminates, respects dependencies, never dispatches an attempt twice, and folds deterministically', () => {
    fc.assert(
      fc.property(
        shapeArb,
        fc.integer({ min: 0, max: 2 ** 30 }),
        fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 4 }),
        fc.double({ min: 0, max: 0.6, noNaN: true }),
        fc.option(fc.integer({ min: 0, max: 3000 }), { nil: undefined }),
        (shape, seed, xs, failRate, cancelAt) => {
          const def = buildWorkflow(shape);
          const loaded = load(def);
          expect(loaded.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual([]);
          const plan = loaded.plan!;
          const handler = (c: { key: string; attempt: number }): SimOutcome => {
            const r = hash(`${c.key}#${c.attempt}`, seed);
            const durationMs = 1 + Math.floor(hash(`${c.key}@${c.attempt}`, seed) * 1500);
            return r < failRate
              ? { ok: false, error: `fail ${c.key}`, durationMs }
              : { ok: true, output: { k: c.key }, durationMs };
          };
          const run = simulateJob(plan, {
            inputs: { xs },
            handler,
            ...(cancelAt === undefined ? {} : { cancelAt }),
            maxSteps: 100_000,
          });

          // Every job terminates.
          expect(run.stuck).toBe(false);
          if (run.state.status !== 'cancelled') {
            for (const [id, n] of Object.entries(run.state.nodes))
              expect(TERMINAL_NODE, id).toContain(n.status);
            expect(run.state.status).toBe(run.state.failedNode === undefined ? 'completed' : 'failed');
            // A node is skipped exactly when its dependencies, as they ended, do not allow it to run.
            for (const id of plan.order) {
              expect(run.state.nodes[id]!.status === 'skipped', `${id} skipped?`).toBe(
                !depsAllow(plan, run.state, id),
              );
            }
          }

          // No attempt is dispatched twice.
          const attempts = run.dispatches.map((d) => `${d.key}#${d.attempt}`);
          expect(new Set(attempts).size).toBe(attempts.length);

          // No node starts before its dependencies allow (checked on the state before each start).
          let s = initJobState(plan, 'job');
          const inFlight = new Map<string, number>();
          const lastFailure = new Map<string, number>();
          let cancelled = false;
          for (const e of run.events) {
            if (e.type === 'cancel_requested') cancelled = true;
            if (e.type === 'dispatched') {
              expect(cancelled, 'dispatch after cancel').toBe(false);
              for (const it of e.items) {
                const { node, index } = parseKey(it.key);
                const def = plan.workflow.nodes[node]!;
                const policy =
                  def.type === 'fan_out' ? def.task.retry : def.type === 'task' ? def.retry : undefined;
                // Backoff: attempt k starts no earlier than the failure of attempt k-1 plus the delay.
                if (it.attempt > 0)
                  expect(e.at).toBeGreaterThanOrEqual(
                    lastFailure.get(it.key)! + retryDelaySeconds(policy, it.attempt - 1) * 1000,
                  );
                if (index === undefined || def.type !== 'fan_out') continue;
                const n = (inFlight.get(node) ?? 0) + 1;
                inFlight.set(node, n);
                if (def.max_parallel)
                  expect(n, `max_parallel of ${node}`).toBeLessThanOrEqual(def.max_parallel);
              }
            }
            if ((e.type === 'attempt_succeeded' || e.type === 'attempt_failed') && e.key.includes('__')) {
              const before = s;
              const after = apply(plan, before, e);
              if (after !== before)
                inFlight.set(parseKey(e.key).node, inFlight.get(parseKey(e.key).node)! - 1);
            }
            if (e.type === 'attempt_failed') lastFailure.set(e.key, e.at);
            const starting: string[] =
              e.type === 'dispatched'
                ? e.items.map((i) => i.key).filter((k) => !k.includes('__'))
                : e.type === 'node_evaluating' || e.type === 'node_completed'
                  ? [e.node]
                  : [];
            for (const node of starting) {
              if (s.nodes[node]!.attempts === 0)
                expect(depsAllow(plan, s, node), `${node} started early`).toBe(true);
            }
            if (e.type === 'node_skipped') {
              // Skipped only once every dependency it waits on has resolved.
              const d = plan.deps[e.node]!;
              const open = [...d.allOf, ...d.anyOf].filter(
                (p) => !TERMINAL_NODE.includes(s.nodes[p]!.status),
              );
              if (!open.length) expect(depsAllow(plan, s, e.node), `${e.node} skipped wrongly`).toBe(false);
            }
            s = apply(plan, s, e);
          }
          // Folding the same log again gives the same state and the same decisions.
          const fold = (events: JobEvent[]) =>
            events.reduce((st, e) => apply(plan, st, e), initJobState(plan, 'job'));
          const again = fold(run.events);
          expect(again).toEqual(run.state);
          expect(fold(run.events)).toEqual(again);
          expect(decide(plan, again, run.now)).toEqual(decide(plan, run.state, run.now));
          // Folding in place (the orchestration loop) gives the same state after every event.
          const owned = ownedState(initJobState(plan, 'job'));
          let pure = initJobState(plan, 'job');
          for (const e of run.events) {
            pure = apply(plan, pure, e);
            expect(applyInPlace(plan, owned, e)).toBe(owned);
            expect(owned).toEqual(pure);
          }
          // And the whole run is deterministic.
          const rerun = simulateJob(plan, {
            inputs: { xs },
            handler,
            ...(cancelAt === undefined ? {} : { cancelAt }),
            maxSteps: 100_000,
          });
          expect(rerun.events).toEqual(run.events);
          expect(rerun.decisions).toEqual(run.decisions);
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe('partitioned fan-outs (sub-orchestration chunks)', () => {
  it('give the same outcome as running the children inline', () => {
    fc.assert(
      fc.property(
        shapeArb,
        fc.integer({ min: 0, max: 2 ** 30 }),
        fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 7 }),
        fc.double({ min: 0, max: 0.5, noNaN: true }),
        fc.integer({ min: 1, max: 3 }),
        (shape, seed, xs, failRate, chunkSize) => {
          const plan = load(buildWorkflow(shape)).plan!;
          // Durations stay under the 1 s timeout: outcomes then depend on (key, attempt) only.
          const handler = (c: { key: string; attempt: number }): SimOutcome =>
            hash(`${c.key}#${c.attempt}`, seed) < failRate
              ? { ok: false, error: `fail ${c.key}`, durationMs: 5 }
              : { ok: true, output: { k: c.key }, durationMs: 1 + Math.floor(hash(c.key, seed) * 50) };
          const inline = simulateJob(plan, { inputs: { xs }, handler });
          const chunked = simulateJob(plan, { inputs: { xs }, handler, delegateFanOuts: { chunkSize } });
          expect(chunked.stuck).toBe(false);
          expect(chunked.state.status).toBe(inline.state.status);
          const statuses = (r: typeof inline) =>
            Object.fromEntries(
              Object.entries(r.state.nodes).map(([id, n]) => [id, [n.status, n.skipReason]]),
            );
          expect(statuses(chunked)).toEqual(statuses(inline));
          const attempts = (r: typeof inline) => r.dispatches.map((d) => `${d.key}#${d.attempt}`).sort();
          expect(attempts(chunked)).toEqual(attempts(inline));
          for (const [id, fan] of Object.entries(inline.state.fanOuts)) {
            expect(chunked.state.fanOuts[id]).toMatchObject({
              count: fan.count,
              failed: fan.failed,
              failedSample: fan.failedSample,
            });
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
