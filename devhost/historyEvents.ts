// Durable Task Framework history events, in the JSON shape the Durable extension hands to
// out-of-process SDKs (PascalCase fields, numeric EventType). durable-functions replays these;
// the dev host stores them. Field names and numbers follow DTFx `HistoryEventType`.

export const EventType = {
  ExecutionStarted: 0,
  ExecutionCompleted: 1,
  ExecutionFailed: 2,
  ExecutionTerminated: 3,
  TaskScheduled: 4,
  TaskCompleted: 5,
  TaskFailed: 6,
  SubOrchestrationInstanceCreated: 7,
  SubOrchestrationInstanceCompleted: 8,
  SubOrchestrationInstanceFailed: 9,
  TimerCreated: 10,
  TimerFired: 11,
  OrchestratorStarted: 12,
  OrchestratorCompleted: 13,
  EventSent: 14,
  EventRaised: 15,
  ContinueAsNew: 16,
  GenericEvent: 17,
  HistoryState: 18,
  ExecutionSuspended: 19,
  ExecutionResumed: 20,
} as const;

export type EventTypeName = keyof typeof EventType;
export type EventTypeNumber = (typeof EventType)[EventTypeName];

const names: string[] = [];
for (const [k, v] of Object.entries(EventType)) names[v] = k;

export function eventTypeName(type: number): string {
  return names[type] ?? `Unknown(${type})`;
}

export interface OrchestrationInstanceRef {
  InstanceId: string;
  ExecutionId: string;
}

/** One loose shape for every event type: only the fields of the given type are present. */
export interface HistoryEvent {
  EventType: number;
  EventId: number;
  IsPlayed: boolean;
  Timestamp: string;
  Name?: string;
  Version?: string;
  Input?: string | null;
  Result?: string | null;
  Reason?: string;
  Details?: string;
  TaskScheduledId?: number;
  TimerId?: number;
  FireAt?: string;
  InstanceId?: string;
  OrchestrationStatus?: RuntimeStatus;
  OrchestrationInstance?: OrchestrationInstanceRef;
  ParentInstance?: {
    Name: string;
    Version: string;
    TaskScheduleId: number;
    OrchestrationInstance: OrchestrationInstanceRef;
  } | null;
}

export type RuntimeStatus =
  'Pending' | 'Running' | 'Completed' | 'ContinuedAsNew' | 'Failed' | 'Canceled' | 'Terminated' | 'Suspended';

export const terminalStatuses: readonly RuntimeStatus[] = ['Completed', 'Failed', 'Terminated', 'Canceled'];

export function isTerminal(status: string): boolean {
  return (terminalStatuses as readonly string[]).includes(status);
}

export function newEvent(
  type: EventTypeNumber,
  fields: Partial<HistoryEvent> = {},
  now = new Date(),
): HistoryEvent {
  return { EventType: type, EventId: -1, IsPlayed: false, Timestamp: now.toISOString(), ...fields };
}

/** Completion events (the ones that carry a task id back to the orchestrator). */
export function completionTaskId(e: HistoryEvent): number | undefined {
  switch (e.EventType) {
    case EventType.TaskCompleted:
    case EventType.TaskFailed:
    case EventType.SubOrchestrationInstanceCompleted:
    case EventType.SubOrchestrationInstanceFailed:
      return e.TaskScheduledId;
    case EventType.TimerFired:
      return e.TimerId;
    default:
      return undefined;
  }
}

export function isSchedulingEvent(e: HistoryEvent): boolean {
  return (
    e.EventType === EventType.TaskScheduled ||
    e.EventType === EventType.TimerCreated ||
    e.EventType === EventType.SubOrchestrationInstanceCreated
  );
}
