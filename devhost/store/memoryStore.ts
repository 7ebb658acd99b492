// In-memory InstanceStore: the semantics of PostgresStore without durability. One process, so an
// instance "lock" is a flag; everything else is plain maps.
import { DevHostError } from '../devHostError';
import { isTerminal, type HistoryEvent } from '../historyEvents';
import {
  executionStartedEvent,
  matchesFilter,
  purgeStatuses,
  type ActivityCompletion,
  type ActivityWorkItem,
  type ChildStart,
  type CommitResult,
  type CreateInstanceRequest,
  type EpisodeClaim,
  type EpisodeCommit,
  type EventMessage,
  type InstanceFilter,
  type InstancePage,
  type InstanceRecord,
  type InstanceStore,
  type QueuedEvent,
  type SendOutcome,
} from './instanceStore';

interface MemEvent extends QueuedEvent {
  visibleAt: number;
}

interface MemInstance {
  record: InstanceRecord;
  history: HistoryEvent[];
  inbox: MemEvent[];
  locked: boolean;
}

export class MemoryStore implements InstanceStore {
  readonly kind = 'memory' as const;
  private readonly instances = new Map<string, MemInstance>();
  private readonly work = new Map<string, ActivityWorkItem & { owned: boolean }>();
  /** Future-visible events as [visibleAt, instanceId], a binary min-heap. */
  private readonly timers: [number, string][] = [];
  private seq = 0;

  async init(): Promise<void> {}
  async close(): Promise<void> {}
  onExternalWork(): void {}

  async createInstance(req: CreateInstanceRequest): Promise<'created' | 'replaced'> {
    const r = this.create(req, null, new Date());
    if (r === 'conflict') {
      throw new DevHostError(
        'conflict',
        `An orchestration with instance ID '${req.instanceId}' already exists and is not finished.`,
      );
    }
    return r;
  }

  private create(
    req: CreateInstanceRequest,
    parent: ChildStart['parent'] | null,
    now: Date,
  ): 'created' | 'replaced' | 'conflict' {
    const existing = this.instances.get(req.instanceId);
    if (existing && !isTerminal(existing.record.runtimeStatus)) return 'conflict';
    if (existing) this.dropWork(req.instanceId);
    const record: InstanceRecord = {
      instanceId: req.instanceId,
      name: req.name,
      version: req.version,
      executionId: req.executionId,
      runtimeStatus: 'Pending',
      input: req.input,
      output: null,
      customStatus: null,
      parentInstanceId: parent?.instanceId ?? null,
      parentExecutionId: parent?.executionId ?? null,
      parentTaskId: parent?.taskId ?? null,
      parentName: parent?.name ?? null,
      historyLength: 0,
      createdAt: now,
      updatedAt: now,
      completedAt: null,
    };
    // A replaced instance starts unlocked: a still-running episode of the old one commits nowhere.
    const inst: MemInstance = { record, history: [], inbox: [], locked: false };
    this.instances.set(req.instanceId, inst);
    this.push(inst, {
      instanceId: req.instanceId,
      executionId: req.executionId,
      event: executionStartedEvent(req, parent, now),
    });
    return existing ? 'replaced' : 'created';
  }

  private push(inst: MemInstance, m: EventMessage): void {
    const visibleAt = m.visibleAt?.getTime() ?? 0;
    inst.inbox.push({ id: String(++this.seq), executionId: m.executionId, event: m.event, visibleAt });
    if (visibleAt > Date.now()) heapPush(this.timers, [visibleAt, inst.record.instanceId]);
  }

  async sendToRunning(messages: EventMessage[]): Promise<SendOutcome[]> {
    return messages.map((m) => {
      const inst = this.instances.get(m.instanceId);
      if (!inst) return { queued: false };
      if (isTerminal(inst.record.runtimeStatus))
        return { queued: false, runtimeStatus: inst.record.runtimeStatus };
      this.push(inst, { instanceId: m.instanceId, executionId: null, event: m.event });
      return { queued: true };
    });
  }

  async claimEpisode(instanceId: string): Promise<EpisodeClaim | undefined> {
    const inst = this.instances.get(instanceId);
    if (!inst || inst.locked) return undefined;
    const now = Date.now();
    const events = inst.inbox.filter((e) => e.visibleAt <= now);
    if (events.length === 0) return undefined;
    inst.locked = true;
    let open = true;
    return {
      instance: { ...inst.record },
      events: events.map(({ id, executionId, event }) => ({ id, executionId, event })),
      loadHistory: async () => inst.history,
      commit: async (c) => {
        if (!open) throw new DevHostError('internal', 'episode already finished');
        open = false;
        try {
          return this.applyCommit(inst, c);
        } finally {
          inst.locked = false;
        }
      },
      abandon: async () => {
        open = false;
        inst.locked = false;
      },
    };
  }

