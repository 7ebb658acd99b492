// The original's admin cross-job reads (docs/compatibility.md): active jobs, recent events, running and
// failed nodes, orphans, and the configuration without its secrets.
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { z } from 'zod';
import { EVENT_TYPES, listActiveJobs, listNodesByStatus, listQuietJobs, listRecentEvents } from '../db';
import { v1EventView, v1JobView, v1NodeView } from './compatViews';
import { json, limitParam, parseQuery } from './http';
import { services } from './services';
import { version } from './version';

export async function getAdminActiveJobs(req: HttpRequest): Promise<HttpResponseInit> {
  const q = parseQuery(req, z.strictObject({ owner_id: z.string().optional(), limit: limitParam(500) }));
  const s = services();
  // owner_id: the original's orchestrator instance; Durable Functions owns every job here.
  const jobs = await listActiveJobs(s.pool, s.schema, { limit: q.limit ?? 100 });
  return json(200, { jobs: jobs.map((j) => v1JobView(j)), count: jobs.length });
}

export async function getAdminRecentEvents(req: HttpRequest): Promise<HttpResponseInit> {
  const q = parseQuery(
    req,
    z.strictObject({ limit: limitParam(1000), event_type: z.enum(EVENT_TYPES).optional() }),
  );
  const s = services();
  const events = await listRecentEvents(s.pool, s.schema, {
    limit: q.limit ?? 50,
    ...(q.event_type ? { type: [q.event_type] } : {}),
  });
  return json(200, { events: events.map(v1EventView), count: events.length });
}

export async function getAdminRunningNodes(req: HttpRequest): Promise<HttpResponseInit> {
  const q = parseQuery(
    req,
    z.strictObject({ job_id: z.string().min(1).max(64).optional(), limit: limitParam(1000) }),
  );
  const s = services();
  const nodes = await listNodesByStatus(s.pool, s.schema, {
    status: ['dispatched', 'running'],
    limit: q.limit ?? 200,
    ...(q.job_id ? { jobId: q.job_id } : {}),
  });
  return json(200, { nodes: nodes.map(v1NodeView), count: nodes.length });
}

export async function getAdminFailedNodes(req: HttpRequest): Promise<HttpResponseInit> {
  const q = parseQuery(
    req,
    z.strictObject({ job_id: z.string().min(1).max(64).optional(), limit: limitParam(1000) }),
  );
  const s = services();
  const nodes = await listNodesByStatus(s.pool, s.schema, {
    status: ['failed'],
    limit: q.limit ?? 50,
    ...(q.job_id ? { jobId: q.job_id } : {}),
  });
  return json(200, { nodes: nodes.map(v1NodeView), count: nodes.length });
}

/**
 * The original's orphans (jobs whose owner stopped beating): here, pending or running jobs not
 * updated for threshold_minutes — the ones the reconciler checks against their orchestration.
 */
export async function getAdminOrphans(req: HttpRequest): Promise<HttpResponseInit> {
  const q = parseQuery(req, z.strictObject({ threshold_minutes: limitParam(10080), limit: limitParam(500) }));
  const minutes = q.threshold_minutes ?? 2;
  const s = services();
  const jobs = await listQuietJobs(s.pool, s.schema, { minutes, limit: q.limit ?? 100 });
  return json(200, {
    threshold_minutes: minutes,
    orphans: jobs.map((j) => v1JobView(j)),
    count: jobs.length,
  });
}

/** Settings whose names look like they hold a secret: never shown. */
export const SECRET_NAME =
  /(PASSWORD|SECRET|KEY|TOKEN|CONNECTION|CONN_STR|CONNSTR|SAS|CREDENTIAL|DATABASE_URL|DB_URL)/i;

/** A value that holds a credential: a connection string with a key, a SAS, a URL with a password. */
function looksSecret(v: unknown): boolean {
  return (
    typeof v === 'string' &&
    /(AccountKey=|SharedAccessSignature=|[?&]sig=|Password=|:\/\/[^/@\s]+:[^/@\s]+@)/i.test(v)
  );
}

/** The configuration the app runs with, without secrets (names that look secret, URLs with passwords). */
export async function getAdminConfig(): Promise<HttpResponseInit> {
  const s = services();
  const config: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s.config).sort(([a], [b]) => a.localeCompare(b))) {
    if (v === undefined) continue;
    config[k] = SECRET_NAME.test(k) || looksSecret(v) ? '(set, hidden)' : v;
  }
  return json(200, { version, schema: s.schema, config });
}
