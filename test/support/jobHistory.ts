// The history events of a job's orchestrations (the job, its fan-outs and their chunks: instance ids
// `<job>` and `<job>:…`) in the dev host's Postgres store: what tests and benches count (activity
// calls, external events, timers, episodes).
import type pg from 'pg';

/** A DTFx history event as the store keeps it (EventType: 4 TaskScheduled, 10 TimerCreated, 12 OrchestratorStarted, 15 EventRaised). */
export interface HistoryEvent {
  EventType: number;
  Name?: string;
  Input?: string;
}

export async function jobHistory(pool: pg.Pool, storeSchema: string, jobId: string): Promise<HistoryEvent[]> {
  const rows = await pool.query<{ events: string }>(
    `SELECT events FROM "${storeSchema}".history WHERE instance_id = $1 OR instance_id LIKE $1 || ':%'`,
    [jobId],
  );
  return rows.rows.flatMap((r) => {
    const t = r.events.trim();
    return JSON.parse(t.startsWith('[') ? t : `[${t}]`) as HistoryEvent[];
  });
}
