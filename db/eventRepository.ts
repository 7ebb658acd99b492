// The job event log (SPEC §2: every transition writes one). Repositories that change state write their
// events in the same statement; these functions are for events that stand alone and for reading.
import { z } from 'zod';
import { decodeCursor, encodeCursor, pageLimit, zCursorSerial, type Page } from './cursor';
import { parseRow, truncate, validateValues } from './defineTable';
import { DbValidationError } from './errors';
import { DbError } from './errors';
import { query, type Queryable } from './queryable';
import { sql } from './sql';
import { type EventStatus, EventType } from './statuses';
import { jobEventsTable, LIMITS, type JobEventRow } from './tables';

export interface EventInput {
  jobId: string;
  nodeId?: string | null;
  taskId?: string | null;
  type: EventType;
  status?: EventStatus;
  data?: Record<string, unknown>;
  /** Truncated to 2000 characters. */
  errorMessage?: string | null;
  durationMs?: number | null;
  sourceApp?: string | null;
}

function toRow(e: EventInput, i: number): Record<string, unknown> {
  const row = {
    job_id: e.jobId,
    node_id: e.nodeId ?? null,
    task_id: e.taskId ?? null,
    event_type: e.type,
    event_status: e.status ?? 'info',
    event_data: e.data ?? {},
    error_message: e.errorMessage == null ? null : truncate(e.errorMessage, LIMITS.errorMessage),
    duration_ms: e.durationMs == null ? null : Math.min(Math.max(0, Math.round(e.durationMs)), 2_147_483_647),
    source_app: e.sourceApp ?? null,
  };
  const { event_data: _d, ...checked } = row;
  validateValues(jobEventsTable, checked, `events[${i}]`);
  if (typeof row.event_data !== 'object' || row.event_data === null || Array.isArray(row.event_data)) {
    throw new DbValidationError({
      table: 'dag_job_events',
      field: `events[${i}].data`,
      message: `events[${i}].data must be a JSON object`,
    });
  }
  return row;
}

/** Appends events in one statement; returns them (with event_id and created_at) in input order. */
export async function appendEvents(
  db: Queryable,
  schema: string,
  events: EventInput[],
): Promise<JobEventRow[]> {
  if (events.length === 0) return [];
  const rows = events.map((e, i) => ({ ord: i, ...toRow(e, i) }));
  const ty = (n: string) => sql.ident(schema, n);
  const r = await query(
    db,
    sql`INSERT INTO ${sql.table(schema, 'dag_job_events')}
          (job_id, node_id, task_id, event_type, event_status, event_data, error_message, duration_ms, source_app)
        SELECT job_id, node_id, task_id, event_type::${ty('job_event_type')}, event_status::${ty('job_event_status')},
               event_data, error_message, duration_ms, source_app
        FROM jsonb_to_recordset(${sql.json(rows, 'events')}) AS x(
          ord int, job_id text, node_id text, task_id text, event_type text, event_status text, event_data jsonb,
          error_message text, duration_ms int, source_app text)
        -- No foreign key on events (see engineTables.ts): the job must exist, checked here.
        WHERE EXISTS (SELECT 1 FROM ${sql.table(schema, 'dag_jobs')} j WHERE j.job_id = x.job_id)
        ORDER BY ord
        RETURNING *`,
  );
  if (r.rows.length < rows.length) {
    const found = new Set(r.rows.map((row) => row.job_id as string));
    const missing = [...new Set(events.map((e) => e.jobId).filter((id) => !found.has(id)))];
    throw new DbError(
      'CONFLICT',
      `Events refer to job(s) that do not exist: ${missing.slice(0, 5).join(', ')}. Create the job first.`,
      { jobIds: missing.slice(0, 5) },
    );
  }
  return r.rows.map((row) => parseRow(jobEventsTable, row)).sort((a, b) => a.event_id - b.event_id);
}

export async function appendEvent(db: Queryable, schema: string, event: EventInput): Promise<JobEventRow> {
  return (await appendEvents(db, schema, [event]))[0]!;
}

export interface ListEventsInput {
  nodeId?: string;
  type?: EventType | EventType[];
  /** 1..1000, default 100. */
  limit?: number;
  cursor?: string;
}

const EventCursor = z.object({ e: zCursorSerial });

/** A job's events oldest first (event_id order), keyset-paginated. */
export async function listEvents(
  db: Queryable,
  schema: string,
  jobId: string,
  input: ListEventsInput = {},
): Promise<Page<JobEventRow>> {
  const limit = pageLimit(input.limit, 100, 1000);
  const where = [sql`job_id = ${jobId}`];
  if (input.nodeId !== undefined) where.push(sql`node_id = ${input.nodeId}`);
  if (input.type !== undefined) {
    const types = Array.isArray(input.type) ? input.type : [input.type];
    for (const t of types) {
      if (!EventType.safeParse(t).success)
        throw new DbValidationError({ field: 'type', message: `type: "${t}" is not an event type` });
    }
    where.push(sql`event_type = ANY(${types}::${sql.ident(schema, 'job_event_type')}[])`);
  }
  if (input.cursor !== undefined)
    where.push(sql`event_id > ${decodeCursor(input.cursor, EventCursor, 'event list').e}`);
  const r = await query(
    db,
    sql`SELECT * FROM ${sql.table(schema, 'dag_job_events')} WHERE ${sql.join(where, ' AND ')}
        ORDER BY event_id LIMIT ${limit + 1}`,
  );
  const items = r.rows.slice(0, limit).map((row) => parseRow(jobEventsTable, row));
  const last = items[items.length - 1];
  return { items, nextCursor: r.rows.length > limit && last ? encodeCursor({ e: last.event_id }) : null };
}
