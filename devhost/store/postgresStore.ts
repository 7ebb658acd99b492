// Crash-safe InstanceStore on Postgres. An episode is one transaction: the instance row is locked
// with FOR UPDATE SKIP LOCKED (another host skips it), and everything the episode produced is
// written before COMMIT. Activity work is owned by a live host (its session advisory lock); when a
// host dies, its lock vanishes with its connection and any host releases its work. LISTEN/NOTIFY
// wakes other hosts; this host hands its own work over in memory.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { DevHostError, errorMessage } from '../devHostError';
import type { HistoryEvent } from '../historyEvents';
import type { Logger } from '../logger';
import {
  executionStartedEvent,
  purgeStatuses,
  type ActivityCompletion,
  type ActivityWorkItem,
  type CreateInstanceRequest,
  type EpisodeClaim,
  type EventMessage,
  type InstanceFilter,
  type InstancePage,
  type InstanceRecord,
  type InstanceStore,
  type QueuedEvent,
  type SendOutcome,
} from './instanceStore';
import {
  applyCommit,
  readHistory,
  sendToRunningInstances,
  startInstances,
  type StoreSql,
} from './episodeStatements';
import { GroupCommit } from '../../lib/groupCommit';
import { toRecord, type InstanceRow } from './instanceRow';
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

/** Events per statement of a group commit (sendToRunning). */
const maxSendBatch = 1000;

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

export class PostgresStore implements InstanceStore {
  readonly kind = 'postgres' as const;
  private pool!: pg.Pool;
  /** Connections that commit synchronously: requests acknowledged to a client. */
  private syncPool!: pg.Pool;
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
  private readonly sends = new GroupCommit<EventMessage, SendOutcome>(
    (messages) => sendToRunningInstances(this.sql(), this.syncPool, messages),
    maxSendBatch,
  );

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

  /** What the statements in episodeStatements.ts need of this store (the owner key can change). */
  private sql(): StoreSql {
    return { schema: this.o.schema, t: (table) => this.t(table), channel: this.channel, owner: this.owner };
  }

  async init(): Promise<void> {
    // The host's own transitions (episodes, activity results) do not wait for the WAL flush: if the
    // Postgres server itself crashes, the last few of them are lost atomically and simply redone
    // (events come back, work is released with the dead session's key). Requests acknowledged to a
    // client (start, raise event, terminate) are one statement each and commit synchronously: they
    // have their own connections, so they need no BEGIN / SET LOCAL / COMMIT round trips.
    const asyncCommit = withSessionOption(this.o.connectionString, '-c synchronous_commit=off');
    const syncCommit = withSessionOption(this.o.connectionString, '-c synchronous_commit=on');
    this.pool = new pg.Pool({
      connectionString: asyncCommit ?? this.o.connectionString,
      max: this.o.poolSize,
      application_name: 'devhost',
    });
    this.syncPool = new pg.Pool({
      connectionString: syncCommit ?? this.o.connectionString,
      max: Math.max(2, Math.ceil(this.o.poolSize / 3)),
      application_name: 'devhost',
    });
    for (const pool of [this.pool, this.syncPool])
      pool.on('error', (err) => this.o.logger.warn(`idle Postgres connection error: ${errorMessage(err)}`));
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
      await this.syncPool.end().catch(() => undefined);
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
    await this.syncPool?.end().catch(() => undefined);
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
    const r = await startInstances(this.sql(), this.syncPool, [
      { req, parent: null, event: executionStartedEvent(req, null) },
    ]);
    const first = r.started[0];
    if (!first) {
      throw new DevHostError(
        'conflict',
        `An orchestration with instance ID '${req.instanceId}' already exists and is not finished.`,
      );
    }
    return first.replaced ? 'replaced' : 'created';
  }

  /** Raises and terminations: concurrent ones share a statement (group commit). */
  sendToRunning(messages: EventMessage[]): Promise<SendOutcome[]> {
    return this.sends.run(messages);
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
        loadHistory: () => readHistory(this.sql(), c, instanceId, instance.executionId),
        commit: async (commit) => {
          try {
            const result = await applyCommit(this.sql(), c, instance, commit);
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
    return readHistory(this.sql(), this.pool, instanceId, inst.executionId);
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
