// The statements of an episode's commit on the Postgres store (PostgresStore, devhost/store): starting
// instances (sub-orchestrations, restarts), queueing events, reading history and applying everything an
// episode produced in one round trip. Each runs on the episode's own transaction (`c`), or alone (a
// client's start or event: one statement, so its own transaction).
import type pg from 'pg';
import type { HistoryEvent } from '../historyEvents';
import {
  executionStartedEvent,
  type ActivityWorkItem,
  type ChildStart,
  type CommitResult,
  type CreateInstanceRequest,
  type EpisodeCommit,
  type EventMessage,
  type InstanceRecord,
  type SendOutcome,
} from './instanceStore';
import { newExecutionId } from './memoryStore';

/** What the statements need of the store: its tables, its NOTIFY channel and this host's key. */
export interface StoreSql {
  schema: string;
  /** A table of the store's schema, quoted. */
  t(table: string): string;
  channel: string;
  /** This host's key: the sender of its notifications and the owner of the activity work it claims. */
  owner: string;
}

/** Instances that have ended (a start may replace them). */
export const TERMINAL_STATUSES = `('Completed','Failed','Terminated','Canceled')`;

export async function startInstances(
  s: StoreSql,
  c: pg.ClientBase | pg.Pool,
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
  const r = await c.query<{ instance_id: string; replaced: boolean }>({
    name: `devhost_start_${s.schema}`,
    text: `WITH input AS (
       SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(instance_id text, name text, version text, execution_id text,
         input text, parent_instance_id text, parent_execution_id text, parent_task_id int, parent_name text, event text)
     ), up AS (
       INSERT INTO ${s.t('instances')} AS i (instance_id, name, version, execution_id, runtime_status, input,
         parent_instance_id, parent_execution_id, parent_task_id, parent_name, history_length, created_at, updated_at)
       SELECT instance_id, name, version, execution_id, 'Pending', input, parent_instance_id, parent_execution_id,
         parent_task_id, parent_name, 0, now(), now() FROM input
       ON CONFLICT (instance_id) DO UPDATE SET name = EXCLUDED.name, version = EXCLUDED.version,
         execution_id = EXCLUDED.execution_id, runtime_status = 'Pending', input = EXCLUDED.input, output = NULL,
         custom_status = NULL, parent_instance_id = EXCLUDED.parent_instance_id,
         parent_execution_id = EXCLUDED.parent_execution_id, parent_task_id = EXCLUDED.parent_task_id,
         parent_name = EXCLUDED.parent_name, history_length = 0, created_at = now(), updated_at = now(),
         completed_at = NULL
       WHERE i.runtime_status IN ${TERMINAL_STATUSES}
       RETURNING i.instance_id, (xmax <> 0) AS replaced
     ), del_h AS (
       DELETE FROM ${s.t('history')} h USING up WHERE up.replaced AND h.instance_id = up.instance_id
     ), del_e AS (
       DELETE FROM ${s.t('new_events')} e USING up WHERE up.replaced AND e.instance_id = up.instance_id
     ), del_t AS (
       DELETE FROM ${s.t('activity_tasks')} t USING up WHERE up.replaced AND t.instance_id = up.instance_id
     ), ev AS (
       INSERT INTO ${s.t('new_events')} (instance_id, execution_id, event)
       SELECT x.instance_id, x.execution_id, x.event FROM input x JOIN up USING (instance_id)
       RETURNING instance_id
     ), ntf AS (
       SELECT pg_notify($2, $3 || '|i|' || instance_id) FROM ev
     )
     SELECT up.instance_id, up.replaced, (SELECT count(*) FROM ntf) AS notified FROM up`,
    values: [JSON.stringify(rows), s.channel, s.owner],
  });
  return { started: r.rows.map((x) => ({ instanceId: x.instance_id, replaced: x.replaced })) };
}

/**
 * Queues one event per message for instances that exist and have not ended, in one statement (a
 * client's raise or terminate; concurrent ones are batched by the store). Says, in input order,
 * whether each was queued, else the instance's status (none: no such instance). The check and the
 * insert are one statement, so a client never learns "queued" for an instance it saw finished.
 */
