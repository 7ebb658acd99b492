// The dev host's durable state, behind one interface with two implementations: MemoryStore (fast,
// lost on exit) and PostgresStore (crash-safe). The unit of atomicity is the episode: claim an
// instance with its visible events, run the orchestrator, commit everything the episode produced
// at once (history, consumed events, activity work, timers, messages to other instances).
import { EventType, isTerminal, newEvent, type HistoryEvent, type RuntimeStatus } from '../historyEvents';

export interface InstanceRecord {
  instanceId: string;
  name: string;
  version: string;
  executionId: string;
  runtimeStatus: RuntimeStatus;
  /** JSON text of the current execution's input. */
  input: string | null;
  /** The output as DTFx stores it: JSON text when Completed; the raw reason when Failed or Terminated. */
  output: string | null;
  /** JSON text of the custom status. */
  customStatus: string | null;
  parentInstanceId: string | null;
  parentExecutionId: string | null;
  parentTaskId: number | null;
  parentName: string | null;
  historyLength: number;
  createdAt: Date;
  updatedAt: Date;
  completedAt: Date | null;
}

export interface QueuedEvent {
  id: string;
  /** The execution the event belongs to (null: the current one, e.g. external events). */
  executionId: string | null;
  event: HistoryEvent;
}

export interface EventMessage {
  instanceId: string;
  executionId: string | null;
  event: HistoryEvent;
  /** Not visible before this time (durable timers). */
  visibleAt?: Date;
}

/** What became of an event sent to an instance: queued, or not (runtimeStatus: its status when it has ended, undefined when it does not exist). */
export type SendOutcome = { queued: true } | { queued: false; runtimeStatus?: string };

export interface ActivityWorkItem {
  id: string;
  /** Which claim of this host owns the item (a store-specific token; results are accepted only with it). */
  lease: string;
  instanceId: string;
  executionId: string;
  taskId: number;
  name: string;
  /** JSON text of the activity input as the orchestrator passed it. */
  input: string;
}

export interface ActivityCompletion {
  workItem: ActivityWorkItem;
  event: HistoryEvent;
}

export interface NewActivity {
  executionId: string;
  taskId: number;
  name: string;
  input: string;
}

export interface ChildStart {
  instanceId: string;
  name: string;
  version: string;
  input: string | null;
  parent: { instanceId: string; executionId: string; taskId: number; name: string };
}

export interface EpisodeCommit {
  consumedEventIds: string[];
  /** Drop the stored history first (continue-as-new starts a new execution). */
  historyReset: boolean;
  historyAppend: HistoryEvent[];
  instance: {
    runtimeStatus: RuntimeStatus;
    executionId: string;
    input: string | null;
    output: string | null;
    /** undefined: keep the stored custom status. */
    customStatus: string | null | undefined;
    completedAt: Date | null;
    historyLength: number;
    /** Set when a new execution starts (continue-as-new moves the instance's createdTime). */
    createdAt?: Date;
  };
  activities: NewActivity[];
  messages: EventMessage[];
  children: ChildStart[];
}

export interface CommitResult {
  /** Activity work created by the episode, owned by this host (hand them to the local runner). */
  activities: ActivityWorkItem[];
  /** Instances that received immediately visible events (children, parents, self). */
  readyInstances: string[];
  /**
   * Sub-orchestrations not started because an unfinished instance has their id: their start is
   * dropped, as DTFx drops a duplicate ExecutionStarted, so the parent waits for them in vain.
   */
  droppedChildren: ChildStart[];
}

export interface EpisodeClaim {
  instance: InstanceRecord;
  events: QueuedEvent[];
  /** The stored history of the current execution (skip when a cached copy is valid). */
  loadHistory(): Promise<HistoryEvent[]>;
  commit(commit: EpisodeCommit): Promise<CommitResult>;
  abandon(): Promise<void>;
}

export interface CreateInstanceRequest {
  instanceId: string;
  name: string;
  version: string;
  executionId: string;
  input: string | null;
}

