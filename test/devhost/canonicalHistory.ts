// Golden-history normal form: what a run of an orchestration must always produce, independent of
// timing. Scheduling events in id order (with names, inputs, timer delays), completion events
// sorted by task id (with results and failure reasons), external events in arrival order, and the
// start and end of the execution. Episode boundaries (OrchestratorStarted/Completed), timestamps,
// execution ids and stack traces are left out because batching and clocks vary between runs.
import path from 'node:path';
import { EventType, type HistoryEvent } from '../../devhost';

const ROOT = path.resolve(__dirname, '..', '..');

export interface CanonicalHistory {
  started: { name?: string; input?: string | null; parent: { name: string; taskId: number } | null };
  scheduled: Record<string, unknown>[];
  completions: Record<string, unknown>[];
  events: Record<string, unknown>[];
  end: Record<string, unknown> | null;
}

export function canonicalHistory(history: HistoryEvent[]): CanonicalHistory {
  const executionId = history.find((e) => e.EventType === EventType.ExecutionStarted)?.OrchestrationInstance
    ?.ExecutionId;
  // Stack traces in failure results hold this checkout's absolute path: normalize it.
  const strip = (s: string | null | undefined) =>
    s === undefined || s === null
      ? s
      : (executionId ? s.split(executionId).join('<executionId>') : s).split(ROOT).join('<root>');
  let now = 0;
  const out: CanonicalHistory = {
    started: { parent: null },
    scheduled: [],
    completions: [],
    events: [],
    end: null,
  };
  for (const e of history) {
    switch (e.EventType) {
      case EventType.OrchestratorStarted:
        now = Date.parse(e.Timestamp);
        break;
      case EventType.ExecutionStarted:
        out.started = {
          name: e.Name,
          input: e.Input,
          parent: e.ParentInstance
            ? { name: e.ParentInstance.Name, taskId: e.ParentInstance.TaskScheduleId }
            : null,
        };
        break;
      case EventType.TaskScheduled:
        out.scheduled.push({ id: e.EventId, type: 'TaskScheduled', name: e.Name, input: e.Input });
        break;
      case EventType.SubOrchestrationInstanceCreated:
        out.scheduled.push({
          id: e.EventId,
          type: 'SubOrchestrationInstanceCreated',
          name: e.Name,
          instanceId: strip(e.InstanceId),
          input: e.Input,
        });
        break;
      case EventType.TimerCreated:
        out.scheduled.push({ id: e.EventId, type: 'TimerCreated', delayMs: Date.parse(e.FireAt!) - now });
        break;
      case EventType.TaskCompleted:
      case EventType.SubOrchestrationInstanceCompleted:
        out.completions.push({
          id: e.TaskScheduledId,
          type:
            e.EventType === EventType.TaskCompleted ? 'TaskCompleted' : 'SubOrchestrationInstanceCompleted',
          result: strip(e.Result),
        });
        break;
      case EventType.TaskFailed:
      case EventType.SubOrchestrationInstanceFailed:
        out.completions.push({
          id: e.TaskScheduledId,
          type: e.EventType === EventType.TaskFailed ? 'TaskFailed' : 'SubOrchestrationInstanceFailed',
          // The reason's details (after " \n ") carry stack traces with machine-specific paths.
          reason: strip(e.Reason)?.split('\n')[0]!.trimEnd(),
        });
        break;
      case EventType.TimerFired:
        out.completions.push({ id: e.TimerId, type: 'TimerFired' });
        break;
      case EventType.EventRaised:
        out.events.push({ name: e.Name, input: e.Input });
        break;
      case EventType.ExecutionTerminated:
        out.events.push({ type: 'ExecutionTerminated', reason: e.Input });
        break;
      case EventType.ExecutionCompleted:
        out.end = { status: e.OrchestrationStatus, result: strip(e.Result) };
        break;
      default:
        break;
    }
  }
  out.completions.sort((a, b) => (a.id as number) - (b.id as number));
  return out;
}
