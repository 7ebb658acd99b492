// The initial scheduler state of a job, the state a rerun starts from (SPEC §2 "Rerun": failed and
// skipped-by-failure nodes, and only the failed fan-out children, run again; completed outputs are
// kept), and the state of one fan-out chunk run in its own sub-orchestration.
import type { Plan } from './compilePlan';
import { fanOutOutput } from './applyEvent';
import {
  newChildren,
  setChild,
  type FanOutRun,
  type JobState,
  type NodeRun,
  type NodeStatus,
  type SkipReason,
} from './jobState';

export interface InitOptions {
  /** Run fan-out children elsewhere (sub-orchestrations): the state keeps only their summary. */
  delegateFanOuts?: boolean;
}

export function initJobState(plan: Plan, jobId: string, options: InitOptions = {}): JobState {
  const nodes: Record<string, NodeRun> = {};
  for (const id of plan.order) nodes[id] = { status: 'pending', attempts: 0 };
  for (const id of Object.keys(plan.workflow.nodes)) nodes[id] ??= { status: 'pending', attempts: 0 };
  return {
    v: 1,
    jobId,
    status: 'pending',
    cancelRequested: false,
    nodes,
    fanOuts: {},
    open: Object.keys(nodes).length,
    agenda: [],
    doomed: [],
    waits: [],
    deadlines: [],
    nextGroup: 0,
    inFlight: 0,
    ...(options.delegateFanOuts ? { delegateFanOuts: true } : {}),
  };
}

/** What a previous run left behind, as read from the canonical state. */
export interface PreviousRun {
  nodes: Record<
    string,
    {
      status: NodeStatus;
      output?: unknown;
      attempts?: number;
      skipReason?: SkipReason;
      taken?: string[];
      error?: string;
    }
  >;
  /**
   * Fan-outs that were expanded: child count, the children to run again (global indices), their
   * next attempt index (same order; default 0), and optionally the outputs of the others.
   */
  fanOuts: Record<string, { count: number; failed: number[]; attempts?: number[]; outputs?: unknown[] }>;
}

/**
 * The state a rerun of a failed job starts from: completed nodes and children keep their outputs,
 * branch_not_taken skips stay, everything that failed or was skipped because of a failure is
 * pending again (attempt counters restart: a rerun gets the full retry budget).
 */
export function rerunJobState(
  plan: Plan,
  jobId: string,
  prev: PreviousRun,
  options: InitOptions = {},
): JobState {
  const s = initJobState(plan, jobId, options);
  let open = 0;
  const fanOuts: Record<string, FanOutRun> = {};
  for (const id of Object.keys(s.nodes)) {
    const p = prev.nodes[id];
    const fanPrev = prev.fanOuts[id];
    if (fanPrev && p && (p.status === 'completed' || p.status === 'running' || p.status === 'failed')) {
      const nextAttempt = new Map(fanPrev.failed.map((i, k) => [i, fanPrev.attempts?.[k] ?? 0]));
      const todo = [...nextAttempt.keys()].sort((a, b) => a - b);
      let fan: FanOutRun = {
        count: fanPrev.count,
        offset: 0,
        nextIndex: fanPrev.count,
        todo,
        inFlight: 0,
        done: fanPrev.count - todo.length,
        failed: 0,
        failedSample: [],
        chunks: options.delegateFanOuts ? [] : newChildren(fanPrev.count),
        ...(options.delegateFanOuts
          ? { delegated: { started: false }, todoAttempts: todo.map((i) => nextAttempt.get(i)!) }
          : {}),
      };
      if (!options.delegateFanOuts) {
        for (let i = 0; i < fanPrev.count; i++) {
          const next = nextAttempt.get(i);
          fan = setChild(
            fan,
            i,
            next === undefined
              ? { s: 'completed', n: 1, o: fanPrev.outputs?.[i] }
              : { s: 'pending', n: next, b: next },
          );
        }
      }
      fanOuts[id] = fan;
      if (fan.done === fan.count) {
        s.nodes[id] = { status: 'completed', attempts: 0, output: fanOutOutput(fan) };
      } else {
        s.nodes[id] = { status: 'running', attempts: 0 };
        open++;
      }
      continue;
    }
    if (p?.status === 'completed') {
      s.nodes[id] = {
        status: 'completed',
        attempts: p.attempts ?? 1,
        output: p.output,
        ...(p.taken ? { taken: [...p.taken] } : {}),
      };
    } else if (p?.status === 'skipped' && p.skipReason === 'branch_not_taken') {
      s.nodes[id] = { status: 'skipped', attempts: 0, skipReason: 'branch_not_taken' };
    } else {
      const next = p?.attempts ?? 0;
      s.nodes[id] = { status: 'pending', attempts: next, base: next };
      open++;
    }
  }
  return { ...s, fanOuts, open };
}

export interface ChunkSpec {
  /** Children [from, to) of the fan-out. */
  from: number;
  to: number;
  /** Run only these global indices (a rerun); the others of the range count as done. */
  indices?: number[];
  /** At most this many children of the chunk in flight (its share of max_parallel). */
  window?: number;
  /** Next attempt index of each of `indices` (same order; a rerun continues numbering). */
  attempts?: number[];
}

/**
 * The state of one chunk of a fan-out, run by its own sub-orchestration: the fan-out node is
 * running and its children [from, to) are pending; the state finishes when they all finished.
 */
export function initChunkState(plan: Plan, jobId: string, fanOut: string, spec: ChunkSpec): JobState {
  const count = Math.max(0, spec.to - spec.from);
  const todo = spec.indices
    ? [...new Set(spec.indices)].map((g) => g - spec.from).filter((l) => l >= 0 && l < count)
    : [];
  let fan: FanOutRun = {
    count,
    offset: spec.from,
    ...(spec.window === undefined ? {} : { window: spec.window }),
    nextIndex: spec.indices ? count : 0,
    todo: todo.sort((a, b) => a - b),
    inFlight: 0,
    done: spec.indices ? count - todo.length : 0,
    failed: 0,
    failedSample: [],
    chunks: newChildren(count),
  };
  if (spec.indices) {
    const next = new Map(spec.indices.map((g, k) => [g - spec.from, spec.attempts?.[k] ?? 0]));
    for (let i = 0; i < count; i++) {
      const n = next.get(i);
      fan = setChild(fan, i, n === undefined ? { s: 'completed', n: 0 } : { s: 'pending', n, b: n });
    }
  }
  const base = initJobState(plan, jobId);
  const done = fan.done === count;
  return {
    ...base,
    status: 'running',
    nodes: { [fanOut]: { status: done ? 'completed' : 'running', attempts: 0 } },
    fanOuts: { [fanOut]: fan },
    open: done ? 0 : 1,
  };
}