export interface InstanceFilter {
  createdTimeFrom?: Date;
  createdTimeTo?: Date;
  runtimeStatus?: string[];
  instanceIdPrefix?: string;
}

export interface InstancePage {
  items: InstanceRecord[];
  continuation?: string;
}

export interface InstanceStore {
  readonly kind: 'memory' | 'postgres';
  init(): Promise<void>;
  close(): Promise<void>;
  /** Readiness signalled by other processes (Postgres NOTIFY). */
  onExternalWork(listener: (instanceIds: string[], activities: boolean) => void): void;
  /** Creates the instance and its ExecutionStarted event; replaces a finished instance with that id. */
  createInstance(req: CreateInstanceRequest): Promise<'created' | 'replaced'>;
  /**
   * Queues each message's event (no delay, any execution) if its instance exists and has not ended,
   * checked and queued atomically; says what became of each, in input order. Committed durably
   * before it resolves: what a client's raise or terminate is acknowledged with.
   */
  sendToRunning(messages: EventMessage[]): Promise<SendOutcome[]>;
  claimEpisode(instanceId: string): Promise<EpisodeClaim | undefined>;
  findReadyInstances(limit: number): Promise<string[]>;
  /** Earliest future visibility time of a queued event (the next durable timer). */
  nextVisibleAt(): Promise<Date | undefined>;
  claimActivities(limit: number): Promise<ActivityWorkItem[]>;
  /** Records results; returns the instances that received events. Results of work items that no
   * longer belong to this host (or whose instance was purged) are dropped: each applies once. */
  completeActivities(batch: ActivityCompletion[]): Promise<string[]>;
  /** Gives unfinished work back (graceful stop) so another host or the next start runs it. */
  releaseActivities(items: ActivityWorkItem[]): Promise<void>;
  /** Releases work claimed by hosts that died. Returns how many work items were released. */
  reapOrphans(): Promise<number>;
  getInstance(instanceId: string): Promise<InstanceRecord | undefined>;
  listInstances(filter: InstanceFilter, top: number, continuation?: string): Promise<InstancePage>;
  getHistory(instanceId: string): Promise<HistoryEvent[]>;
  purgeInstance(instanceId: string): Promise<number>;
  /**
   * Purges by filter like Azure Storage (AzureTableTrackingStore.PurgeInstanceHistoryAsync): only the
   * terminal statuses of runtimeStatus count; without any, instances of every status match, running
   * ones included.
   */
  purgeInstances(filter: InstanceFilter): Promise<number>;
}

/** Shared by both stores so ExecutionStarted looks the same wherever it is created. */
export function executionStartedEvent(
  req: CreateInstanceRequest,
  parent: ChildStart['parent'] | null,
  now = new Date(),
): HistoryEvent {
  return newEvent(
    EventType.ExecutionStarted,
    {
      Name: req.name,
      Version: req.version,
      Input: req.input,
      OrchestrationInstance: { InstanceId: req.instanceId, ExecutionId: req.executionId },
      ParentInstance: parent
        ? {
            Name: parent.name,
            Version: '',
            TaskScheduleId: parent.taskId,
            OrchestrationInstance: { InstanceId: parent.instanceId, ExecutionId: parent.executionId },
          }
        : null,
    },
    now,
  );
}

/** The statuses a purge by filter honours (Azure Storage ignores the others). */
export function purgeStatuses(statuses: string[] | undefined): string[] | undefined {
  const terminal = statuses?.filter((s) => isTerminal(s));
  return terminal?.length ? terminal : undefined;
}

export function matchesFilter(r: InstanceRecord, f: InstanceFilter): boolean {
  if (f.createdTimeFrom && r.createdAt < f.createdTimeFrom) return false;
  if (f.createdTimeTo && r.createdAt > f.createdTimeTo) return false;
  if (f.runtimeStatus?.length && !f.runtimeStatus.includes(r.runtimeStatus)) return false;
  if (f.instanceIdPrefix && !r.instanceId.startsWith(f.instanceIdPrefix)) return false;
  return true;
}
