// Runs activity functions with bounded concurrency (host.json maxConcurrentActivityFunctions) and
// records their results in batches: completions that finish while a batch is being written go into
// the next one, so a wide fan-out costs a few store round trips, not one per activity.
import { errorMessage } from './devHostError';
import type { FunctionInvoker } from './functionInvoker';
import { EventType, newEvent, type HistoryEvent } from './historyEvents';
import { findRegistration, type Registration } from './loadApp';
import type { Logger } from './logger';
import type { OutputBindings } from './outputBindings';
import { rpcToJsonText } from './rpcData';
import type { ActivityCompletion, ActivityWorkItem, InstanceStore } from './store/instanceStore';
import { untraced } from './untraced';

export interface ActivityRunnerOptions {
  store: InstanceStore;
  invoker: FunctionInvoker;
  registrations: Map<string, Registration>;
  outputs: OutputBindings;
  logger: Logger;
  maxConcurrency: number;
  /** How often to look for work released by dead hosts (0: never; the memory store needs none). */
  pollIntervalMs: number;
  onCompleted(instanceIds: string[]): void;
}

export interface ActivityStats {
  started: number;
  /** Invocations per activity function name (what a critical path costs in activity calls). */
  byFunction: Record<string, number>;
  completed: number;
  failed: number;
  flushes: number;
}

