// Probes (SPEC §5): livez (the process answers), readyz (it can serve: Postgres and the schema are
// there, workflows load) and health (every dependency, with latencies: 200 healthy, 206 degraded,
// 503 unhealthy). Probes are anonymous and never expose secrets.
import type { HttpResponseInit } from '@azure/functions';
import type { HttpRequest, InvocationContext } from '@azure/functions';
import { AppError } from './appError';
import { didYouMean } from '../dag/suggest';
import * as df from 'durable-functions';
import { durableClient } from './durableClient';
import { z } from 'zod';
import { attemptsInFlight, checkSchemaReadiness, jobsEndedSince } from '../db';
import { getBlobService } from '../handlers/raster/blobService';
import { openRasterCatalog } from '../handlers/raster/rasterCatalog';
import { loadRasterConfig } from '../handlers/raster/rasterConfig';
import { json, limitParam, param, parseQuery } from './http';
import { services } from './services';
import { strandedAttemptsCheck } from './strandedHealth';
import { version } from './version';

type Check = {
  status: 'healthy' | 'degraded' | 'unhealthy';
  latency_ms?: number;
  message?: string;
  details?: unknown;
};

async function timed(fn: () => Promise<Omit<Check, 'latency_ms'>>, timeoutMs = 5000): Promise<Check> {
  const t0 = Date.now();
  try {
    const r = await Promise.race([
      fn(),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs).unref(),
      ),
    ]);
    return { ...r, latency_ms: Date.now() - t0 };
  } catch (err) {
    return { status: 'unhealthy', latency_ms: Date.now() - t0, message: (err as Error).message };
  }
}

async function postgresCheck(): Promise<Check> {
  const s = services();
  return timed(async () => {
    // Reachable, and migrated far enough for this build (the schema version in dagmaster_migrations).
    const r = await checkSchemaReadiness(s.pool, s.schema);
    const details = { schema: s.schema, migration: r.current, required: r.required };
    return r.ok ? { status: 'healthy', details } : { status: 'unhealthy', message: r.message!, details };
  });
}

function workflowsCheck(): Check {
  const c = services().catalog();
  const invalid = c.files.filter((f) => !f.plan).length;
  return {
    status: c.workflows.size === 0 ? 'unhealthy' : invalid ? 'degraded' : 'healthy',
    details: { valid: c.workflows.size, invalid },
    ...(invalid ? { message: `${invalid} workflow file(s) are invalid: GET /api/workflows` } : {}),
  };
}

async function queuesCheck(): Promise<Check> {
  const s = services();
  const names = [s.config.DAG_RESULT_QUEUE, s.config.DAG_CONTAINER_QUEUE];
  return timed(async () => {
    const depths: Record<string, number | null> = {};
    for (const n of names) {
      const client = s.queueClient(n);
      const exists = await client.exists();
      depths[n] = exists ? ((await client.getProperties()).approximateMessagesCount ?? 0) : null;
      if (exists) {
        const poison = s.queueClient(`${n}-poison`);
        if (await poison.exists())
          depths[`${n}-poison`] = (await poison.getProperties()).approximateMessagesCount ?? 0;
      }
    }
    const poisoned = Object.entries(depths).filter(([k, v]) => k.endsWith('-poison') && (v ?? 0) > 0);
    return poisoned.length
      ? { status: 'degraded', details: depths, message: `messages in ${poisoned.map(([k]) => k).join(', ')}` }
      : { status: 'healthy', details: depths };
  });
}

/** Saturated when callers wait for a connection or none is idle at the maximum (the original's check). */
function connectionPoolCheck(): Check {
  const p = services().pool;
  const max = (p as unknown as { options?: { max?: number } }).options?.max ?? null;
  const details = { total: p.totalCount, idle: p.idleCount, waiting: p.waitingCount, max };
  if (p.waitingCount > 0)
    return { status: 'degraded', details, message: `${p.waitingCount} caller(s) wait for a connection` };
  return { status: 'healthy', details };
}

/** Every handler a loaded workflow names is registered (a workflow naming another does not load). */
function handlersCheck(): Check {
  const s = services();
  const missing: string[] = [];
  let used = 0;
  for (const l of s.catalog().workflows.values()) {
    for (const [id, n] of Object.entries(l.workflow?.nodes ?? {})) {
      const h = n.type === 'task' ? n.handler : n.type === 'fan_out' ? n.task.handler : undefined;
      if (h === undefined) continue;
      used++;
      if (!s.registry.get(h)) missing.push(`${l.workflow!.workflow_id}.${id}: ${h}`);
    }
  }
  for (const f of s.catalog().files) {
    for (const i of f.issues) if (/handler/i.test(i.message)) missing.push(`${f.file}: ${i.message}`);
  }
  const details = { registered: s.registry.names().length, used_by_workflows: used, missing };
  return missing.length
    ? { status: 'degraded', details, message: `${missing.length} handler reference(s) cannot run` }
    : { status: 'healthy', details };
}

/** Jobs that ended in the last 15 minutes, by status (the orchestration view). */
async function recentJobsCheck(): Promise<Check> {
  const s = services();
  return timed(async () => ({
    status: 'healthy',
    details: { minutes: 15, ended: await jobsEndedSince(s.pool, s.schema, 15) },
  }));
}

/**
 * The blob storage zones the raster handlers and the pre-flight use: bronze (the input account) and
 * silver (the COG container, maybe in another account). A zone without configuration is degraded.
 */
