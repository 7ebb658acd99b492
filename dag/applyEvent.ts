// apply(plan, state, event) → state: folds one fact into the job state. Pure: the input state is
// never modified (copy-on-write of the parts that change). Events about attempts that are no longer
// current (a late result of an older attempt, a duplicate) leave the state unchanged.
import type { Plan } from './compilePlan';
import {
  getChild,
  isTerminalJob,
  localIndex,
  newChildren,
  parseKey,
  setChild,
  type ChildRun,
  type DeadlineGroup,
  type FanOutRun,
  type JobEvent,
  type JobState,
  type NodeRun,
  type SkipReason,
} from './jobState';
import { readiness } from './readiness';
import { maxRetries, retryDelaySeconds } from './retryDelay';
import { childRetry, type RetryPolicy } from './workflowModel';

export function apply(plan: Plan, state: JobState, event: JobEvent): JobState {
  return applyEvent(plan, state, event, false);
}

/**
 * apply that changes `state` itself (and returns it) instead of copying the parts that change: for
 * the single owner of a state that never looks at an older version — the orchestration loop, which
 * replays every event of its history at every episode, where copying the node map at each event made
 * a replay quadratic in the number of nodes. The owner must hold its own `nodes` and `fanOuts` maps
 * (see ownedState); everything below them is still replaced, never changed.
 */
export function applyInPlace(plan: Plan, state: JobState, event: JobEvent): JobState {
  return applyEvent(plan, state, event, true);
}

/** A copy of the state whose node and fan-out maps applyInPlace may change. */
export function ownedState(state: JobState): JobState {
  return { ...state, nodes: { ...state.nodes }, fanOuts: { ...state.fanOuts } };
}

function applyEvent(plan: Plan, state: JobState, event: JobEvent, inPlace: boolean): JobState {
  if (isTerminalJob(state.status)) return state;
  const d = new Draft(plan, state, inPlace);
  switch (event.type) {
    case 'job_started':
      if (state.status !== 'pending') return state;
      d.s.status = 'running';
      d.s.startedAt = event.at;
      d.reevaluateAll();
      break;
    case 'cancel_requested':
      d.s.cancelRequested = true;
      break;
    case 'job_finished':
      d.s.status = event.status;
      d.s.endedAt = event.at;
      if (event.error !== undefined) d.s.error = event.error;
      break;
    case 'node_skipped': {
      const run = state.nodes[event.node];
      if (!run || run.status !== 'pending') return state;
      d.s.doomed = state.doomed.filter((x) => x.node !== event.node);
      d.s.agenda = state.agenda.filter((x) => x !== event.node);
      d.setNode(event.node, { ...run, status: 'skipped', skipReason: event.reason });
      d.resolved(event.node);
      break;
    }
    case 'node_completed':
    case 'node_evaluating':
    case 'conditional_resolved':
    case 'fan_out_expanded':
    case 'fan_in_aggregated':
    case 'node_failed':
      return applyNodeEvent(d, event) ? d.s : state;
    case 'dispatched':
      d.dispatched(event.items);
      break;
    case 'fan_out_started': {
      const fan = state.fanOuts[event.node];
      if (!fan?.delegated || fan.delegated.started || state.nodes[event.node]?.status !== 'running')
        return state;
      d.setFanOut(event.node, { ...fan, delegated: { started: true } });
      d.s.inFlight += 1;
      break;
    }
    case 'fan_out_finished': {
      const fan = state.fanOuts[event.node];
      const run = state.nodes[event.node];
      if (!fan?.delegated?.started || run?.status !== 'running') return state;
      const done: FanOutRun = {
        ...fan,
        done: fan.count,
        failed: fan.failed + event.failed,
        failedSample: [...fan.failedSample, ...event.failedSample].sort((a, b) => a - b).slice(0, 5),
        delegated: { started: false },
      };
      d.setFanOut(event.node, done);
      d.s.inFlight -= 1;
      if (event.firstError) d.recordFailure(event.firstError.key, event.firstError.error);
      d.setNode(event.node, { ...run, status: 'completed', output: fanOutOutput(done) });
      d.resolved(event.node);
      break;
    }
    case 'attempt_succeeded':
    case 'attempt_failed':
      return d.attemptFinished(event) ? d.s : state;
  }
  return d.s;
}