  private applyCommit(inst: MemInstance, c: EpisodeCommit): CommitResult {
    const now = new Date();
    if (this.instances.get(inst.record.instanceId) !== inst) {
      // Purged (or replaced) while the episode ran: its results go nowhere.
      return { activities: [], readyInstances: [], droppedChildren: [] };
    }
    const consumed = new Set(c.consumedEventIds);
    inst.inbox = inst.inbox.filter((e) => !consumed.has(e.id));
    if (c.historyReset) inst.history = [];
    if (c.historyAppend.length) inst.history = inst.history.concat(c.historyAppend);
    const r = inst.record;
    r.runtimeStatus = c.instance.runtimeStatus;
    r.executionId = c.instance.executionId;
    r.input = c.instance.input;
    r.output = c.instance.output;
    if (c.instance.customStatus !== undefined) r.customStatus = c.instance.customStatus;
    r.completedAt = c.instance.completedAt;
    r.historyLength = c.instance.historyLength;
    if (c.instance.createdAt) r.createdAt = c.instance.createdAt;
    r.updatedAt = now;
    const activities: ActivityWorkItem[] = c.activities.map((a) => {
      const item = { id: String(++this.seq), lease: 'memory', instanceId: r.instanceId, ...a };
      this.work.set(item.id, { ...item, owned: true });
      return item;
    });
    const ready = new Set<string>();
    const messages = [...c.messages];
    const droppedChildren: ChildStart[] = [];
    for (const child of c.children) {
      const outcome = this.create(
        {
          instanceId: child.instanceId,
          name: child.name,
          version: child.version,
          executionId: newExecutionId(),
          input: child.input,
        },
        child.parent,
        now,
      );
      if (outcome === 'conflict') droppedChildren.push(child);
      else ready.add(child.instanceId);
    }
    for (const m of messages) {
      const target = this.instances.get(m.instanceId);
      if (!target) continue;
      this.push(target, m);
      if (!m.visibleAt || m.visibleAt.getTime() <= Date.now()) ready.add(m.instanceId);
    }
    return { activities, readyInstances: [...ready], droppedChildren };
  }

  async findReadyInstances(limit: number): Promise<string[]> {
    const now = Date.now();
    const ready = new Set<string>();
    while (this.timers.length && this.timers[0]![0] <= now) ready.add(heapPop(this.timers)![1]);
    if (ready.size < limit) {
      for (const [id, inst] of this.instances) {
        if (ready.size >= limit) break;
        if (!inst.locked && inst.inbox.some((e) => e.visibleAt <= now)) ready.add(id);
      }
    }
    return [...ready].slice(0, limit);
  }

  async nextVisibleAt(): Promise<Date | undefined> {
    const top = this.timers[0];
    return top ? new Date(top[0]) : undefined;
  }

  async claimActivities(limit: number): Promise<ActivityWorkItem[]> {
    const out: ActivityWorkItem[] = [];
    for (const item of this.work.values()) {
      if (out.length >= limit) break;
      if (item.owned) continue;
      item.owned = true;
      const { owned: _owned, ...w } = item;
      out.push(w);
    }
    return out;
  }

  async completeActivities(batch: ActivityCompletion[]): Promise<string[]> {
    const ready = new Set<string>();
    for (const { workItem, event } of batch) {
      if (!this.work.delete(workItem.id)) continue;
      const inst = this.instances.get(workItem.instanceId);
      if (!inst) continue;
      this.push(inst, { instanceId: workItem.instanceId, executionId: workItem.executionId, event });
      ready.add(workItem.instanceId);
    }
    return [...ready];
  }

  async releaseActivities(items: ActivityWorkItem[]): Promise<void> {
    for (const i of items) {
      const w = this.work.get(i.id);
      if (w) w.owned = false;
    }
  }

  async reapOrphans(): Promise<number> {
    return 0;
  }

  async getInstance(instanceId: string): Promise<InstanceRecord | undefined> {
    const inst = this.instances.get(instanceId);
    return inst ? { ...inst.record } : undefined;
  }

  async listInstances(filter: InstanceFilter, top: number, continuation?: string): Promise<InstancePage> {
    const all = [...this.instances.values()]
      .map((i) => i.record)
      .filter((r) => matchesFilter(r, filter))
      .sort(
        (a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.instanceId.localeCompare(b.instanceId),
      );
    const start = continuation ? Number(continuation) || 0 : 0;
    const items = all.slice(start, start + top).map((r) => ({ ...r }));
    return { items, continuation: start + top < all.length ? String(start + top) : undefined };
  }

  async getHistory(instanceId: string): Promise<HistoryEvent[]> {
    return [...(this.instances.get(instanceId)?.history ?? [])];
  }

  async purgeInstance(instanceId: string): Promise<number> {
    if (!this.instances.delete(instanceId)) return 0;
    this.dropWork(instanceId);
    return 1;
  }

  async purgeInstances(filter: InstanceFilter): Promise<number> {
    const f = { ...filter, runtimeStatus: purgeStatuses(filter.runtimeStatus) };
    let n = 0;
    for (const [id, inst] of [...this.instances]) {
      if (matchesFilter(inst.record, f)) n += await this.purgeInstance(id);
    }
    return n;
  }

  private dropWork(instanceId: string): void {
    for (const [id, w] of this.work) if (w.instanceId === instanceId) this.work.delete(id);
  }
}

export function newExecutionId(): string {
  return crypto.randomUUID().replace(/-/g, '');
}

function heapPush(h: [number, string][], v: [number, string]): void {
  h.push(v);
  let i = h.length - 1;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (h[p]![0] <= h[i]![0]) break;
    [h[p], h[i]] = [h[i]!, h[p]!];
    i = p;
  }
}

function heapPop(h: [number, string][]): [number, string] | undefined {
  const top = h[0];
  const last = h.pop();
  if (h.length && last) {
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && h[l]![0] < h[m]![0]) m = l;
      if (r < h.length && h[r]![0] < h[m]![0]) m = r;
      if (m === i) break;
      [h[m], h[i]] = [h[i]!, h[m]!];
      i = m;
    }
  }
  return top;
}
