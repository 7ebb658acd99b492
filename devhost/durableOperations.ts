// Instance management shared by the Durable HTTP management API and the programmatic DevHost API:
// start, status, list, raise event, terminate, purge, wait.
import { randomUUID } from 'node:crypto';
import { DevHostError } from './devHostError';
import {
  EventType,
  eventTypeName,
  isTerminal,
  newEvent,
  type HistoryEvent,
  type RuntimeStatus,
} from './historyEvents';
import { findRegistration, type Registration } from './loadApp';
import type { OrchestrationDispatcher } from './orchestrationDispatcher';
import { newExecutionId } from './store/memoryStore';
import type { InstanceFilter, InstanceRecord, InstanceStore } from './store/instanceStore';

export interface OrchestrationStatus {
  name: string;
  instanceId: string;
  runtimeStatus: RuntimeStatus;
  input: unknown;
  customStatus: unknown;
  output: unknown;
  createdTime: string;
  lastUpdatedTime: string;
  historyEvents?: Record<string, unknown>[];
}

export interface StatusOptions {
  showHistory?: boolean;
  showHistoryOutput?: boolean;
  showInput?: boolean;
}

export interface StartOptions {
  instanceId?: string;
  /** The input value (serialized as JSON). */
  input?: unknown;
  version?: string;
}

export class DurableOperations {
  constructor(
    private readonly store: InstanceStore,
    private readonly dispatcher: OrchestrationDispatcher,
    private readonly registrations: Map<string, Registration>,
  ) {}

  async startNew(name: string, options: StartOptions = {}): Promise<string> {
    return this.startWithJson(
      name,
      options.input === undefined ? null : JSON.stringify(options.input),
      options,
    );
  }

  /** Like startNew, with the input already as JSON text (HTTP bodies). */
  async startWithJson(
    name: string,
    inputJson: string | null,
    options: Omit<StartOptions, 'input'> = {},
  ): Promise<string> {
    // Case-insensitive like the extension's ThrowIfFunctionDoesNotExist; the instance keeps the name
    // as given (ExecutionStarted.Name), as on Azure.
    const reg = findRegistration(this.registrations, name);
    if (!reg || reg.kind !== 'orchestration') {
      const known = [...this.registrations.values()]
        .filter((r) => r.kind === 'orchestration')
        .map((r) => r.name);
      throw new DevHostError(
        'bad-request',
        `The function '${name}' doesn't exist, is disabled, or is not an orchestrator function. ` +
          `Known orchestrator functions: ${known.map((n) => `'${n}'`).join(', ') || '(none)'}.`,
      );
    }
    const instanceId = options.instanceId ?? randomUUID().replace(/-/g, '');
    validateInstanceId(instanceId);
    await this.store.createInstance({
      instanceId,
      name,
      version: options.version ?? '',
      executionId: newExecutionId(),
      input: inputJson,
    });
    this.dispatcher.markReady([instanceId]);
    return instanceId;
  }

  async getStatus(instanceId: string, options: StatusOptions = {}): Promise<OrchestrationStatus | undefined> {
    const r = await this.store.getInstance(instanceId);
    if (!r) return undefined;
    const showInput = options.showInput !== false;
    const status = toStatus(r, showInput);
    if (options.showHistory && r.runtimeStatus !== 'Pending') {
      status.historyEvents = friendlyHistory(
        await this.store.getHistory(instanceId),
        options.showHistoryOutput === true,
        showInput,
      );
    }
    return status;
  }

  async list(
    filter: InstanceFilter,
    top = 100,
    continuation?: string,
    showInput = true,
  ): Promise<{ items: OrchestrationStatus[]; continuation?: string }> {
    const page = await this.store.listInstances(filter, top, continuation);
    return { items: page.items.map((r) => toStatus(r, showInput)), continuation: page.continuation };
  }

  async raiseEvent(instanceId: string, eventName: string, dataJson: string | null): Promise<void> {
    if (!eventName) throw new DevHostError('bad-request', 'raiseEvent: the event name is empty');
    await this.sendToRunning(
      instanceId,
      newEvent(EventType.EventRaised, { Name: eventName, Input: dataJson }),
      'raise an event on',
    );
  }

  async terminate(instanceId: string, reason: string): Promise<void> {
    await this.sendToRunning(
      instanceId,
      newEvent(EventType.ExecutionTerminated, { Input: reason }),
      'terminate',
    );
  }

  /** Queues the event if the instance exists and has not ended (checked in the same statement). */
  private async sendToRunning(instanceId: string, event: HistoryEvent, what: string): Promise<void> {
    const [outcome] = await this.store.sendToRunning([{ instanceId, executionId: null, event }]);
    if (!outcome?.queued) throw notRunning(instanceId, outcome?.runtimeStatus, what);
    this.dispatcher.markReady([instanceId]);
  }

  async purge(instanceId: string): Promise<number> {
    return this.store.purgeInstance(instanceId);
  }

  async purgeBy(filter: InstanceFilter): Promise<number> {
    return this.store.purgeInstances(filter);
  }

  async getHistory(instanceId: string): Promise<HistoryEvent[]> {
    return this.store.getHistory(instanceId);
  }