function applyNodeEvent(
  d: Draft,
  event: Extract<
    JobEvent,
    {
      type:
        | 'node_completed'
        | 'node_evaluating'
        | 'conditional_resolved'
        | 'fan_out_expanded'
        | 'fan_in_aggregated'
        | 'node_failed';
    }
  >,
): boolean {
  const run = d.s.nodes[event.node];
  if (!run) return false;
  // Evaluation results arrive for a node that is evaluating (running); start/end complete from ready.
  const from = event.type === 'node_completed' || event.type === 'node_evaluating' ? 'ready' : 'running';
  if (run.status !== from && !(event.type === 'node_failed' && run.status === 'ready')) return false;
  d.s.agenda = d.s.agenda.filter((x) => x !== event.node);
  switch (event.type) {
    case 'node_evaluating':
      d.setNode(event.node, { ...run, status: 'running' });
      return true;
    case 'node_completed':
    case 'fan_in_aggregated':
      d.setNode(event.node, { ...run, status: 'completed', output: event.output });
      break;
    case 'conditional_resolved':
      d.setNode(event.node, { ...run, status: 'completed', output: event.output, taken: [...event.taken] });
      break;
    case 'node_failed':
      d.setNode(event.node, { ...run, status: 'failed', error: event.error });
      d.recordFailure(event.node, event.error);
      break;
    case 'fan_out_expanded': {
      const delegated = !!d.s.delegateFanOuts;
      const fan: FanOutRun = {
        count: event.count,
        offset: 0,
        nextIndex: 0,
        todo: [],
        inFlight: 0,
        done: 0,
        failed: 0,
        failedSample: [],
        // Delegated children are tracked where they run; here only the summary.
        chunks: delegated ? [] : newChildren(event.count),
        ...(delegated ? { delegated: { started: false } } : {}),
      };
      d.setFanOut(event.node, fan);
      if (event.count > 0) return true;
      d.setNode(event.node, { ...run, status: 'completed', output: fanOutOutput(fan) });
      break;
    }
  }
  d.resolved(event.node);
  return true;
}

export function fanOutOutput(fan: FanOutRun): Record<string, number> {
  return { fan_out_count: fan.count, completed: fan.done - fan.failed, failed: fan.failed };
}

/** Mutable working copy of a state; sub-objects are copied the first time they change. */
class Draft {
  s: JobState;
  private nodesOwned = false;
  private fanOutsOwned = false;

  constructor(
    private plan: Plan,
    state: JobState,
    inPlace: boolean,
  ) {
    this.s = inPlace ? state : { ...state };
    this.nodesOwned = inPlace;
    this.fanOutsOwned = inPlace;
  }

  setNode(id: string, run: NodeRun): void {
    if (!this.nodesOwned) {
      this.s.nodes = { ...this.s.nodes };
      this.nodesOwned = true;
    }
    this.s.nodes[id] = run;
  }

  setFanOut(id: string, run: FanOutRun): void {
    if (!this.fanOutsOwned) {
      this.s.fanOuts = { ...this.s.fanOuts };
      this.fanOutsOwned = true;
    }
    this.s.fanOuts[id] = run;
  }

  recordFailure(key: string, error: string): void {
    if (this.s.failedNode === undefined) {
      this.s.failedNode = key;
      this.s.failedError = error;
      this.s.error = `Node "${key}" failed: ${error}`;
    }
  }

  /** A static node became terminal: count it and re-evaluate its dependents. */
  resolved(id: string): void {
    this.s.open -= 1;
    for (const dep of this.plan.dependents[id] ?? []) this.evaluate(dep);
  }

  /** Puts a pending node on the agenda (ready) or the doomed list, once. */
  evaluate(id: string): void {
    const run = this.s.nodes[id];
    if (!run || run.status !== 'pending' || run.retryAt !== undefined) return;
    if (this.s.doomed.some((x) => x.node === id)) return;
    const v = readiness(this.plan, this.s, id);
    if (v.kind === 'ready') {
      this.setNode(id, { ...run, status: 'ready' });
      this.s.agenda = insertByRank(this.s.agenda, id, this.plan.rank);
    } else if (v.kind === 'dead') {
      this.s.doomed = [...this.s.doomed, { node: id, reason: v.reason as SkipReason }];
    }
  }