async function blobStorageCheck(): Promise<Check> {
  return timed(async () => {
    const config = loadRasterConfig(process.env);
    const zones: Record<string, unknown> = {};
    let worst: Check['status'] = 'healthy';
    const worse = (s: Check['status']) => {
      if (s === 'unhealthy' || (s === 'degraded' && worst === 'healthy')) worst = s;
    };
    for (const [zone, container] of [
      ['bronze', undefined],
      ['silver', config.silverContainer],
    ] as const) {
      try {
        const svc = getBlobService(config, container);
        if (container) {
          const exists = await svc.getContainerClient(container).exists();
          zones[zone] = { account: svc.accountName, container, container_exists: exists };
          if (!exists) worse('degraded');
        } else {
          await svc.getProperties();
          zones[zone] = { account: svc.accountName, reachable: true };
        }
      } catch (err) {
        const status = (err as { statusCode?: number }).statusCode;
        zones[zone] = { error: (err as Error).message.split('\n')[0] };
        // 403: reachable, but this identity may not read the account's properties.
        worse(status === 403 ? 'degraded' : 'unhealthy');
      }
    }
    return { status: worst, details: zones };
  });
}

/** The STAC catalog the raster handlers write (pgSTAC or the product's tables): reachable, which backend. */
async function stacCheck(): Promise<Check> {
  return timed(async () => {
    const config = loadRasterConfig(process.env);
    const catalog = await openRasterCatalog(services().pool, config);
    await catalog.getCollection('__health_probe__');
    return { status: 'healthy', details: { backend: catalog.backend, schema: catalog.schema } };
  });
}

/** The checks of GET /api/health/{check}, by name. */
const NAMED_CHECKS: Record<string, () => Promise<Check> | Check> = {
  postgres: postgresCheck,
  database: postgresCheck,
  queues: queuesCheck,
  workflows: workflowsCheck,
  attempts: () => timed(strandedAttemptsCheck),
  handlers: handlersCheck,
  connection_pool: connectionPoolCheck,
  recent_jobs: recentJobsCheck,
  blob_storage: blobStorageCheck,
  stac: stacCheck,
};

/** GET /api/health/{check}: one check; 404 naming the checks for an unknown name. */
export async function healthCheck(req: HttpRequest): Promise<HttpResponseInit> {
  const name = param(req, 'check');
  const fn = Object.hasOwn(NAMED_CHECKS, name) ? NAMED_CHECKS[name] : undefined;
  if (!fn) {
    const hint = didYouMean(name, Object.keys(NAMED_CHECKS));
    throw new AppError(
      'NOT_FOUND',
      `Unknown health check "${name}"${hint ? ` (${hint})` : ''}; the checks are ${Object.keys(NAMED_CHECKS).join(', ')}.`,
    );
  }
  const check = await fn();
  const code = check.status === 'healthy' ? 200 : check.status === 'degraded' ? 206 : 503;
  return json(code, { name, ...check });
}

const OrchestrationQuery = z.strictObject({
  minutes: limitParam(10080),
});

/**
 * GET /api/status/orchestrations?minutes=15: Durable instances by runtime status (those not ended,
 * and those created in the window), attempts in flight, queue depths, and the jobs that ended in the
 * window by status.
 */
export async function getOrchestrationStatus(
  req: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const q = parseQuery(req, OrchestrationQuery);
  const minutes = q.minutes ?? 15;
  const s = services();
  const client = durableClient(context);
  const count = (list: Array<{ runtimeStatus?: unknown }>) => {
    const out: Record<string, number> = {};
    for (const i of list) out[String(i.runtimeStatus)] = (out[String(i.runtimeStatus)] ?? 0) + 1;
    return out;
  };
  const since = new Date(Date.now() - minutes * 60_000);
  const [active, recent, inFlight, ended, queues] = await Promise.all([
    client.getStatusBy({
      runtimeStatus: [
        df.OrchestrationRuntimeStatus.Pending,
        df.OrchestrationRuntimeStatus.Running,
        df.OrchestrationRuntimeStatus.Suspended,
        df.OrchestrationRuntimeStatus.ContinuedAsNew,
      ],
    }),
    client.getStatusBy({ createdTimeFrom: since }),
    attemptsInFlight(s.pool, s.schema),
    jobsEndedSince(s.pool, s.schema, minutes),
    queuesCheck(),
  ]);
  return json(200, {
    minutes,
    instances: { not_ended: count(active), created_in_window: count(recent) },
    attempts_in_flight: inFlight,
    queues: queues.details ?? {},
    jobs_ended_in_window: ended,
  });
}

export async function livez(): Promise<HttpResponseInit> {
  return json(200, { status: 'alive', version });
}

export async function readyz(): Promise<HttpResponseInit> {
  const checks = { postgres: await postgresCheck(), workflows: workflowsCheck() };
  const ready = checks.postgres.status === 'healthy' && checks.workflows.status !== 'unhealthy';
  return json(ready ? 200 : 503, { status: ready ? 'ready' : 'not_ready', checks });
}

export async function health(): Promise<HttpResponseInit> {
  const checks = {
    postgres: await postgresCheck(),
    queues: await queuesCheck(),
    workflows: workflowsCheck(),
    attempts: await timed(strandedAttemptsCheck),
    connection_pool: connectionPoolCheck(),
    handlers: handlersCheck(),
  };
  const statuses = Object.values(checks).map((c) => c.status);
  const status = statuses.includes('unhealthy')
    ? 'unhealthy'
    : statuses.includes('degraded')
      ? 'degraded'
      : 'healthy';
  return json(status === 'healthy' ? 200 : status === 'degraded' ? 206 : 503, { status, version, checks });
}