export class ActivityRunner {
  readonly stats: ActivityStats = { started: 0, byFunction: {}, completed: 0, failed: 0, flushes: 0 };
  private queue: ActivityWorkItem[] = [];
  private head = 0;
  private active = new Set<ActivityWorkItem>();
  private completions: ActivityCompletion[] = [];
  private flushing: Promise<void> | undefined;
  private flushQueued = false;
  private pollTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  /** After stop(): results of stragglers are dropped (their work stays claimed and is redone). */
  private closed = false;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly o: ActivityRunnerOptions) {
    // The host's own work (claims, completions) is not the app's telemetry (./untraced); an app's
    // spans that name their parent (an activity of a job) start from the root context.
    const poll = this.poll.bind(this);
    const flush = this.flush.bind(this);
    const execute = this.execute.bind(this);
    this.poll = () => untraced(poll);
    this.flush = () => untraced(flush);
    this.execute = (item) => untraced(() => execute(item));
  }

  start(): void {
    if (this.o.pollIntervalMs > 0) {
      const loop = (): void => {
        void this.poll().finally(() => {
          if (this.stopping) return;
          this.pollTimer = setTimeout(loop, this.o.pollIntervalMs);
          this.pollTimer.unref?.();
        });
      };
      loop();
    }
  }

  /** Stops taking work, waits up to graceMs for running activities, gives queued work back. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    clearTimeout(this.pollTimer);
    const queued = this.queue.slice(this.head);
    this.queue = [];
    this.head = 0;
    if (this.active.size) {
      await Promise.race([new Promise<void>((r) => this.idleWaiters.push(r)), sleep(graceMs)]);
    }
    await this.flushNow();
    const abandoned = [...queued, ...this.active];
    if (abandoned.length) {
      await this.o.store.releaseActivities(abandoned).catch((err) => {
        this.o.logger.warn(`could not release ${abandoned.length} activity work items: ${errorMessage(err)}`);
      });
    }
    this.closed = true;
  }

  enqueue(items: ActivityWorkItem[]): void {
    if (this.stopping) return;
    for (const i of items) this.queue.push(i);
    this.pump();
  }

  get backlog(): number {
    return this.queue.length - this.head + this.active.size;
  }

  private pump(): void {
    while (!this.stopping && this.active.size < this.o.maxConcurrency && this.head < this.queue.length) {
      const item = this.queue[this.head++]!;
      this.active.add(item);
      void this.execute(item);
    }
    if (this.head > 4096 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  private async execute(item: ActivityWorkItem): Promise<void> {
    this.stats.started++;
    this.stats.byFunction[item.name] = (this.stats.byFunction[item.name] ?? 0) + 1;
    let event: HistoryEvent;
    try {
      event = await this.invoke(item);
    } catch (err) {
      // Only host bugs land here; the activity itself is reported through TaskFailed.
      event = failed(
        item,
        `Activity function '${item.name}' failed: dev host error: ${errorMessage(err)}`,
        '',
      );
    }
    if (event.EventType === EventType.TaskFailed) this.stats.failed++;
    else this.stats.completed++;
    this.active.delete(item);
    this.completions.push({ workItem: item, event });
    this.queueFlush();
    this.pump();
    if (this.active.size === 0) for (const f of this.idleWaiters.splice(0)) f();
  }

  private async invoke(item: ActivityWorkItem): Promise<HistoryEvent> {
    // The name is as the orchestrator called it; Azure resolves it case-insensitively.
    const reg = findRegistration(this.o.registrations, item.name);
    if (!reg || reg.kind !== 'activity') {
      return failed(
        item,
        `The function '${item.name}' doesn't exist, is disabled, or is not an activity function.`,
        '',
      );
    }
    const value: unknown = JSON.parse(item.input);
    // The extension passes the activity input as a string; the worker JSON-parses it again.
    const data =
      value === null ? undefined : { string: typeof value === 'string' ? value : JSON.stringify(value) };
    const res = await this.o.invoker.invoke(reg.name, [
      { name: reg.triggerBinding, data },
      ...this.o.outputs.extraInputs(reg),
    ]);
    if (!res.ok) {
      return failed(
        item,
        `Activity function '${item.name}' failed: ${res.error.message}`,
        JSON.stringify({ message: res.error.message, stack: res.error.stack }),
      );
    }
    try {
      await this.o.outputs.write(reg, res.response);
    } catch (err) {
      return failed(
        item,
        `Activity function '${item.name}' failed writing its output bindings: ${errorMessage(err)}`,
        '',
      );
    }
    return newEvent(EventType.TaskCompleted, {
      TaskScheduledId: item.taskId,
      Result: rpcToJsonText(res.response.returnValue),
    });
  }

  private queueFlush(): void {
    if (this.flushQueued || this.closed) return;
    this.flushQueued = true;
    // One macrotask later: everything that completes in this turn goes into the same batch.
    setImmediate(() => {
      this.flushQueued = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.flushing || this.closed) return;
    if (!this.completions.length) return;
    const batch = this.completions;
    this.completions = [];
    this.flushing = (async () => {
      try {
        const ids = await this.o.store.completeActivities(batch);
        this.stats.flushes++;
        this.o.onCompleted(ids);
      } catch (err) {
        this.o.logger.error(
          `recording ${batch.length} activity results failed, retrying: ${errorMessage(err)}`,
        );
        this.completions = batch.concat(this.completions);
        await sleep(200);
      }
    })();
    await this.flushing;
    this.flushing = undefined;
    if (this.completions.length) this.queueFlush();
  }

  private async flushNow(): Promise<void> {
    for (let i = 0; i < 20 && (this.flushing || this.completions.length); i++) {
      if (this.flushing) await this.flushing;
      else await this.flush();
    }
  }

  private async poll(): Promise<void> {
    if (this.stopping) return;
    try {
      await this.o.store.reapOrphans();
      const room = this.o.maxConcurrency * 2 - this.backlog;
      if (room > 0) {
        const items = await this.o.store.claimActivities(room);
        if (items.length) this.enqueue(items);
      }
    } catch (err) {
      this.o.logger.warn(`polling for activity work failed: ${errorMessage(err)}`);
    }
  }

  /** Claims work now (used at startup and when another host signals released work). */
  wake(): void {
    void this.poll();
  }
}

function failed(item: ActivityWorkItem, reason: string, details: string): HistoryEvent {
  return newEvent(EventType.TaskFailed, { TaskScheduledId: item.taskId, Reason: reason, Details: details });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