  reevaluateAll(): void {
    for (const id of this.plan.order) this.evaluate(id);
  }

  dispatched(items: ReadonlyArray<{ key: string; attempt: number; deadline: number }>): void {
    if (!items.length) return;
    const keys = new Set<string>();
    const byDeadline = new Map<number, Array<[string, number]>>();
    const accepted: Array<{ key: string; attempt: number; deadline: number }> = [];
    for (const it of items) {
      const { node, index } = parseKey(it.key);
      if (index === undefined) {
        const run = this.s.nodes[node];
        const retrying = run?.status === 'pending' && run.retryAt !== undefined;
        if (!run || (run.status !== 'ready' && !retrying) || it.attempt !== run.attempts) continue;
      } else {
        const fan = this.s.fanOuts[node];
        const local = fan && localIndex(fan, index);
        if (!fan || local === undefined) continue;
        const c = getChild(fan, local);
        if (c.s !== 'pending' || it.attempt !== c.n) continue;
      }
      accepted.push(it);
      keys.add(it.key);
      const list = byDeadline.get(it.deadline) ?? [];
      list.push([it.key, it.attempt]);
      byDeadline.set(it.deadline, list);
    }
    if (!accepted.length) return;

    const groupOf = new Map<number, number>();
    let deadlines = this.s.deadlines;
    for (const [at, list] of [...byDeadline.entries()].sort((a, b) => a[0] - b[0])) {
      const group: DeadlineGroup = { id: this.s.nextGroup++, at, items: list, open: list.length };
      groupOf.set(at, group.id);
      deadlines = insertSorted(deadlines, group, (a, b) => a.at - b.at || a.id - b.id);
    }
    this.s.deadlines = deadlines;
    this.s.agenda = this.s.agenda.filter((x) => !keys.has(x));
    if (this.s.waits.some((w) => keys.has(w.key)))
      this.s.waits = this.s.waits.filter((w) => !keys.has(w.key));

    const fans = new Map<string, FanOutRun>();
    for (const it of accepted) {
      const g = groupOf.get(it.deadline)!;
      const { node, index } = parseKey(it.key);
      if (index === undefined) {
        const run = this.s.nodes[node]!;
        const { retryAt: _r, ...rest } = run;
        this.setNode(node, { ...rest, status: 'dispatched', attempts: run.attempts + 1, group: g });
      } else {
        let fan = fans.get(node) ?? this.s.fanOuts[node]!;
        const local = localIndex(fan, index)!;
        const c = getChild(fan, local);
        fan = setChild(fan, local, {
          s: 'dispatched',
          n: c.n + 1,
          g,
          ...(c.e === undefined ? {} : { e: c.e }),
          ...(c.b === undefined ? {} : { b: c.b }),
        });
        fan = { ...fan, inFlight: fan.inFlight + 1 };
        if (local >= fan.nextIndex) fan = { ...fan, nextIndex: local + 1 };
        if (fan.todo.length && fan.todo[0] === local) fan = { ...fan, todo: fan.todo.slice(1) };
        else if (fan.todo.includes(local)) fan = { ...fan, todo: fan.todo.filter((x) => x !== local) };
        fans.set(node, fan);
      }
      this.s.inFlight += 1;
    }
    for (const [id, fan] of fans) this.setFanOut(id, fan);
  }

  closeGroup(id: number | undefined): void {
    if (id === undefined) return;
    const i = this.s.deadlines.findIndex((g) => g.id === id);
    if (i < 0) return;
    const g = this.s.deadlines[i]!;
    const deadlines = this.s.deadlines.slice();
    if (g.open <= 1) deadlines.splice(i, 1);
    else deadlines[i] = { ...g, open: g.open - 1 };
    this.s.deadlines = deadlines;
  }

