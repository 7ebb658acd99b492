// The scheduler's state (SPEC §2) as plain JSON, and the vocabulary of events and decisions.
//
// The scheduler is two pure functions: `decide(plan, state, now) → Decision[]` says what to do
// next; `apply(plan, state, event) → state` folds one fact into the state. Every decision the
// caller acts on comes back as an event (see decisionEvents), so folding the same event log
// always gives the same states and the same decisions.
//
// Cost is proportional to what changed, not to the job size: readiness is re-evaluated only for
// the dependents of a node that resolved; fan-out children live in fixed-size chunks, so an event
// copies one chunk and the chunk index instead of the whole child list (copy-on-write).

export type JobStatus = 'pending' | 'running' | 'completed' | 'failed' | 'cancelled';
export type NodeStatus = 'pending' | 'ready' | 'dispatched' | 'running' | 'completed' | 'failed' | 'skipped';
export type SkipReason = 'branch_not_taken' | 'upstream_failed';

export const TERMINAL_JOB: readonly JobStatus[] = ['completed', 'failed', 'cancelled'];
export const TERMINAL_NODE: readonly NodeStatus[] = ['completed', 'failed', 'skipped'];
export const IN_FLIGHT: readonly NodeStatus[] = ['dispatched', 'running'];

export interface NodeRun {
  status: NodeStatus;
  /** The next attempt index (attempts dispatched so far, counting earlier runs); the current one is attempts - 1. */
  attempts: number;
  /** First attempt index of this run (a rerun continues numbering; retries count from here). */
  base?: number;
  output?: unknown;
  error?: string;
  skipReason?: SkipReason;
  /** Conditional nodes: the branch targets that were taken. */
  taken?: string[];
  /** Waiting for a retry: not before this time (ms since epoch). */
  retryAt?: number;
  /** In flight: the deadline group of the current attempt. */
  group?: number;
}

/** A fan-out child, kept short because there may be 100,000 of them. */
export interface ChildRun {
  /** status */
  s: NodeStatus;
  /** next attempt index (attempts dispatched, counting earlier runs) */
  n: number;
  /** first attempt index of this run */
  b?: number;
  /** output when completed */
  o?: unknown;
  /** error of the last failed attempt */
  e?: string;
  /** deadline group of the in-flight attempt */
  g?: number;
}

export const CHILD_CHUNK = 1024;

export interface FanOutRun {
  count: number;
  /** Global index of local child 0 (a fan-out chunk runs children [offset, offset + count)). */
  offset: number;
  /** Overrides the node's max_parallel (a chunk's share of it). */
  window?: number;
  /** The children run elsewhere (sub-orchestrations); only the summary comes back. */
  delegated?: { started: boolean };
  /** Lowest child index never dispatched (children below it have been dispatched at least once). */
  nextIndex: number;
  /** Local indices to dispatch before the sweep continues (a rerun's failed children), in order. */
  todo: number[];
  /** Delegated reruns: the next attempt index of each `todo` child (same order). */
  todoAttempts?: number[];
  inFlight: number;
  /** Terminal children. */
  done: number;
  failed: number;
  /** Up to 5 smallest failed child indices (global), for the fan_in's error message. */
  failedSample: number[];
  /** Children in chunks of CHILD_CHUNK (copy-on-write per chunk). */
  chunks: ChildRun[][];
}

/** Attempts dispatched in one round with the same deadline share a group (one timer for all). */
export interface DeadlineGroup {
  id: number;
  at: number;
  /** Keys (node id or `<fan_out>__<index>`) dispatched in this group, with their attempt index. */
  items: Array<[string, number]>;
  /** How many of them are still in flight. */
  open: number;
}

export interface RetryWait {
  at: number;
  key: string;
}

