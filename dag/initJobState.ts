// The initial scheduler state of a job, and the state a rerun starts from (SPEC §2 "Rerun": failed
// and skipped-by-failure nodes, and only the failed fan-out children, run again; completed outputs
// are kept).
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

export function initJobState(plan: Plan, jobId: string): JobState {
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
  /** Fan-outs that were expanded: child count, the failed children, and optionally the outputs. */
  fanOuts: Record<string, { count: number; failed: number[]; outputs?: unknown[] }>;
}

/**
 * The state a rerun of a failed job starts from: completed nodes and children keep their outputs,
 * branch_not_taken skips stay, everything that failed or was skipped because of a failure is
 * pending again (attempt counters restart: a rerun gets the full retry budget).
 */
export function rerunJobState(plan: Plan, jobId: string, prev: PreviousRun): JobState {
  const s = initJobState(plan, jobId);
  let open = 0;
  const fanOuts: Record<string, FanOutRun> = {};
  for (const id of Object.keys(s.nodes)) {
    const p = prev.nodes[id];
    const fanPrev = prev.fanOuts[id];
    if (fanPrev && p && (p.status === 'completed' || p.status === 'running' || p.status === 'failed')) {
      let fan: FanOutRun = {
        count: fanPrev.count,
        nextIndex: fanPrev.count,
        todo: [...fanPrev.failed].sort((a, b) => a - b),
        inFlight: 0,
        done: fanPrev.count - fanPrev.failed.length,
        failed: 0,
        failedSample: [],
        chunks: newChildren(fanPrev.count),
      };
      const failed = new Set(fanPrev.failed);
      for (let i = 0; i < fanPrev.count; i++) {
        if (!failed.has(i)) fan = setChild(fan, i, { s: 'completed', n: 1, o: fanPrev.outputs?.[i] });
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
      s.nodes[id] = { status: 'pending', attempts: 0 };
      open++;
    }
  }
  return { ...s, fanOuts, open };
}