  attemptFinished(event: Extract<JobEvent, { type: 'attempt_succeeded' | 'attempt_failed' }>): boolean {
    const { node, index } = parseKey(event.key);
    const def = this.plan.workflow.nodes[node];
    if (!def) return false;
    const policy: RetryPolicy | undefined =
      def.type === 'task' ? def.retry : def.type === 'fan_out' ? childRetry(def) : undefined;
    // Retries count from the first attempt of this run (a rerun continues the attempt numbers).
    const retryAt = (base: number | undefined) => {
      const n = event.attempt - (base ?? 0);
      return event.type === 'attempt_failed' && event.retryable && n < maxRetries(policy)
        ? event.at + retryDelaySeconds(policy, n) * 1000
        : undefined;
    };

    if (index === undefined) {
      const run = this.s.nodes[node];
      if (
        !run ||
        (run.status !== 'dispatched' && run.status !== 'running') ||
        event.attempt !== run.attempts - 1
      )
        return false;
      this.closeGroup(run.group);
      this.s.inFlight -= 1;
      const retry = retryAt(run.base);
      const { group: _g, ...rest } = run;
      if (event.type === 'attempt_succeeded') {
        this.setNode(node, { ...rest, status: 'completed', output: event.output });
        this.resolved(node);
      } else if (retry !== undefined) {
        this.setNode(node, { ...rest, status: 'pending', error: event.error, retryAt: retry });
        this.s.waits = insertSorted(this.s.waits, { at: retry, key: node }, byWait);
      } else {
        this.setNode(node, { ...rest, status: 'failed', error: event.error });
        this.recordFailure(node, event.error);
        this.resolved(node);
      }
      return true;
    }

    let fan = this.s.fanOuts[node];
    const local = fan && localIndex(fan, index);
    if (!fan || local === undefined) return false;
    const c = getChild(fan, local);
    if ((c.s !== 'dispatched' && c.s !== 'running') || event.attempt !== c.n - 1) return false;
    this.closeGroup(c.g);
    this.s.inFlight -= 1;
    const retry = retryAt(c.b);
    let child: ChildRun;
    let terminal = true;
    const base = c.b === undefined ? {} : { b: c.b };
    if (event.type === 'attempt_succeeded') child = { s: 'completed', n: c.n, o: event.output, ...base };
    else if (retry !== undefined) {
      child = { s: 'pending', n: c.n, e: event.error, ...base };
      terminal = false;
      this.s.waits = insertSorted(this.s.waits, { at: retry, key: event.key }, byWait);
    } else {
      child = { s: 'failed', n: c.n, e: event.error, ...base };
      this.recordFailure(event.key, event.error);
    }
    fan = setChild(fan, local, child);
    fan = { ...fan, inFlight: fan.inFlight - 1 };
    if (terminal) {
      fan = { ...fan, done: fan.done + 1 };
      if (child.s === 'failed') {
        fan = { ...fan, failed: fan.failed + 1, failedSample: smallest5(fan.failedSample, index) };
      }
    }
    this.setFanOut(node, fan);
    if (terminal && fan.done === fan.count) {
      const run = this.s.nodes[node]!;
      this.setNode(node, { ...run, status: 'completed', output: fanOutOutput(fan) });
      this.resolved(node);
    }
    return true;
  }
}

function smallest5(sample: number[], index: number): number[] {
  if (sample.length >= 5 && index > sample[sample.length - 1]!) return sample;
  return [...sample, index].sort((a, b) => a - b).slice(0, 5);
}

const byWait = (a: { at: number; key: string }, b: { at: number; key: string }) =>
  a.at - b.at || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/** Inserts into a sorted array (binary search from the end: new items are usually the latest). */
export function insertSorted<T>(arr: readonly T[], item: T, cmp: (a: T, b: T) => number): T[] {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cmp(arr[mid]!, item) <= 0) lo = mid + 1;
    else hi = mid;
  }
  const out = arr.slice();
  out.splice(lo, 0, item);
  return out;
}

function insertByRank(agenda: readonly string[], id: string, rank: Record<string, number>): string[] {
  if (agenda.includes(id)) return agenda.slice();
  return insertSorted(agenda, id, (a, b) => (rank[a] ?? 0) - (rank[b] ?? 0));
}