export interface JobState {
  v: 1;
  jobId: string;
  status: JobStatus;
  /** The first failure of the job, as the job's error message. */
  error?: string;
  failedNode?: string;
  /** The first failure's own message (without the node prefix of `error`). */
  failedError?: string;
  cancelRequested: boolean;
  nodes: Record<string, NodeRun>;
  fanOuts: Record<string, FanOutRun>;
  /** Static nodes that are not terminal. The job ends when this is 0. */
  open: number;
  /** Static nodes that are ready and await their decision, in rank order. */
  agenda: string[];
  /** Static nodes that can no longer become ready and await their skip. */
  doomed: Array<{ node: string; reason: SkipReason }>;
  /** Retry waits, sorted by (at, key). */
  waits: RetryWait[];
  /** Deadline groups with attempts in flight, sorted by (at, id). */
  deadlines: DeadlineGroup[];
  nextGroup: number;
  /** Attempts in flight (static tasks and children). */
  inFlight: number;
  startedAt?: number;
  endedAt?: number;
  /** Fan-out children run in sub-orchestrations (fan_out_started / fan_out_finished events). */
  delegateFanOuts?: boolean;
}

export type { DispatchItem, JobEvent } from './jobEvents';

export type Decision =
  | { kind: 'start_job' }
  /** start/end nodes complete without a worker. */
  | { kind: 'complete'; node: string; output: unknown }
  | { kind: 'skip'; node: string; reason: SkipReason }
  /** Conditional, fan_out and fan_in nodes need data (outputs, inputs) to resolve: the caller evaluates them. */
  | { kind: 'evaluate'; node: string; nodeType: 'conditional' | 'fan_out' | 'fan_in' }
  /** A node that fails without running anything (a fan_in over failed children). */
  | { kind: 'fail'; node: string; error: string }
  | {
      kind: 'dispatch';
      key: string;
      node: string;
      index?: number;
      attempt: number;
      taskId: string;
      deadline: number;
      timeoutSeconds: number;
    }
  | { kind: 'timeout'; key: string; attempt: number; timeoutSeconds: number }
  /** Delegated fan-outs: run the children (all, or only `indices` on a rerun) elsewhere. */
  | { kind: 'run_fan_out'; node: string; count: number; indices?: number[]; attempts?: number[] }
  /** Nothing to do before this time (a retry wait or an attempt deadline); set a timer. */
  | { kind: 'wake'; at: number }
  | { kind: 'finish'; status: 'completed' | 'failed' | 'cancelled'; error?: string; inFlight: string[] };

export function childKey(fanOut: string, index: number): string {
  return `${fanOut}__${index}`;
}

/** Splits a key into its node and child index (node ids never contain "__"). */
export function parseKey(key: string): { node: string; index?: number } {
  const i = key.indexOf('__');
  if (i < 0) return { node: key };
  return { node: key.slice(0, i), index: Number(key.slice(i + 2)) };
}

/** Each attempt has its own task id (SPEC §2). */
export function taskIdOf(jobId: string, key: string, attempt: number): string {
  return `${jobId}_${key}_${attempt}`;
}

/** A child by its local index (0-based within this run's range). */
export function getChild(run: FanOutRun, index: number): ChildRun {
  return run.chunks[Math.floor(index / CHILD_CHUNK)]![index % CHILD_CHUNK]!;
}

/** The local index of a global child index, or undefined when it is outside this run's range. */
export function localIndex(run: FanOutRun, global: number): number | undefined {
  const local = global - run.offset;
  return Number.isInteger(local) && local >= 0 && local < run.count && !run.delegated ? local : undefined;
}

/** Copy-on-write update of one child: copies the chunk index and one chunk. */
export function setChild(run: FanOutRun, index: number, child: ChildRun): FanOutRun {
  const c = Math.floor(index / CHILD_CHUNK);
  const chunk = run.chunks[c]!.slice();
  chunk[index % CHILD_CHUNK] = child;
  const chunks = run.chunks.slice();
  chunks[c] = chunk;
  return { ...run, chunks };
}

export function newChildren(count: number): ChildRun[][] {
  const chunks: ChildRun[][] = [];
  for (let start = 0; start < count; start += CHILD_CHUNK) {
    const size = Math.min(CHILD_CHUNK, count - start);
    const chunk: ChildRun[] = new Array(size);
    for (let i = 0; i < size; i++) chunk[i] = { s: 'pending', n: 0 };
    chunks.push(chunk);
  }
  return chunks;
}

export function isTerminalJob(s: JobStatus): boolean {
  return TERMINAL_JOB.includes(s);
}
