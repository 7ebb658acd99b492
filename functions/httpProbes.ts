// Probes (SPEC §5): livez (the process answers), readyz (it can serve: Postgres and the schema are
// there, workflows load) and health (every dependency, with latencies: 200 healthy, 206 degraded,
// 503 unhealthy). Probes are anonymous and never expose secrets.
import type { HttpResponseInit } from '@azure/functions';
import { checkSchemaReadiness } from '../db';
import { json } from './http';
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
  };
  const statuses = Object.values(checks).map((c) => c.status);
  const status = statuses.includes('unhealthy')
    ? 'unhealthy'
    : statuses.includes('degraded')
      ? 'degraded'
      : 'healthy';
  return json(status === 'healthy' ? 200 : status === 'degraded' ? 206 : 503, { status, version, checks });
}
