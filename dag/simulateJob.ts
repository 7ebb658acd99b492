// Runs a job through decide/apply on a virtual clock, with handler outcomes supplied by the
// caller. The scheduler's tests, its property test and `dagmaster validate --simulate`-style
// tooling use it; the Durable orchestration is the production driver of the same functions.
import { apply } from './applyEvent';
import { ancestorsOf, type Plan } from './compilePlan';
import { decide, decisionEvents } from './decide';
import {
  evaluateConditional,
  evaluateFanIn,
  evaluateFanOutSource,
  renderChildParams,
  renderTaskParams,
  templateContext,
} from './evaluateNode';
import { chunkSummary, planChunks } from './fanOutChunks';
import { initChunkState, initJobState } from './initJobState';
import { getChild, isTerminalJob, type Decision, type JobEvent, type JobState } from './jobState';

export type SimOutcome =
  | { ok: true; output: unknown; durationMs?: number }
  | { ok: false; error: string; retryable?: boolean; durationMs?: number };

export interface SimCall {
  key: string;
  node: string;
  index?: number;
  attempt: number;
  taskId: string;
  handler: string;
  params: unknown;
  now: number;
}

export interface SimOptions {
  jobId?: string;
  inputs?: Record<string, unknown>;
  handler: (call: SimCall) => SimOutcome;
  /** Virtual start time (ms). */
  start?: number;
  /** Request cancellation at this virtual time. */
  cancelAt?: number;
  /** Start from this state (a rerun) instead of a fresh job. */
  state?: JobState;
  maxSteps?: number;
  /** Run fan-out children in chunks of this size, as the orchestration's sub-orchestrations do. */
  delegateFanOuts?: { chunkSize: number };
  /** Fan-out items of a parent simulation (chunk simulations). */
  fanOutItems?: Map<string, unknown[]>;
}

export interface SimResult {
  state: JobState;
  /** Every event applied, in order: folding it again gives the same states and decisions. */
  events: JobEvent[];
  /** Every dispatch decision, in order. */
  dispatches: Array<Extract<Decision, { kind: 'dispatch' }>>;
  /** The decisions returned at each step (for determinism checks). */
  decisions: Decision[][];
  now: number;
  /** True when the job stopped without reaching a terminal status (a hang). */
  stuck: boolean;
}

