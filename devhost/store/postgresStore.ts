// Crash-safe InstanceStore on Postgres. An episode is one transaction: the instance row is locked
// with FOR UPDATE SKIP LOCKED (another host skips it), and everything the episode produced is
// written before COMMIT. Activity work is owned by a live host (its session advisory lock); when a
// host dies, its lock vanishes with its connection and any host releases its work. LISTEN/NOTIFY
// wakes other hosts; this host hands its own work over in memory.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { DevHostError, errorMessage } from '../devHostError';
import type { HistoryEvent, RuntimeStatus } from '../historyEvents';
import type { Logger } from '../logger';
import { newExecutionId } from './memoryStore';
import {
  executionStartedEvent,
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
} from './instanceStore';
import { quoteIdent, storeDdl } from './postgresDdl';

/** Adds a server option (`-c name=value`) to a postgres:// URL; undefined for other formats. */
function withSessionOption(connectionString: string, option: string): string | undefined {
  if (!/^postgres(ql)?:\/\//i.test(connectionString)) return undefined;
  try {
    const u = new URL(connectionString);
    const existing = u.searchParams.get('options');
    u.searchParams.set('options', existing ? `${existing} ${option}` : option);
    return u.toString();
  } catch {
    return undefined;
  }
}

function newOwnerKey(): string {
  return randomBytes(8).readBigInt64BE().toString();
}

export interface PostgresStoreOptions {
  connectionString: string;
  schema: string;
  taskHub: string;
  poolSize: number;
  logger: Logger;
}

interface InstanceRow {
  instance_id: string;
  name: string;
  version: string;
  execution_id: string;
  runtime_status: string;
  input: string | null;
  output: string | null;
  custom_status: string | null;
  parent_instance_id: string | null;
  parent_execution_id: string | null;
  parent_task_id: number | null;
  parent_name: string | null;
  history_length: number;
  created_at: Date;
  updated_at: Date;
  completed_at: Date | null;
}

const terminal = `('Completed','Failed','Terminated','Canceled')`;

export class PostgresStore implements InstanceStore {
  readonly kind = 'postgres' as const;
  private pool!: pg.Pool;
  private listener: pg.Client | undefined;
  /** This host's liveness key: a session advisory lock held by the listener connection. A new key is
   * taken whenever that connection is re-established, so work claimed under a key whose session
   * died (ours included) is released by the reaper. */
  private owner: string = newOwnerKey();
  private readonly s: string;
  private readonly channel: string;
  private external: ((ids: string[], activities: boolean) => void) | undefined;
  private pendingNotify = { ids: new Set<string>(), activities: false, queued: false };
  private closed = false;
  private listenerConnectedOnce = false;
  private reconnectTimer: NodeJS.Timeout | undefined;

  constructor(private readonly o: PostgresStoreOptions) {
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,50}$/.test(o.schema)) {
      throw new DevHostError(
        'config',
        `storeSchema '${o.schema}': use letters, digits and _ (at most 51 characters)`,
      );
    }
    this.s = quoteIdent(o.schema);
    this.channel = `devhost_${o.schema.toLowerCase()}`;
  }

  private t(table: string): string {
    return `${this.s}.${table}`;
  }

  async init(): Promise<void> {
    // The host's own transitions (episodes, activity results) do not wait for the WAL flush: if the
    // Postgres server itself crashes, the last few of them are lost atomically and simply redone
    // (events come back, work is released with the dead session's key). Requests acknowledged to a
    // client (start, raise event, terminate) commit synchronously (SET LOCAL).
    const asyncCommit = withSessionOption(this.o.connectionString, '-c synchronous_commit=off');
    this.pool = new pg.Pool({
      connectionString: asyncCommit ?? this.o.connectionString,
      max: this.o.poolSize,
      application_name: 'devhost',
    });
    this.pool.on('error', (err) =>
      this.o.logger.warn(`idle Postgres connection error: ${errorMessage(err)}`),
    );
    try {
      await this.transaction(async (c) => {
        // Concurrent hosts starting at once must not race on CREATE ... IF NOT EXISTS.
        await c.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`devhost-ddl:${this.o.schema}`]);
        await c.query(storeDdl(this.o.schema));
        await c.query(
          `INSERT INTO ${this.t('meta')} (key, value) VALUES ('task_hub', $1) ON CONFLICT (key) DO NOTHING`,
          [this.o.taskHub],
        );
        const hub = await c.query<{ value: string }>(
          `SELECT value FROM ${this.t('meta')} WHERE key = 'task_hub'`,
        );
        if (hub.rows[0]?.value !== this.o.taskHub) {
          throw new DevHostError(
            'config',
            `Postgres schema '${this.o.schema}' holds task hub '${hub.rows[0]?.value}', not '${this.o.taskHub}'. ` +
              'Use another storeSchema for another task hub.',
          );
        }
      });
    } catch (err) {
      await this.pool.end().catch(() => undefined);
      if (err instanceof DevHostError) throw err;
      throw new DevHostError(
        'store',
        `Cannot prepare the Postgres store (schema ${this.o.schema}): ${errorMessage(err)}`,
        {
          cause: err,
        },
      );
    }
    await this.connectListener();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    const l = this.listener;
    this.listener = undefined;
    await l?.end().catch(() => undefined);
    await this.pool?.end().catch(() => undefined);
  }

  onExternalWork(listener: (ids: string[], activities: boolean) => void): void {
    this.external = listener;
  }

  /** LISTEN for other hosts and hold the advisory lock that proves this host is alive. */
  private async connectListener(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.o.connectionString,
      application_name: 'devhost-listener',
    });
    client.on('error', (err) => this.o.logger.warn(`Postgres listener error: ${errorMessage(err)}`));
    client.on('end', () => {
      if (this.closed || this.listener !== client) return;
      this.listener = undefined;
      this.reconnectTimer = setTimeout(() => void this.connectListener().catch(() => undefined), 1000);
    });
    client.on('notification', (n) => this.onNotification(n.payload ?? ''));
    const owner = this.listenerConnectedOnce ? newOwnerKey() : this.owner;
    try {
      await client.connect();
      await client.query(`SELECT pg_advisory_lock($1::bigint)`, [owner]);
      await client.query(`LISTEN ${quoteIdent(this.channel)}`);
    } catch (err) {
      await client.end().catch(() => undefined);
      if (!this.closed) {
        this.o.logger.warn(`Postgres listener connection failed, retrying: ${errorMessage(err)}`);
        this.reconnectTimer = setTimeout(() => void this.connectListener().catch(() => undefined), 1000);
      }
      return;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.owner = owner;
    this.listenerConnectedOnce = true;
    this.listener = client;
  }

  private onNotification(payload: string): void {
    const [sender, kind, id] = payload.split('|', 3);
    if (sender === this.owner) return;
    if (kind === 'i' && id) this.pendingNotify.ids.add(id);
    if (kind === 'a') this.pendingNotify.activities = true;
    if (this.pendingNotify.queued) return;
    this.pendingNotify.queued = true;
    setImmediate(() => {
      const p = this.pendingNotify;
      this.pendingNotify = { ids: new Set(), activities: false, queued: false };
      this.external?.([...p.ids], p.activities);
    });
  }

  private async transaction<T>(f: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const r = await f(c);
      await c.query('COMMIT');
      return r;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      c.release();
    }
  }

  async createInstance(req: CreateInstanceRequest): Promise<'created' | 'replaced'> {
    const r = await this.transaction(async (c) => {
      await c.query('SET LOCAL synchronous_commit = on');
      return this.startInstances(c, [{ req, parent: null, event: executionStartedEvent(req, null) }]);
    });
    const first = r.started[0];
    if (!first) {
      throw new DevHostError(
        'conflict',
        `An orchestration with instance ID '${req.instanceId}' already exists and is not finished.`,
      );
    }
    return first.replaced ? 'replaced' : 'created';
  }

  /**
   * Creates instances (or replaces finished ones with the same id) with their ExecutionStarted
   * events in one statement. Ids whose instance is still running are returned as conflicts.
   */
  private async startInstances(
    c: pg.ClientBase,
    items: { req: CreateInstanceRequest; parent: ChildStart['parent'] | null; event: HistoryEvent }[],
  ): Promise<{ started: { instanceId: string; replaced: boolean }[] }> {
    const rows = items.map(({ req, parent, event }) => ({
      instance_id: req.instanceId,
      name: req.name,
      version: req.version,
      execution_id: req.executionId,
      input: req.input,
      parent_instance_id: parent?.instanceId ?? null,
      parent_execution_id: parent?.executionId ?? null,
      parent_task_id: parent?.taskId ?? null,
      parent_name: parent?.name ?? null,
      event: JSON.stringify(event),
    }));
    const r = await c.query<{ instance_id: string; replaced: boolean }>(
      `WITH input AS (
         SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(instance_id text, name text, version text, execution_id text,
           input text, parent_instance_id text, parent_execution_id text, parent_task_id int, parent_name text, event text)
       ), up AS (
         INSERT INTO ${this.t('instances')} AS i (instance_id, name, version, execution_id, runtime_status, input,
           parent_instance_id, parent_execution_id, parent_task_id, parent_name, history_length, created_at, updated_at)
         SELECT instance_id, name, version, execution_id, 'Pending', input, parent_instance_id, parent_execution_id,
           parent_task_id, parent_name, 0, now(), now() FROM input
         ON CONFLICT (instance_id) DO UPDATE SET name = EXCLUDED.name, version = EXCLUDED.version,
           execution_id = EXCLUDED.execution_id, runtime_status = 'Pending', input = EXCLUDED.input, output = NULL,
           custom_status = NULL, parent_instance_id = EXCLUDED.parent_instance_id,
           parent_execution_id = EXCLUDED.parent_execution_id, parent_task_id = EXCLUDED.parent_task_id,
           parent_name = EXCLUDED.parent_name, history_length = 0, created_at = now(), updated_at = now(),
           completed_at = NULL
         WHERE i.runtime_status IN ${terminal}
         RETURNING i.instance_id, (xmax <> 0) AS replaced
       ), del_h AS (
         DELETE FROM ${this.t('history')} h USING up WHERE up.replaced AND h.instance_id = up.instance_id
       ), del_e AS (
         DELETE FROM ${this.t('new_events')} e USING up WHERE up.replaced AND e.instance_id = up.instance_id
       ), del_t AS (
         DELETE FROM ${this.t('activity_tasks')} t USING up WHERE up.replaced AND t.instance_id = up.instance_id
       ), ev AS (
         INSERT INTO ${this.t('new_events')} (instance_id, execution_id, event)
         SELECT x.instance_id, x.execution_id, x.event FROM input x JOIN up USING (instance_id)
         RETURNING instance_id
       ), ntf AS (
         SELECT pg_notify($2, $3 || '|i|' || instance_id) FROM ev
       )
       SELECT up.instance_id, up.replaced, (SELECT count(*) FROM ntf) AS notified FROM up`,
      [JSON.stringify(rows), this.channel, this.owner],
    );
    return { started: r.rows.map((x) => ({ instanceId: x.instance_id, replaced: x.replaced })) };
  }

  async enqueueEvents(messages: EventMessage[]): Promise<void> {
    if (!messages.length) return;
    await this.transaction(async (c) => {
      await c.query('SET LOCAL synchronous_commit = on');
      await this.insertEvents(c, messages);
    });
  }

  private async insertEvents(c: pg.ClientBase, messages: EventMessage[]): Promise<void> {
    await c.query(
      `WITH m AS (
         INSERT INTO ${this.t('new_events')} (instance_id, execution_id, event, visible_at)
         SELECT m.instance_id, m.execution_id, m.event, coalesce(m.visible_at, now())
         FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[]) AS m(instance_id, execution_id, event, visible_at)
         WHERE EXISTS (SELECT 1 FROM ${this.t('instances')} i WHERE i.instance_id = m.instance_id)
         RETURNING instance_id, visible_at
       )
       SELECT pg_notify($5, $6 || '|i|' || instance_id) FROM (SELECT DISTINCT instance_id FROM m WHERE visible_at <= now()) x`,
      [
        messages.map((m) => m.instanceId),
        messages.map((m) => m.executionId),
        messages.map((m) => JSON.stringify(m.event)),
        messages.map((m) => m.visibleAt ?? null),
        this.channel,
        this.owner,
      ],
    );
  }

  async claimEpisode(instanceId: string): Promise<EpisodeClaim | undefined> {
    const c = await this.pool.connect();
    let open = true;
    const finish = async (sql: 'COMMIT' | 'ROLLBACK') => {
      if (!open) return;
      open = false;
      try {
        await c.query(sql);
      } finally {
        c.release();
      }
    };
    try {
      await c.query('BEGIN');
      const r = await c.query<InstanceRow & { events: { id: string; x: string | null; e: HistoryEvent }[] }>({
        name: `devhost_claim_${this.o.schema}`,
        text: `SELECT i.*, (
           SELECT coalesce(json_agg(json_build_object('id', e.id::text, 'x', e.execution_id, 'e', e.event::json) ORDER BY e.id), '[]'::json)
           FROM ${this.t('new_events')} e WHERE e.instance_id = i.instance_id AND e.visible_at <= now()
         ) AS events
         FROM ${this.t('instances')} i WHERE i.instance_id = $1 FOR UPDATE SKIP LOCKED`,
        values: [instanceId],
      });
      const row = r.rows[0];
      if (!row || row.events.length === 0) {
        await finish('ROLLBACK');
        return undefined;
      }
      const instance = toRecord(row);
      const events: QueuedEvent[] = row.events.map((e) => ({ id: e.id, executionId: e.x, event: e.e }));
      return {
        instance,
        events,
        loadHistory: () => this.readHistory(c, instanceId, instance.executionId),
        commit: async (commit) => {
          try {
            const result = await this.applyCommit(c, instance, commit);
            await finish('COMMIT');
            return result;
          } catch (err) {
            await finish('ROLLBACK').catch(() => undefined);
            throw err;
          }
        },
        abandon: () => finish('ROLLBACK'),
      };
    } catch (err) {
      await finish('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }

  private async readHistory(
    c: pg.ClientBase | pg.Pool,
    instanceId: string,
    executionId: string,
  ): Promise<HistoryEvent[]> {
    const r = await c.query<{ events: string }>(
      `SELECT events FROM ${this.t('history')} WHERE instance_id = $1 AND execution_id = $2 ORDER BY first_seq`,
      [instanceId, executionId],
    );
    const out: HistoryEvent[] = [];
    for (const row of r.rows) for (const e of JSON.parse(row.events) as HistoryEvent[]) out.push(e);
    return out;
  }

  private async applyCommit(
    c: pg.ClientBase,
    instance: InstanceRecord,
    commit: EpisodeCommit,
  ): Promise<CommitResult> {
    const messages = [...commit.messages];
    const ready = new Set<string>();
    const droppedChildren: ChildStart[] = [];
    if (commit.children.length) {
      const now = new Date();
      const seen = new Set<string>();
      const items: { req: CreateInstanceRequest; parent: ChildStart['parent']; event: HistoryEvent }[] = [];
      for (const child of commit.children) {
        if (seen.has(child.instanceId)) {
          droppedChildren.push(child);
          continue;
        }
        seen.add(child.instanceId);
        const req: CreateInstanceRequest = {
          instanceId: child.instanceId,
          name: child.name,
          version: child.version,
          executionId: newExecutionId(),
          input: child.input,
        };
        items.push({ req, parent: child.parent, event: executionStartedEvent(req, child.parent, now) });
      }
      const r = await this.startInstances(c, items);
      const started = new Set(r.started.map((x) => x.instanceId));
      for (const item of items) {
        if (started.has(item.req.instanceId)) ready.add(item.req.instanceId);
        else droppedChildren.push(commit.children.find((ch) => ch.instanceId === item.req.instanceId)!);
      }
    }
    const ci = commit.instance;
    const firstSeq = commit.historyReset ? 0 : instance.historyLength;
    const r = await c.query<{
      activities: { id: string; x: string; t: number; n: string; in: string }[] | null;
      ready: string[] | null;
    }>({
      name: `devhost_commit_${this.o.schema}`,
      text: `WITH del AS (
         DELETE FROM ${this.t('new_events')} WHERE id = ANY($1::bigint[])
       ), reset AS (
         DELETE FROM ${this.t('history')} WHERE $2::boolean AND instance_id = $3
       ), hist AS (
         INSERT INTO ${this.t('history')} (instance_id, execution_id, first_seq, events)
         SELECT $3, $4, $5, $6::text WHERE $6::text IS NOT NULL
       ), upd AS (
         UPDATE ${this.t('instances')} SET runtime_status = $7, execution_id = $4, input = $8, output = $9,
           custom_status = CASE WHEN $10::boolean THEN $11::text ELSE custom_status END,
           completed_at = $12, history_length = $13, updated_at = now(),
           created_at = coalesce($24::timestamptz, created_at)
         WHERE instance_id = $3
       ), msg AS (
         INSERT INTO ${this.t('new_events')} (instance_id, execution_id, event, visible_at)
         SELECT m.instance_id, m.execution_id, m.event, coalesce(m.visible_at, now())
         FROM unnest($14::text[], $15::text[], $16::text[], $17::timestamptz[]) AS m(instance_id, execution_id, event, visible_at)
         WHERE m.instance_id = $3 OR EXISTS (SELECT 1 FROM ${this.t('instances')} i WHERE i.instance_id = m.instance_id)
         RETURNING instance_id, visible_at
       ), act AS (
         INSERT INTO ${this.t('activity_tasks')} (instance_id, execution_id, task_id, name, input, owner, claimed_at, attempts)
         SELECT $3, a.execution_id, a.task_id, a.name, a.input, $18::bigint, now(), 1
         FROM unnest($19::text[], $20::int[], $21::text[], $22::text[]) WITH ORDINALITY AS a(execution_id, task_id, name, input, ord)
         ORDER BY a.ord
         RETURNING id, execution_id, task_id, name, input
       ), rdy AS (
         SELECT DISTINCT instance_id FROM msg WHERE visible_at <= now()
       ), ntf AS (
         SELECT pg_notify($23, $18::text || '|i|' || instance_id) FROM rdy
       )
       SELECT (SELECT json_agg(json_build_object('id', id::text, 'x', execution_id, 't', task_id, 'n', name, 'in', input) ORDER BY id) FROM act) AS activities,
              (SELECT json_agg(instance_id) FROM rdy) AS ready,
              (SELECT count(*) FROM ntf) AS notified`,
      values: [
        commit.consumedEventIds,
        commit.historyReset,
        instance.instanceId,
        ci.executionId,
        firstSeq,
        commit.historyAppend.length ? JSON.stringify(commit.historyAppend) : null,
        ci.runtimeStatus,
        ci.input,
        ci.output,
        ci.customStatus !== undefined,
        ci.customStatus ?? null,
        ci.completedAt,
        ci.historyLength,
        messages.map((m) => m.instanceId),
        messages.map((m) => m.executionId),
        messages.map((m) => JSON.stringify(m.event)),
        messages.map((m) => m.visibleAt ?? null),
        this.owner,
        commit.activities.map((a) => a.executionId),
        commit.activities.map((a) => a.taskId),
        commit.activities.map((a) => a.name),
        commit.activities.map((a) => a.input),
        this.channel,
        ci.createdAt ?? null,
      ],
    });
    const row = r.rows[0];
    for (const id of row?.ready ?? []) ready.add(id);
    const lease = this.owner;
    const activities: ActivityWorkItem[] = (row?.activities ?? []).map((a) => ({
      id: a.id,
      lease,
      instanceId: instance.instanceId,
      executionId: a.x,
      taskId: a.t,
      name: a.n,
      input: a.in,
    }));
    return { activities, readyInstances: [...ready], droppedChildren };
  }

  async findReadyInstances(limit: number): Promise<string[]> {
    const r = await this.pool.query<{ instance_id: string }>(
      `SELECT DISTINCT instance_id FROM (
         SELECT instance_id FROM ${this.t('new_events')} WHERE visible_at <= now() ORDER BY visible_at LIMIT 10000
       ) x LIMIT $1`,
      [limit],
    );
    return r.rows.map((x) => x.instance_id);
  }

  async nextVisibleAt(): Promise<Date | undefined> {
    const r = await this.pool.query<{ at: Date | null }>(
      `SELECT min(visible_at) AS at FROM ${this.t('new_events')} WHERE visible_at > now()`,
    );
    return r.rows[0]?.at ?? undefined;
  }

  async claimActivities(limit: number): Promise<ActivityWorkItem[]> {
    const owner = this.owner;
    const r = await this.pool.query<{
      id: string;
      instance_id: string;
      execution_id: string;
      task_id: number;
      name: string;
      input: string;
    }>(
      `UPDATE ${this.t('activity_tasks')} t SET owner = $1::bigint, claimed_at = now(), attempts = t.attempts + 1
       FROM (SELECT id FROM ${this.t('activity_tasks')} WHERE owner IS NULL ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED) c
       WHERE t.id = c.id
       RETURNING t.id::text AS id, t.instance_id, t.execution_id, t.task_id, t.name, t.input`,
      [owner, limit],
    );
    const lease = owner;
    return r.rows
      .map((x) => ({
        id: x.id,
        lease,
        instanceId: x.instance_id,
        executionId: x.execution_id,
        taskId: x.task_id,
        name: x.name,
        input: x.input,
      }))
      .sort((a, b) => Number(a.id) - Number(b.id));
  }

  async completeActivities(batch: ActivityCompletion[]): Promise<string[]> {
    if (!batch.length) return [];
    const r = await this.pool.query<{ instance_id: string }>({
      name: `devhost_complete_${this.o.schema}`,
      text: `WITH r AS (
         SELECT * FROM unnest($1::bigint[], $2::text[], $5::bigint[]) WITH ORDINALITY AS r(id, event, owner, ord)
       ), done AS (
         DELETE FROM ${this.t('activity_tasks')} t USING r WHERE t.id = r.id AND t.owner = r.owner
         RETURNING t.instance_id, t.execution_id, r.event, r.ord
       ), ins AS (
         INSERT INTO ${this.t('new_events')} (instance_id, execution_id, event)
         SELECT d.instance_id, d.execution_id, d.event FROM done d
         WHERE EXISTS (SELECT 1 FROM ${this.t('instances')} i WHERE i.instance_id = d.instance_id)
         ORDER BY d.ord
         RETURNING instance_id
       )
       SELECT x.instance_id, pg_notify($4, $3::text || '|i|' || x.instance_id) FROM (SELECT DISTINCT instance_id FROM ins) x`,
      values: [
        batch.map((b) => b.workItem.id),
        batch.map((b) => JSON.stringify(b.event)),
        this.owner,
        this.channel,
        batch.map((b) => b.workItem.lease),
      ],
    });
    return r.rows.map((x) => x.instance_id);
  }

  async releaseActivities(items: ActivityWorkItem[]): Promise<void> {
    if (!items.length) return;
    await this.pool.query(
      `WITH u AS (
         UPDATE ${this.t('activity_tasks')} t SET owner = NULL, claimed_at = NULL
         FROM unnest($1::bigint[], $4::bigint[]) AS r(id, owner) WHERE t.id = r.id AND t.owner = r.owner
         RETURNING t.id
       )
       SELECT pg_notify($3, $2::text || '|a|') WHERE EXISTS (SELECT 1 FROM u)`,
      [items.map((i) => i.id), this.owner, this.channel, items.map((i) => i.lease)],
    );
  }

  async reapOrphans(): Promise<number> {
    const owners = await this.pool.query<{ owner: string }>(
      `SELECT DISTINCT owner::text AS owner FROM ${this.t('activity_tasks')} WHERE owner IS NOT NULL AND owner <> $1::bigint`,
      [this.owner],
    );
    let released = 0;
    for (const { owner } of owners.rows) {
      const c = await this.pool.connect();
      try {
        const got = await c.query<{ got: boolean }>(`SELECT pg_try_advisory_lock($1::bigint) AS got`, [
          owner,
        ]);
        if (!got.rows[0]?.got) continue; // that host is alive
        try {
          const u = await c.query(
            `UPDATE ${this.t('activity_tasks')} SET owner = NULL, claimed_at = NULL WHERE owner = $1::bigint`,
            [owner],
          );
          released += u.rowCount ?? 0;
        } finally {
          await c.query(`SELECT pg_advisory_unlock($1::bigint)`, [owner]);
        }
      } finally {
        c.release();
      }
    }
    if (released) this.o.logger.info(`released ${released} activity work items of dead hosts`);
    return released;
  }

  async getInstance(instanceId: string): Promise<InstanceRecord | undefined> {
    const r = await this.pool.query<InstanceRow>(
      `SELECT * FROM ${this.t('instances')} WHERE instance_id = $1`,
      [instanceId],
    );
    return r.rows[0] ? toRecord(r.rows[0]) : undefined;
  }

  async listInstances(filter: InstanceFilter, top: number, continuation?: string): Promise<InstancePage> {
    const offset = continuation ? Math.max(0, Number(continuation) || 0) : 0;
    const r = await this.pool.query<InstanceRow>(
      `SELECT * FROM ${this.t('instances')}
       WHERE ($1::timestamptz IS NULL OR created_at >= $1) AND ($2::timestamptz IS NULL OR created_at <= $2)
         AND ($3::text[] IS NULL OR runtime_status = ANY($3)) AND ($4::text IS NULL OR starts_with(instance_id, $4))
       ORDER BY created_at, instance_id LIMIT $5 OFFSET $6`,
      [
        filter.createdTimeFrom ?? null,
        filter.createdTimeTo ?? null,
        filter.runtimeStatus?.length ? filter.runtimeStatus : null,
        filter.instanceIdPrefix ?? null,
        top + 1,
        offset,
      ],
    );
    const items = r.rows.slice(0, top).map(toRecord);
    return { items, continuation: r.rows.length > top ? String(offset + top) : undefined };
  }

  async getHistory(instanceId: string): Promise<HistoryEvent[]> {
    const inst = await this.getInstance(instanceId);
    if (!inst) return [];
    return this.readHistory(this.pool, instanceId, inst.executionId);
  }

  async purgeInstance(instanceId: string): Promise<number> {
    const r = await this.pool.query<{ n: number }>(
      `WITH d AS (DELETE FROM ${this.t('instances')} WHERE instance_id = $1 RETURNING instance_id),
       h AS (DELETE FROM ${this.t('history')} WHERE instance_id = $1),
       e AS (DELETE FROM ${this.t('new_events')} WHERE instance_id = $1),
       t AS (DELETE FROM ${this.t('activity_tasks')} WHERE instance_id = $1)
       SELECT count(*)::int AS n FROM d`,
      [instanceId],
    );
    return r.rows[0]?.n ?? 0;
  }

  async purgeInstances(filter: InstanceFilter): Promise<number> {
    const statuses = purgeStatuses(filter.runtimeStatus);
    const r = await this.pool.query<{ n: number }>(
      `WITH d AS (
         DELETE FROM ${this.t('instances')}
         WHERE ($1::timestamptz IS NULL OR created_at >= $1) AND ($2::timestamptz IS NULL OR created_at <= $2)
           AND ($3::text[] IS NULL OR runtime_status = ANY($3)) AND ($4::text IS NULL OR starts_with(instance_id, $4))
         RETURNING instance_id
       ), h AS (DELETE FROM ${this.t('history')} WHERE instance_id IN (SELECT instance_id FROM d)),
       e AS (DELETE FROM ${this.t('new_events')} WHERE instance_id IN (SELECT instance_id FROM d)),
       t AS (DELETE FROM ${this.t('activity_tasks')} WHERE instance_id IN (SELECT instance_id FROM d))
       SELECT count(*)::int AS n FROM d`,
      [
        filter.createdTimeFrom ?? null,
        filter.createdTimeTo ?? null,
        statuses ?? null,
        filter.instanceIdPrefix ?? null,
      ],
    );
    return r.rows[0]?.n ?? 0;
  }
}

function toRecord(r: InstanceRow): InstanceRecord {
  return {
    instanceId: r.instance_id,
    name: r.name,
    version: r.version,
    executionId: r.execution_id,
    runtimeStatus: r.runtime_status as RuntimeStatus,
    input: r.input,
    output: r.output,
    customStatus: r.custom_status,
    parentInstanceId: r.parent_instance_id,
    parentExecutionId: r.parent_execution_id,
    parentTaskId: r.parent_task_id,
    parentName: r.parent_name,
    historyLength: r.history_length,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    completedAt: r.completed_at,
  };
}
