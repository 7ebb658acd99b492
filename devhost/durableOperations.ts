// Instance management shared by the Durable HTTP management API and the programmatic DevHost API:
// start, status, list, raise event, terminate, purge, wait.
import { randomUUID } from 'node:crypto';
import { DevHostError } from './devHostError';
import { EventType, isTerminal, newEvent, type HistoryEvent, type RuntimeStatus } from './historyEvents';
import type { Registration } from './loadApp';
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
    const reg = this.registrations.get(name);
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
    const status = toStatus(r, options.showInput !== false);
    if (options.showHistory) {
      status.historyEvents = friendlyHistory(
        await this.store.getHistory(instanceId),
        options.showHistoryOutput === true,
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
    const r = await this.requireRunning(instanceId, 'raise an event on');
    await this.store.enqueueEvents([
      {
        instanceId: r.instanceId,
        executionId: null,
        event: newEvent(EventType.EventRaised, { Name: eventName, Input: dataJson }),
      },
    ]);
    this.dispatcher.markReady([instanceId]);
  }

  async terminate(instanceId: string, reason: string): Promise<void> {
    const r = await this.requireRunning(instanceId, 'terminate');
    await this.store.enqueueEvents([
      {
        instanceId: r.instanceId,
        executionId: null,
        event: newEvent(EventType.ExecutionTerminated, { Input: reason }),
      },
    ]);
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

  private async requireRunning(instanceId: string, what: string): Promise<InstanceRecord> {
    const r = await this.store.getInstance(instanceId);
    if (!r) throw new DevHostError('not-found', `No instance with ID '${instanceId}' to ${what}`);
    if (isTerminal(r.runtimeStatus)) {
      throw new DevHostError(
        'gone',
        `Cannot ${what} instance '${instanceId}': it is already ${r.runtimeStatus}`,
      );
    }
    return r;
  }
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

function parseJson(text: string | null | undefined): unknown {
  if (text === null || text === undefined) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
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

/** History the way the extension shows it in getStatus(showHistory): scheduling merged into results. */
export function friendlyHistory(history: HistoryEvent[], withOutput: boolean): Record<string, unknown>[] {
  const scheduled = new Map<number, HistoryEvent>();
  const out: Record<string, unknown>[] = [];
  for (const e of history) {
    const type = e.EventType;
    const base = (name: string): Record<string, unknown> => ({ EventType: name, Timestamp: e.Timestamp });
    switch (type) {
      case EventType.TaskScheduled:
      case EventType.SubOrchestrationInstanceCreated:
      case EventType.TimerCreated:
        scheduled.set(e.EventId, e);
        break;
      case EventType.ExecutionStarted:
        out.push({
          ...base('ExecutionStarted'),
          FunctionName: e.Name,
          ...(withOutput ? { Input: parseJson(e.Input) } : {}),
        });
        break;
      case EventType.TaskCompleted:
      case EventType.TaskFailed:
      case EventType.SubOrchestrationInstanceCompleted:
      case EventType.SubOrchestrationInstanceFailed: {
        const s = scheduled.get(e.TaskScheduledId ?? -1);
        const name =
          type === EventType.TaskCompleted
            ? 'TaskCompleted'
            : type === EventType.TaskFailed
              ? 'TaskFailed'
              : type === EventType.SubOrchestrationInstanceCompleted
                ? 'SubOrchestrationInstanceCompleted'
                : 'SubOrchestrationInstanceFailed';
        out.push({
          ...base(name),
          FunctionName: s?.Name,
          ...(s?.InstanceId ? { InstanceId: s.InstanceId } : {}),
          ScheduledTime: s?.Timestamp,
          ...(e.Reason !== undefined ? { Reason: e.Reason, Details: e.Details } : {}),
          ...(withOutput && e.Result !== undefined ? { Result: parseJson(e.Result) } : {}),
        });
        break;
      }
      case EventType.TimerFired:
        out.push({ ...base('TimerFired'), FireAt: e.FireAt });
        break;
      case EventType.EventRaised:
        out.push({
          ...base('EventRaised'),
          Name: e.Name,
          ...(withOutput ? { Input: parseJson(e.Input) } : {}),
        });
        break;
      case EventType.ExecutionTerminated:
        out.push({ ...base('ExecutionTerminated'), Input: e.Input });
        break;
      case EventType.ExecutionCompleted:
        out.push({
          ...base('ExecutionCompleted'),
          OrchestrationStatus: e.OrchestrationStatus,
          ...(withOutput ? { Result: parseJson(e.Result) } : {}),
        });
        break;
      default:
        break;
    }
  }
  return out;
}
