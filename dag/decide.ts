// decide(plan, state, now) → decisions: what to do next, as data. Pure; time comes in as `now`
// (ms since epoch, context.df.currentUtcDateTime in an orchestration). Decisions are ordered
// deterministically: skips and structural nodes in topological order, then dispatches, then
// timeouts. It looks only at what can act now: the agenda, due retries, the fan-outs' windows and
// expired deadline groups, so its cost does not grow with the number of finished children.
import type { Plan } from './compilePlan';
import {
  childKey,
  getChild,
  isTerminalJob,
  localIndex,
  parseKey,
  taskIdOf,
  type Decision,
  type JobEvent,
  type JobState,
} from './jobState';
import type { FanOutNode, TaskNode } from './workflowModel';

const fanOutOrders = new WeakMap<Plan, string[]>();

/** The fan-out nodes in plan order (decide looks at them at every step, not at every node). */
function fanOutOrder(plan: Plan): string[] {
  let ids = fanOutOrders.get(plan);
  if (!ids) {
    ids = plan.order.filter((id) => plan.workflow.nodes[id]?.type === 'fan_out');
    fanOutOrders.set(plan, ids);
  }
  return ids;
}

export function decide(plan: Plan, state: JobState, now: number): Decision[] {
  if (isTerminalJob(state.status)) return [];
  if (state.status === 'pending') return [{ kind: 'start_job' }];
  if (state.cancelRequested) return [{ kind: 'finish', status: 'cancelled', inFlight: inFlightKeys(state) }];

  const out: Decision[] = [];
  for (const d of state.doomed) out.push({ kind: 'skip', node: d.node, reason: d.reason });

  for (const id of state.agenda) {
    const def = plan.workflow.nodes[id];
    const run = state.nodes[id];
    if (!def || run?.status !== 'ready') continue;
    switch (def.type) {
      case 'start':
      case 'end':
        out.push({ kind: 'complete', node: id, output: null });
        break;
      case 'task':
        out.push(dispatch(state, id, undefined, run.attempts, def.timeout_seconds, now));
        break;
      case 'fan_in': {
        const source = plan.fanInSource[id];
        const fan = source ? state.fanOuts[source] : undefined;
        if (fan && fan.failed > 0) out.push({ kind: 'fail', node: id, error: fanInFailure(source!, fan) });
        else out.push({ kind: 'evaluate', node: id, nodeType: 'fan_in' });
        break;
      }
      case 'conditional':
      case 'fan_out':
        out.push({ kind: 'evaluate', node: id, nodeType: def.type });
        break;
    }
  }

  // Capacity per fan-out: max_parallel minus what is in flight; due retries of children count too.
  const capacity = new Map<string, number>();
  const capacityOf = (fanId: string): number => {
    let c = capacity.get(fanId);
    if (c === undefined) {
      const def = plan.workflow.nodes[fanId] as FanOutNode | undefined;
      const fan = state.fanOuts[fanId];
      const limit = fan?.window ?? def?.max_parallel;
      c = limit === undefined ? Infinity : Math.max(0, limit - (fan?.inFlight ?? 0));
      capacity.set(fanId, c);
    }
    return c;
  };

  for (const w of state.waits) {
    if (w.at > now) break;
    const { node, index } = parseKey(w.key);
    if (index === undefined) {
      const def = plan.workflow.nodes[node] as TaskNode | undefined;
      const run = state.nodes[node];
      if (def && run) out.push(dispatch(state, node, undefined, run.attempts, def.timeout_seconds, now));
    } else {
      const fan = state.fanOuts[node];
      const def = plan.workflow.nodes[node] as FanOutNode | undefined;
      const local = fan && localIndex(fan, index);
      if (!fan || !def || local === undefined || capacityOf(node) <= 0) continue;
      capacity.set(node, capacityOf(node) - 1);
      out.push(dispatch(state, node, index, getChild(fan, local).n, def.task.timeout_seconds, now));
    }
  }

  for (const id of fanOutOrder(plan)) {
    const fan = state.fanOuts[id];
    if (!fan || state.nodes[id]?.status !== 'running') continue;
    if (fan.delegated) {
      if (!fan.delegated.started) {
        out.push({
          kind: 'run_fan_out',
          node: id,
          count: fan.count,
          ...(fan.todo.length ? { indices: fan.todo.map((i) => i + fan.offset) } : {}),
          ...(fan.todoAttempts ? { attempts: fan.todoAttempts } : {}),
        });
      }
      continue;
    }
    if (!fan.todo.length && fan.nextIndex >= fan.count) continue;
    const def = plan.workflow.nodes[id] as FanOutNode;
    let room = capacityOf(id);
    for (const local of fan.todo) {
      if (room <= 0) break;
      out.push(
        dispatch(state, id, local + fan.offset, getChild(fan, local).n, def.task.timeout_seconds, now),
      );
      room--;
    }
    for (let local = fan.nextIndex; local < fan.count && room > 0; local++) {
      if (getChild(fan, local).s !== 'pending') continue;
      out.push(
        dispatch(state, id, local + fan.offset, getChild(fan, local).n, def.task.timeout_seconds, now),
      );
      room--;
    }
    capacity.set(id, room);
  }

  for (const g of state.deadlines) {
    if (g.at > now) break;
    for (const [key, attempt] of g.items) {
      if (!isInFlight(state, key, attempt, g.id)) continue;
      out.push({ kind: 'timeout', key, attempt, timeoutSeconds: timeoutOf(plan, key) });
    }
  }

  if (out.length) return out;
  if (state.open === 0 && state.inFlight === 0) {
    return state.failedNode === undefined
      ? [{ kind: 'finish', status: 'completed', inFlight: [] }]
      : [{ kind: 'finish', status: 'failed', error: state.error, inFlight: [] }];
  }
  // Due retries blocked by max_parallel wake up with the next finished child, not with a timer.
  const nextWait = state.waits.find((w) => w.at > now)?.at ?? Infinity;
  const nextDeadline = state.deadlines.find((g) => g.at > now)?.at ?? Infinity;
  const wake = Math.min(nextWait, nextDeadline);
  return wake === Infinity ? [] : [{ kind: 'wake', at: wake }];
}

