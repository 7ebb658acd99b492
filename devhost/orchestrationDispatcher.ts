// Runs orchestration episodes: one at a time per instance, up to maxConcurrentOrchestratorFunctions
// instances at once. Everything visible for an instance goes into one episode (completions are
// batched), and while a wide fan-out is still running the next episode waits a little so replay CPU
// stays a bounded share of the time.
import { errorMessage } from './devHostError';
import { EventType, isTerminal, newEvent, type HistoryEvent } from './historyEvents';
import type { Logger } from './logger';
import { runEpisode, type EpisodeContext } from './orchestrationEpisode';
import { describeTask } from './describeTask';
import type { ActivityWorkItem, EpisodeClaim, InstanceStore } from './store/instanceStore';
import { untraced } from './untraced';

type TaskLike = Parameters<typeof describeTask>[0] & { id: number };

export interface DispatcherOptions {
  store: InstanceStore;
  episode: EpisodeContext;
  logger: Logger;
  maxConcurrency: number;
  /** Safety-net scan for work this process was not told about (other processes, restarts). */
  pollIntervalMs: number;
  onActivities(items: ActivityWorkItem[]): void;
}

export interface DispatcherStats {
  episodes: number;
  invocations: number;
  /** Wall time spent inside orchestrator invocations (SDK replay + user code), ms. */
  invocationMs: number;
  /** CPU time (user+system) spent in episodes, ms. */
  episodeCpuMs: number;
  failedEpisodes: number;
  /**
   * Orchestrator executions that returned (or threw) while tasks were still open, so the instance
   * stayed Running until they finished (as on Azure). Test mode warns about each; the first 100 are
   * listed here.
   */
  openTaskReturns: OpenTaskReturn[];
}

export interface OpenTaskReturn {
  instanceId: string;
  executionId: string;
  name: string;
  /** The open tasks when the orchestrator first returned, e.g. "activity 'slow' (id 1)". */
  tasks: string[];
}

interface CacheEntry {
  executionId: string;
  events: HistoryEvent[];
  played: string;
}

// While a fan-out is still running, the next episode of that instance waits lingerFactor × the last
// episode's duration (at most maxLingerMs): replay then takes at most 1/(1+lingerFactor) of the time
// and each replay takes in more results. A single pending task (a chain) never waits.
const lingerFactor = 1.5;
const maxLingerMs = 250;
const maxCacheEntries = 2000;