  /** Waits until the instance is Completed, Failed, Terminated or Canceled. */
  async waitForCompletion(instanceId: string, timeoutMs = 30_000): Promise<OrchestrationStatus> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await this.getStatus(instanceId);
      if (s && isTerminal(s.runtimeStatus)) return s;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new DevHostError(
          'timeout',
          `Instance '${instanceId}' did not finish within ${timeoutMs} ms (status: ${s ? s.runtimeStatus : 'not found'}` +
            `${s?.customStatus !== undefined && s?.customStatus !== null ? `, custom status ${JSON.stringify(s.customStatus)}` : ''}).`,
        );
      }
      // Woken by this process's dispatcher; the poll covers work done by other processes.
      await this.dispatcher.waitForChange(instanceId, Math.min(left, 250));
    }
  }
}

/** Why an event was not queued: no such instance (404), or it has ended (410), as the extension answers. */
function notRunning(instanceId: string, status: string | undefined, what: string): DevHostError {
  if (status === undefined)
    return new DevHostError('not-found', `No instance with ID '${instanceId}' to ${what}`);
  return new DevHostError('gone', `Cannot ${what} instance '${instanceId}': it is already ${status}`);
}

export function validateInstanceId(id: string): void {
  // Azure Storage provider rules (the instance id becomes a table/partition key).
  const control = [...id].some((ch) => {
    const c = ch.charCodeAt(0);
    return c < 0x20 || (c >= 0x7f && c <= 0x9f);
  });
  if (!id || id.length > 256 || /[/\\#?]/.test(id) || control || id.startsWith('@')) {
    throw new DevHostError(
      'bad-request',
      `Invalid instance ID '${id}': use 1-256 characters without / \\ # ? or control characters, not starting with @`,
    );
  }
}

/** The extension's DurableClient.ParseToJToken: JSON if the (trimmed) text is JSON, else the text itself. */
function parseJson(text: string | null | undefined): unknown {
  if (text === null || text === undefined) return null;
  const value = text.trim();
  if (value === '') return '';
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

/** The extension formats timestamps without fractions: yyyy-MM-ddTHH:mm:ssZ. */
function isoSeconds(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function toStatus(r: InstanceRecord, showInput: boolean): OrchestrationStatus {
  return {
    name: r.name,
    instanceId: r.instanceId,
    runtimeStatus: r.runtimeStatus,
    input: showInput ? parseJson(r.input) : null,
    customStatus: parseJson(r.customStatus),
    output: parseJson(r.output),
    createdTime: isoSeconds(r.createdAt),
    lastUpdatedTime: isoSeconds(r.updatedAt),
  };
}

/**
 * History the way the extension shows it in getStatus(showHistory) (DurableClient.GetDurableOrchestrationStatusAsync):
 * event types by name; TaskScheduled / SubOrchestrationInstanceCreated merged into their completion
 * (FunctionName, ScheduledTime, Input) and kept as they are while still pending; timers and every
 * other event kept; OrchestratorStarted/Completed, EventId and IsPlayed left out; inputs (raw JSON
 * text) unless showInput is false; results (parsed) only with showHistoryOutput.
 */
export function friendlyHistory(
  history: readonly HistoryEvent[],
  showHistoryOutput: boolean,
  showInput = true,
): Record<string, unknown>[] {
  const scheduled = new Map<string, { index: number; event: HistoryEvent }>();
  const merged = new Set<number>();
  const items: Record<string, unknown>[] = [];
  const mergeScheduled = (prefix: string, e: HistoryEvent, item: Record<string, unknown>) => {
    const s = scheduled.get(`${prefix}_${e.TaskScheduledId}`);
    if (s) {
      item.ScheduledTime = s.event.Timestamp;
      item.FunctionName = s.event.Name;
      if (showInput) item.Input = s.event.Input;
      merged.add(s.index);
    }
    delete item.TaskScheduledId;
  };
  history.forEach((e, index) => {
    const item: Record<string, unknown> = { ...e, EventType: eventTypeName(e.EventType) };
    switch (e.EventType) {
      case EventType.TaskScheduled:
      case EventType.SubOrchestrationInstanceCreated:
        scheduled.set(`${eventTypeName(e.EventType)}_${e.EventId}`, { index, event: e });
        delete item.Version;
        break;
      case EventType.TaskCompleted:
      case EventType.TaskFailed:
      case EventType.SubOrchestrationInstanceCompleted:
      case EventType.SubOrchestrationInstanceFailed: {
        const task = e.EventType === EventType.TaskCompleted || e.EventType === EventType.TaskFailed;
        mergeScheduled(task ? 'TaskScheduled' : 'SubOrchestrationInstanceCreated', e, item);
        const completed =
          e.EventType === EventType.TaskCompleted ||
          e.EventType === EventType.SubOrchestrationInstanceCompleted;
        if (completed && !showHistoryOutput) delete item.Result;
        else if (completed) item.Result = parseJson(e.Result);
        break;
      }
      case EventType.ExecutionStarted:
        item.FunctionName = e.Name;
        delete item.Name;
        delete item.OrchestrationInstance;
        delete item.ParentInstance;
        delete item.Version;
        break;
      case EventType.ExecutionCompleted:
        if (showHistoryOutput) item.Result = parseJson(e.Result);
        else delete item.Result;
        break;
      case EventType.TimerFired:
        delete item.TimerId;
        break;
      case EventType.OrchestratorStarted:
      case EventType.OrchestratorCompleted:
        merged.add(index);
        break;
      default:
        break;
    }
    if (!showInput) delete item.Input;
    delete item.EventId;
    delete item.IsPlayed;
    items.push(item);
  });
  return items.filter((_, i) => !merged.has(i));
}