function dispatch(
  state: JobState,
  node: string,
  index: number | undefined,
  attempt: number,
  timeoutSeconds: number,
  now: number,
): Decision {
  const key = index === undefined ? node : childKey(node, index);
  return {
    kind: 'dispatch',
    key,
    node,
    ...(index === undefined ? {} : { index }),
    attempt,
    taskId: taskIdOf(state.jobId, key, attempt),
    deadline: now + timeoutSeconds * 1000,
    timeoutSeconds,
  };
}

function timeoutOf(plan: Plan, key: string): number {
  const { node } = parseKey(key);
  const def = plan.workflow.nodes[node];
  if (def?.type === 'task') return def.timeout_seconds;
  if (def?.type === 'fan_out') return def.task.timeout_seconds;
  return 0;
}

function isInFlight(state: JobState, key: string, attempt: number, group: number): boolean {
  const { node, index } = parseKey(key);
  if (index === undefined) {
    const run = state.nodes[node];
    return (
      !!run &&
      (run.status === 'dispatched' || run.status === 'running') &&
      run.attempts - 1 === attempt &&
      run.group === group
    );
  }
  const fan = state.fanOuts[node];
  const local = fan && localIndex(fan, index);
  if (!fan || local === undefined) return false;
  const c = getChild(fan, local);
  return (c.s === 'dispatched' || c.s === 'running') && c.n - 1 === attempt && c.g === group;
}

/** Whether this attempt of a node or child is the one in flight (dispatched or running). */
export function isAttemptInFlight(state: JobState, key: string, attempt: number): boolean {
  const { node, index } = parseKey(key);
  if (index === undefined) {
    const run = state.nodes[node];
    return !!run && (run.status === 'dispatched' || run.status === 'running') && run.attempts - 1 === attempt;
  }
  const fan = state.fanOuts[node];
  const local = fan && localIndex(fan, index);
  if (!fan || local === undefined) return false;
  const c = getChild(fan, local);
  return (c.s === 'dispatched' || c.s === 'running') && c.n - 1 === attempt;
}

/** Keys of every attempt in flight (told to stop when the job is cancelled). */
export function inFlightKeys(state: JobState): string[] {
  const keys: string[] = [];
  for (const g of state.deadlines) {
    for (const [key, attempt] of g.items) if (isInFlight(state, key, attempt, g.id)) keys.push(key);
  }
  for (const [id, fan] of Object.entries(state.fanOuts)) if (fan.delegated?.started) keys.push(id);
  return keys.sort();
}

export function fanInFailure(
  fanOut: string,
  fan: { failed: number; count: number; failedSample: number[] },
): string {
  const names = fan.failedSample.map((i) => childKey(fanOut, i)).join(', ');
  const more =
    fan.failed > fan.failedSample.length ? ` and ${fan.failed - fan.failedSample.length} more` : '';
  return `Fan-out children failed: ${names}${more} (${fan.failed} of ${fan.count} children failed)`;
}

/** The events that record decisions the caller has acted on (everything but `evaluate` results and `wake`). */
export function decisionEvents(decisions: readonly Decision[], at: number): JobEvent[] {
  const events: JobEvent[] = [];
  const dispatched: Array<{ key: string; attempt: number; deadline: number }> = [];
  for (const d of decisions) {
    switch (d.kind) {
      case 'start_job':
        events.push({ type: 'job_started', at });
        break;
      case 'complete':
        events.push({ type: 'node_completed', node: d.node, output: d.output, at });
        break;
      case 'skip':
        events.push({ type: 'node_skipped', node: d.node, reason: d.reason, at });
        break;
      case 'evaluate':
        events.push({ type: 'node_evaluating', node: d.node, at });
        break;
      case 'fail':
        events.push({ type: 'node_failed', node: d.node, error: d.error, at });
        break;
      case 'dispatch':
        dispatched.push({ key: d.key, attempt: d.attempt, deadline: d.deadline });
        break;
      case 'timeout':
        events.push({
          type: 'attempt_failed',
          key: d.key,
          attempt: d.attempt,
          error: `Task timed out after ${d.timeoutSeconds}s`,
          retryable: true,
          at,
        });
        break;
      case 'run_fan_out':
        events.push({ type: 'fan_out_started', node: d.node, at });
        break;
      case 'finish':
        events.push({
          type: 'job_finished',
          status: d.status,
          ...(d.error === undefined ? {} : { error: d.error }),
          at,
        });
        break;
      case 'wake':
        break;
    }
  }
  if (dispatched.length) events.push({ type: 'dispatched', items: dispatched, at });
  return events;
}