export class OrchestrationDispatcher {
  readonly stats: DispatcherStats = {
    episodes: 0,
    invocations: 0,
    invocationMs: 0,
    episodeCpuMs: 0,
    failedEpisodes: 0,
    openTaskReturns: [],
  };
  private readonly reportedOpenTasks = new Set<string>();
  private readonly ready = new Set<string>();
  private readonly running = new Set<string>();
  private readonly notBefore = new Map<string, number>();
  private readonly cache = new Map<string, CacheEntry>();
  private readonly errors = new Map<string, number>();
  private readonly inflight = new Set<Promise<void>>();
  private readonly changeWaiters = new Map<string, Set<() => void>>();
  private pumpQueued = false;
  private deferTimer: NodeJS.Timeout | undefined;
  private wakeTimer: NodeJS.Timeout | undefined;
  private wakeAt = Infinity;
  private pollTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly o: DispatcherOptions) {
    // The host's own work (store reads and writes, replays) is not the app's telemetry (./untraced).
    const scan = this.scan.bind(this);
    this.scan = () => untraced(scan);
  }

  start(): void {
    void this.scan();
    const loop = () => {
      this.pollTimer = setTimeout(() => {
        void this.scan().finally(() => !this.stopped && loop());
      }, this.o.pollIntervalMs);
      this.pollTimer.unref?.();
    };
    loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.pollTimer);
    clearTimeout(this.wakeTimer);
    clearTimeout(this.deferTimer);
    await Promise.allSettled([...this.inflight]);
    for (const set of this.changeWaiters.values()) for (const f of set) f();
    this.changeWaiters.clear();
  }

  markReady(instanceIds: Iterable<string>): void {
    let any = false;
    for (const id of instanceIds) {
      this.ready.add(id);
      any = true;
    }
    if (any) this.schedulePump();
  }

  /** Resolves when the instance changes in this process (or after the timeout). */
  waitForChange(instanceId: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      let set = this.changeWaiters.get(instanceId);
      if (!set) this.changeWaiters.set(instanceId, (set = new Set()));
      const done = () => {
        clearTimeout(t);
        set!.delete(done);
        resolve();
      };
      const t = setTimeout(done, timeoutMs);
      set.add(done);
    });
  }

  /** Arms the wake-up for the next durable timer. */
  armTimer(at: Date | undefined): void {
    if (!at || this.stopped) return;
    const ms = at.getTime();
    if (ms >= this.wakeAt) return;
    clearTimeout(this.wakeTimer);
    this.wakeAt = ms;
    // setTimeout cannot wait more than ~24 days; wake up hourly and look again.
    const delay = Math.min(Math.max(0, ms - Date.now()), 3_600_000);
    this.wakeTimer = setTimeout(() => {
      this.wakeAt = Infinity;
      void this.scan();
    }, delay);
  }

  private async scan(): Promise<void> {
    if (this.stopped) return;
    try {
      this.markReady(await this.o.store.findReadyInstances(500));
      this.armTimer(await this.o.store.nextVisibleAt());
    } catch (err) {
      this.o.logger.warn(`scanning for orchestration work failed: ${errorMessage(err)}`);
    }
  }

  private schedulePump(): void {
    if (this.pumpQueued || this.stopped) return;
    this.pumpQueued = true;
    setImmediate(() => {
      this.pumpQueued = false;
      this.pump();
    });
  }

  private pump(): void {
    if (this.stopped) return;
    const now = Date.now();
    let earliest = Infinity;
    for (const id of this.ready) {
      if (this.running.size >= this.o.maxConcurrency) break;
      if (this.running.has(id)) continue;
      const nb = this.notBefore.get(id);
      if (nb !== undefined && nb > now) {
        earliest = Math.min(earliest, nb);
        continue;
      }
      this.ready.delete(id);
      this.running.add(id);
      const p: Promise<void> = this.runOne(id).finally(() => {
        this.running.delete(id);
        this.inflight.delete(p);
        this.schedulePump();
      });
      this.inflight.add(p);
    }
    if (earliest < Infinity) {
      clearTimeout(this.deferTimer);
      this.deferTimer = setTimeout(() => this.schedulePump(), Math.max(1, earliest - now));
    }
  }

  private async runOne(instanceId: string): Promise<void> {
    let claim: EpisodeClaim | undefined;
    try {
      claim = await this.o.store.claimEpisode(instanceId);
    } catch (err) {
      this.retryLater(instanceId, err, 'claiming');
      return;
    }
    if (!claim) return;
    const cpu0 = process.cpuUsage();
    const started = performance.now();
    try {
      const inst = claim.instance;
      let entry = this.cache.get(instanceId);
      if (!entry || entry.executionId !== inst.executionId || entry.events.length !== inst.historyLength) {
        const events = (await claim.loadHistory()).slice();
        entry = { executionId: inst.executionId, events, played: serializePlayed(events) };
      }
      const outcome = await runEpisode(
        {
          instance: inst,
          history: entry.events,
          playedJson: entry.played,
          events: claim.events,
          now: new Date(),
        },
        this.o.episode,
      );
      const result = await claim.commit(outcome.commit);
      claim = undefined;
      this.errors.delete(instanceId);
      this.stats.episodes++;
      if (outcome.invoked) {
        this.stats.invocations++;
        this.stats.invocationMs += outcome.invocationMs;
      }
      const status = outcome.commit.instance.runtimeStatus;
      if (isTerminal(status) || outcome.commit.historyReset) {
        this.cache.delete(instanceId);
      } else if (outcome.appended.length) {
        for (const e of outcome.appended) entry.events.push(e);
        const more = serializePlayed(outcome.appended);
        entry.played = entry.played ? `${entry.played},${more}` : more;
        this.cache.delete(instanceId); // re-insert: Map order is our LRU order
        this.cache.set(instanceId, entry);
        if (this.cache.size > maxCacheEntries) this.cache.delete(this.cache.keys().next().value!);
      }
      if (outcome.failure) this.o.logger.info(outcome.failure.split('\n')[0]!, { instanceId });
      if (outcome.openTasksAtReturn)
        this.reportOpenTasks(inst.instanceId, inst.executionId, inst.name, outcome.openTasksAtReturn);
      for (const child of result.droppedChildren) {
        // DTFx drops a duplicate ExecutionStarted: nothing fails, the parent just waits. Say so loudly.
        this.o.logger.warn(
          `Sub-orchestration '${child.name}' with instance ID '${child.instanceId}' was not started: an instance ` +
            `with that ID is already running. As on Azure (the duplicate start is dropped), '${child.parent.name}' ` +
            `(instance ${child.parent.instanceId}, task id ${child.parent.taskId}) will wait for it in vain. ` +
            'Give sub-orchestrations unique instance IDs.',
          { instanceId: child.parent.instanceId },
        );
      }
      const elapsed = performance.now() - started;
      if (outcome.pendingWork > 1 && !isTerminal(status)) {
        this.notBefore.set(instanceId, Date.now() + Math.min(elapsed * lingerFactor, maxLingerMs));
      } else {
        this.notBefore.delete(instanceId);
      }
      if (result.activities.length) this.o.onActivities(result.activities);
      this.markReady(result.readyInstances);
      this.armTimer(outcome.nextTimer);
      this.notifyChange(instanceId);
    } catch (err) {
      if (claim) await claim.abandon().catch(() => undefined);
      this.stats.failedEpisodes++;
      this.retryLater(instanceId, err, 'running an episode of');
    } finally {
      const cpu = process.cpuUsage(cpu0);
      this.stats.episodeCpuMs += (cpu.user + cpu.system) / 1000;
    }
  }

  private reportOpenTasks(
    instanceId: string,
    executionId: string,
    name: string,
    open: readonly TaskLike[],
  ): void {
    const key = `${instanceId}|${executionId}`;
    if (this.reportedOpenTasks.has(key)) return;
    // Once per execution; a long-lived host forgets old ones (at worst it warns twice).
    if (this.reportedOpenTasks.size >= 10_000) this.reportedOpenTasks.clear();
    this.reportedOpenTasks.add(key);
    const tasks = open.map((t) => `${describeTask(t)} (id ${t.id})`);
    if (this.stats.openTaskReturns.length < 100)
      this.stats.openTaskReturns.push({ instanceId, executionId, name, tasks });
    const msg =
      `Orchestrator '${name}' returned while ${tasks.length} task(s) were still open: ${tasks.join(', ')}. ` +
      'As on Azure (DTFx completes an instance only when no task is open), the instance stays Running until ' +
      'they finish. Cancel timers you created and do not leave Task.any losers running.';
    if (this.o.episode.testMode) this.o.logger.warn(msg, { instanceId });
    else this.o.logger.debug(msg, { instanceId });
  }

  private notifyChange(instanceId: string): void {
    const set = this.changeWaiters.get(instanceId);
    if (!set) return;
    for (const f of [...set]) f();
  }

  /** Store or host errors are retried with backoff; after repeated failures the instance is failed. */
  private retryLater(instanceId: string, err: unknown, what: string): void {
    const n = (this.errors.get(instanceId) ?? 0) + 1;
    this.errors.set(instanceId, n);
    this.o.logger.error(
      `dev host error ${what} instance ${instanceId} (attempt ${n}): ${errorMessage(err)}`,
      {
        err,
      },
    );
    if (this.stopped) return;
    if (n >= 5) {
      this.errors.delete(instanceId);
      void this.failInstance(
        instanceId,
        `Dev host internal error (${what} the instance failed ${n} times): ${errorMessage(err)}`,
      );
      return;
    }
    this.notBefore.set(instanceId, Date.now() + Math.min(5000, 100 * 2 ** n));
    this.markReady([instanceId]);
  }

  private async failInstance(instanceId: string, message: string): Promise<void> {
    try {
      const claim = await this.o.store.claimEpisode(instanceId);
      if (!claim) return;
      const now = new Date();
      const inst = claim.instance;
      // Stored raw, as DTFx stores a failure reason.
      const appended = [
        newEvent(EventType.ExecutionCompleted, { OrchestrationStatus: 'Failed', Result: message }, now),
      ];
      const result = await claim.commit({
        consumedEventIds: claim.events.map((e) => e.id),
        historyReset: false,
        historyAppend: appended,
        instance: {
          runtimeStatus: 'Failed',
          executionId: inst.executionId,
          input: inst.input,
          output: message,
          customStatus: undefined,
          completedAt: now,
          historyLength: inst.historyLength + appended.length,
        },
        activities: [],
        messages: inst.parentInstanceId
          ? [
              {
                instanceId: inst.parentInstanceId,
                executionId: inst.parentExecutionId,
                event: newEvent(EventType.SubOrchestrationInstanceFailed, {
                  TaskScheduledId: inst.parentTaskId ?? -1,
                  Reason: message,
                  Details: '',
                }),
              },
            ]
          : [],
        children: [],
      });
      this.cache.delete(instanceId);
      this.markReady(result.readyInstances);
      this.notifyChange(instanceId);
    } catch (err) {
      this.o.logger.error(`could not mark instance ${instanceId} as failed: ${errorMessage(err)}`);
    }
  }
}

/** History as the next episode sends it: every stored event is "played" from then on. */
function serializePlayed(events: readonly HistoryEvent[]): string {
  return events.map((e) => JSON.stringify(e.IsPlayed ? e : { ...e, IsPlayed: true })).join(',');
}
