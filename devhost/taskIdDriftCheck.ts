// Test-mode cross-check after every episode: the ids the host (emulated extension) is waiting for
// must be the ids the durable-functions executor is waiting for, with the same kind of task. The
// SDK side is read from `context.df.taskOrchestratorExecutor.openTasks` (internal, stable in the
// pinned durable-functions 3.5.0).
import { ActionType } from './actionJson';
import { describeTask } from './describeTask';
import type { TaskInfo, TaskKind } from './replayShim';

interface SdkTaskLike {
  actionObj?: unknown;
  action?: unknown;
  parent?: { children?: unknown[]; actionObj?: unknown; action?: unknown };
}

interface SdkTaskInfo {
  kind: TaskKind | 'unknown';
  name?: string;
  purpose: TaskInfo['purpose'];
}

export interface HostTaskState {
  pending: Map<number, TaskInfo>;
  allocated: Map<number, TaskInfo>;
  nextId: number;
}

/** Returns a description of the first mismatch, or undefined when both sides agree. */
export function checkTaskIdDrift(
  host: HostTaskState,
  openTasks: Record<string, unknown>,
): string | undefined {
  const sdk = new Map<number, SdkTaskInfo>();
  for (const [key, task] of Object.entries(openTasks)) {
    if (!/^\d+$/.test(key)) continue; // entity request GUIDs (unsupported anyway)
    sdk.set(Number(key), describeSdkTask(task as SdkTaskLike));
  }
  for (const [id, h] of host.pending) {
    if (!sdk.has(id)) {
      return `the host waits for task id ${id} (${describeTask(h)}), but the durable-functions SDK does not track that id`;
    }
  }
  for (const [id, s] of [...sdk].sort((a, b) => a[0] - b[0])) {
    const h = host.pending.get(id) ?? host.allocated.get(id);
    if (!h) continue; // the host has not reached that call yet (it awaits actions one by one)
    const sameKind = s.kind === 'unknown' || s.kind === h.kind;
    const sameName = h.kind === 'timer' || s.name === undefined || s.name === h.name;
    if (!sameKind || !sameName) {
      return (
        `the durable-functions SDK expects task id ${id} to be ${describeSdk(s)}, ` +
        `but the host assigned id ${id} to ${describeTask(h)}` +
        (host.pending.has(id) ? '' : ', which has already completed') +
        (h.purpose === 'retryTimer' || h.purpose === 'retryAttempt' || s.purpose === 'retryTimer'
          ? pitfallHint
          : '')
      );
    }
    if (!host.pending.has(id)) {
      return `the durable-functions SDK waits for task id ${id} (${describeSdk(s)}), which the host already completed`;
    }
  }
  return undefined;
}

const pitfallHint =
  '. This is the "fail-fast Task.all beside a still-retrying sibling" pitfall: after Task.all/Task.any ' +
  'settles early, the orchestrator scheduled new work while a callActivityWithRetry sibling was still ' +
  "retrying, so its task ids no longer match the extension's. See docs/devhost.md";

function describeSdk(s: SdkTaskInfo): string {
  if (s.kind === 'unknown') return 'an unknown task';
  return describeTask({ kind: s.kind, name: s.name, purpose: s.purpose });
}

function actionOf(t: { actionObj?: unknown; action?: unknown } | undefined): unknown {
  return t ? (t.actionObj ?? t.action) : undefined;
}

function describeSdkTask(task: SdkTaskLike): SdkTaskInfo {
  const action = actionOf(task);
  if (action === 'noOp' && task.parent && Array.isArray(task.parent.children)) {
    // A RetryableTask's children alternate: attempt, retry timer, attempt, retry timer, ...
    const index = task.parent.children.indexOf(task);
    const parentAction = actionOf(task.parent) as { actionType?: number; functionName?: string } | undefined;
    const name = parentAction?.functionName;
    if (index % 2 === 1) return { kind: 'timer', name, purpose: 'retryTimer' };
    const kind =
      parentAction?.actionType === ActionType.CallSubOrchestratorWithRetry ? 'subOrchestration' : 'activity';
    return { kind, name, purpose: 'retryAttempt' };
  }
  const a = action as { actionType?: number; functionName?: string; isCanceled?: boolean } | undefined;
  switch (a?.actionType) {
    case ActionType.CallActivity:
    case ActionType.CallActivityWithRetry:
      return { kind: 'activity', name: a.functionName, purpose: 'call' };
    case ActionType.CallSubOrchestrator:
    case ActionType.CallSubOrchestratorWithRetry:
      return { kind: 'subOrchestration', name: a.functionName, purpose: 'call' };
    case ActionType.CreateTimer:
      return { kind: 'timer', purpose: a.isCanceled ? 'canceledTimer' : 'timer' };
    default:
      return { kind: 'unknown', purpose: 'call' };
  }
}