export function simulateJob(plan: Plan, options: SimOptions): SimResult {
  const jobId = options.jobId ?? 'job';
  const inputs = options.inputs ?? {};
  let state =
    options.state ?? initJobState(plan, jobId, options.delegateFanOuts ? { delegateFanOuts: true } : {});
  let now = options.start ?? 0;
  const events: JobEvent[] = [];
  const dispatches: SimResult['dispatches'] = [];
  const decisionsLog: Decision[][] = [];
  const queue: Array<{ at: number; seq: number; event: JobEvent }> = [];
  let seq = 0;
  const childParams = options.fanOutItems ?? new Map<string, unknown[]>();
  /** Outputs of delegated children, as the orchestration reads them back from Postgres. */
  const delegatedOutputs = new Map<string, Map<number, unknown>>();
  const upstream = new Map<string, Set<string>>();
  const upstreamOf = (id: string) => {
    let u = upstream.get(id);
    if (!u) upstream.set(id, (u = ancestorsOf(plan, id)));
    return u;
  };
  const push = (e: JobEvent) => {
    state = apply(plan, state, e);
    events.push(e);
  };
  const schedule = (at: number, event: JobEvent) => {
    const item = { at, seq: seq++, event };
    let i = queue.length;
    while (i > 0 && (queue[i - 1]!.at > at || (queue[i - 1]!.at === at && queue[i - 1]!.seq > item.seq))) i--;
    queue.splice(i, 0, item);
  };
  let cancelPending = options.cancelAt !== undefined;
  const maxSteps = options.maxSteps ?? 1_000_000;

  let steps = 0;
  while (!isTerminalJob(state.status) && steps++ < maxSteps) {
    const ds = decide(plan, state, now);
    decisionsLog.push(ds);
    const actionable = ds.filter((d) => d.kind !== 'wake');
    if (actionable.length) {
      for (const e of decisionEvents(actionable, now)) push(e);
      for (const d of actionable) {
        if (d.kind === 'evaluate') push(evaluate(d.node, d.nodeType));
        else if (d.kind === 'dispatch') {
          dispatches.push(d);
          run(d);
        } else if (d.kind === 'run_fan_out') runChunks(d);
      }
      continue;
    }
    const wake = ds.find((d) => d.kind === 'wake')?.at ?? Infinity;
    const nextResult = queue[0]?.at ?? Infinity;
    let next = Math.min(wake, nextResult);
    if (cancelPending && options.cancelAt! <= next) {
      now = Math.max(now, options.cancelAt!);
      cancelPending = false;
      push({ type: 'cancel_requested', at: now });
      continue;
    }
    if (next === Infinity) break;
    next = Math.max(next, now);
    now = next;
    while (queue.length && queue[0]!.at <= now) push(queue.shift()!.event);
  }
  return {
    state,
    events,
    dispatches,
    decisions: decisionsLog,
    now,
    stuck: !isTerminalJob(state.status),
  };

  function evaluate(node: string, type: 'conditional' | 'fan_out' | 'fan_in'): JobEvent {
    const ctx = templateContext(plan, state, inputs, upstreamOf(node));
    if (type === 'conditional') {
      const r = evaluateConditional(plan, node, ctx);
      return r.ok
        ? { type: 'conditional_resolved', node, taken: r.value.taken, output: r.value.output, at: now }
        : { type: 'node_failed', node, error: r.error, at: now };
    }
    if (type === 'fan_out') {
      const r = evaluateFanOutSource(plan, node, ctx);
      if (!r.ok) return { type: 'node_failed', node, error: r.error, at: now };
      childParams.set(node, r.value);
      return { type: 'fan_out_expanded', node, count: r.value.length, at: now };
    }
    const source = plan.fanInSource[node];
    const fan = source ? state.fanOuts[source] : undefined;
    const outputs: unknown[] = [];
    if (fan?.delegated) {
      const byIndex = delegatedOutputs.get(source!) ?? new Map<number, unknown>();
      for (let i = 0; i < fan.count; i++) if (byIndex.has(i)) outputs.push(byIndex.get(i) ?? null);
    } else if (fan) {
      for (let i = 0; i < fan.count; i++) {
        const c = getChild(fan, i);
        if (c.s === 'completed') outputs.push(c.o ?? null);
      }
    }
    const r = evaluateFanIn(plan, node, outputs);
    return r.ok
      ? { type: 'fan_in_aggregated', node, output: r.value, at: now }
      : { type: 'node_failed', node, error: r.error, at: now };
  }

  /** Runs a delegated fan-out as chunk simulations, `concurrency` at a time, like the coordinator. */
  function runChunks(d: Extract<Decision, { kind: 'run_fan_out' }>) {
    const def = plan.workflow.nodes[d.node] as { max_parallel?: number };
    const { chunks, concurrency } = planChunks(
      d.count,
      options.delegateFanOuts!.chunkSize,
      def.max_parallel,
      d.indices,
    );
    const running: number[] = [];
    let failed = 0;
    let failedSample: number[] = [];
    let firstError: { key: string; error: string } | undefined;
    let end = now;
    for (const spec of chunks) {
      running.sort((a, b) => a - b);
      const start = running.length < concurrency ? now : running.shift()!;
      const chunk = simulateJob(plan, {
        jobId,
        inputs,
        handler: options.handler,
        start,
        state: initChunkState(plan, jobId, d.node, spec),
        fanOutItems: childParams,
      });
      dispatches.push(...chunk.dispatches);
      const outs = delegatedOutputs.get(d.node) ?? new Map<number, unknown>();
      delegatedOutputs.set(d.node, outs);
      const fan = chunk.state.fanOuts[d.node]!;
      for (let i = 0; i < fan.count; i++) {
        const c = getChild(fan, i);
        if (c.s === 'completed' && c.n > 0) outs.set(fan.offset + i, c.o);
      }
      running.push(chunk.now);
      end = Math.max(end, chunk.now);
      const sum = chunkSummary(chunk.state, d.node);
      failed += sum.failed;
      failedSample = [...failedSample, ...sum.failedSample].sort((a, b) => a - b).slice(0, 5);
      firstError ??= sum.firstError;
    }
    schedule(end, {
      type: 'fan_out_finished',
      node: d.node,
      failed,
      failedSample,
      ...(firstError ? { firstError } : {}),
      at: end,
    });
  }

  function run(d: Extract<Decision, { kind: 'dispatch' }>) {
    const def = plan.workflow.nodes[d.node]!;
    const ctx = templateContext(plan, state, inputs, upstreamOf(d.node));
    const taskHandler = def.type === 'task' ? def.handler : '';
    const handler = d.index === undefined ? taskHandler : def.type === 'fan_out' ? def.task.handler : '';
    const r =
      d.index === undefined
        ? renderTaskParams(plan, d.node, ctx)
        : renderChildParams(plan, d.node, ctx, (childParams.get(d.node) ?? [])[d.index], d.index);
    // Params that cannot be rendered fail the attempt for good (a retry would render the same).
    if (!r.ok) {
      schedule(now, {
        type: 'attempt_failed',
        key: d.key,
        attempt: d.attempt,
        error: r.error,
        retryable: false,
        at: now,
      });
      return;
    }
    const params = r.value;
    const outcome = options.handler({
      key: d.key,
      node: d.node,
      ...(d.index === undefined ? {} : { index: d.index }),
      attempt: d.attempt,
      taskId: d.taskId,
      handler,
      params,
      now,
    });
    const at = now + (outcome.durationMs ?? 1);
    if (at > d.deadline) return; // the attempt outlives its deadline: the timeout decides.
    schedule(
      at,
      outcome.ok
        ? { type: 'attempt_succeeded', key: d.key, attempt: d.attempt, output: outcome.output, at }
        : {
            type: 'attempt_failed',
            key: d.key,
            attempt: d.attempt,
            error: outcome.error,
            retryable: outcome.retryable ?? true,
            at,
          },
    );
  }
}