export async function sendToRunningInstances(
  s: StoreSql,
  c: pg.ClientBase | pg.Pool,
  messages: EventMessage[],
): Promise<SendOutcome[]> {
  const r = await c.query<{ status: string | null; queued: boolean }>({
    name: `devhost_send_${s.schema}`,
    text: `WITH m AS (
       SELECT m.ord, m.instance_id, m.event, i.runtime_status, i.runtime_status NOT IN ${TERMINAL_STATUSES} AS open
       FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS m(instance_id, event, ord)
       LEFT JOIN ${s.t('instances')} i ON i.instance_id = m.instance_id
     ), ins AS (
       INSERT INTO ${s.t('new_events')} (instance_id, execution_id, event, visible_at)
       SELECT m.instance_id, NULL, m.event, now() FROM m WHERE m.open ORDER BY m.ord
       RETURNING instance_id
     ), ntf AS (
       SELECT pg_notify($3, $4 || '|i|' || instance_id) FROM (SELECT DISTINCT instance_id FROM ins) x
     )
     SELECT m.runtime_status AS status, coalesce(m.open, false) AS queued, (SELECT count(*) FROM ntf) AS notified
     FROM m ORDER BY m.ord`,
    values: [
      messages.map((m) => m.instanceId),
      messages.map((m) => JSON.stringify(m.event)),
      s.channel,
      s.owner,
    ],
  });
  return r.rows.map((x) =>
    x.queued ? { queued: true } : { queued: false, runtimeStatus: x.status ?? undefined },
  );
}

export async function readHistory(
  s: StoreSql,
  c: pg.ClientBase | pg.Pool,
  instanceId: string,
  executionId: string,
): Promise<HistoryEvent[]> {
  const r = await c.query<{ events: string }>({
    name: `devhost_history_${s.schema}`,
    text: `SELECT events FROM ${s.t('history')} WHERE instance_id = $1 AND execution_id = $2 ORDER BY first_seq`,
    values: [instanceId, executionId],
  });
  const out: HistoryEvent[] = [];
  for (const row of r.rows) for (const e of JSON.parse(row.events) as HistoryEvent[]) out.push(e);
  return out;
}

export async function applyCommit(
  s: StoreSql,
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
    const r = await startInstances(s, c, items);
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
    name: `devhost_commit_${s.schema}`,
    text: `WITH del AS (
       DELETE FROM ${s.t('new_events')} WHERE id = ANY($1::bigint[])
     ), reset AS (
       DELETE FROM ${s.t('history')} WHERE $2::boolean AND instance_id = $3
     ), hist AS (
       INSERT INTO ${s.t('history')} (instance_id, execution_id, first_seq, events)
       SELECT $3, $4, $5, $6::text WHERE $6::text IS NOT NULL
     ), upd AS (
       UPDATE ${s.t('instances')} SET runtime_status = $7, execution_id = $4, input = $8, output = $9,
         custom_status = CASE WHEN $10::boolean THEN $11::text ELSE custom_status END,
         completed_at = $12, history_length = $13, updated_at = now(),
         created_at = coalesce($24::timestamptz, created_at)
       WHERE instance_id = $3
     ), msg AS (
       INSERT INTO ${s.t('new_events')} (instance_id, execution_id, event, visible_at)
       SELECT m.instance_id, m.execution_id, m.event, coalesce(m.visible_at, now())
       FROM unnest($14::text[], $15::text[], $16::text[], $17::timestamptz[]) AS m(instance_id, execution_id, event, visible_at)
       WHERE m.instance_id = $3 OR EXISTS (SELECT 1 FROM ${s.t('instances')} i WHERE i.instance_id = m.instance_id)
       RETURNING instance_id, visible_at
     ), act AS (
       INSERT INTO ${s.t('activity_tasks')} (instance_id, execution_id, task_id, name, input, owner, claimed_at, attempts)
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
      s.owner,
      commit.activities.map((a) => a.executionId),
      commit.activities.map((a) => a.taskId),
      commit.activities.map((a) => a.name),
      commit.activities.map((a) => a.input),
      s.channel,
      ci.createdAt ?? null,
    ],
  });
  const row = r.rows[0];
  for (const id of row?.ready ?? []) ready.add(id);
  const lease = s.owner;
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
