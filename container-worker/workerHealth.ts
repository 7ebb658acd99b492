// The worker's readiness (/readyz: receiving, stores answering) and its health report (/health,
// ContainerWorker.health()): both stores probed, each queue's depth and poison depth, the tasks
// running here, the counters and the configuration.
import { query, sql, type DbPool } from '../db';
import { errorMessage } from '../handlers/executeHandler';
import type { ActiveTask } from './messageLease';
import type { QueueDirectory } from '../lib/io/queueDirectory';
import type { HealthReport, WorkerStats } from './workerStats';

export interface Readiness {
  ready: boolean;
  reasons: string[];
}

export interface QueueState {
  ok: boolean;
  error?: string;
  at: number;
}

export function workerReadiness(s: {
  started: boolean;
  stopping: boolean;
  paused: boolean;
  queueState: ReadonlyMap<string, QueueState>;
}): Readiness {
  const reasons: string[] = [];
  if (!s.started) reasons.push('starting');
  if (s.stopping) reasons.push('shutting down');
  if (s.paused) reasons.push('paused: Postgres or the queues did not answer');
  for (const [q, st] of s.queueState) if (!st.ok) reasons.push(`queue ${q}: ${st.error ?? 'unreachable'}`);
  return { ready: reasons.length === 0, reasons };
}

export interface HealthInput {
  workerId: string;
  pool: DbPool;
  queues: QueueDirectory;
  queueNames: string[];
  startedAt: number;
  /** Read after the stores answered (or not), as the rest below. */
  readiness: () => Readiness;
  stats: () => WorkerStats;
  running: () => Iterable<ActiveTask>;
  config: HealthReport['config'];
  etlCleanup?: () => HealthReport['etl_cleanup'];
}

export async function workerHealth(i: HealthInput): Promise<HealthReport> {
  const timeout = <T>(p: Promise<T>, ms = 3000) =>
    Promise.race([
      p,
      new Promise<never>((_, rej) =>
        setTimeout(() => rej(new Error(`no answer within ${ms} ms`)), ms).unref(),
      ),
    ]);
  const t0 = Date.now();
  const postgres = await timeout(query(i.pool, sql`SELECT 1`)).then(
    () => ({ ok: true, latency_ms: Date.now() - t0 }),
    (err: unknown) => ({ ok: false, error: errorMessage(err) }),
  );
  const queues = await Promise.all(
    i.queueNames.map(async (name) => {
      try {
        const p = await timeout(i.queues.client(name).getProperties());
        let poison: number | null = null;
        try {
          poison =
            (await timeout(i.queues.client(`${name}-poison`).getProperties())).approximateMessagesCount ?? 0;
        } catch {
          poison = 0; // no poison queue yet
        }
        return {
          name,
          ok: true,
          approximate_messages: p.approximateMessagesCount ?? 0,
          poison_messages: poison,
        };
      } catch (err) {
        return { name, ok: false, error: errorMessage(err) };
      }
    }),
  );
  const ready = i.readiness();
  const healthy = postgres.ok && queues.every((q) => q.ok);
  const now = Date.now();
  return {
    status: healthy ? (ready.ready ? 'healthy' : 'degraded') : 'unhealthy',
    worker_id: i.workerId,
    uptime_s: Math.round((now - i.startedAt) / 1000),
    ready: ready.ready,
    reasons: ready.reasons,
    postgres,
    queues,
    stats: i.stats(),
    running: [...i.running()].map((t) => ({
      task_id: t.msg.task_id,
      job_id: t.msg.job_id,
      node_id: t.msg.node_id,
      handler: t.msg.handler,
      queue: t.part.held.queue,
      message_id: t.part.held.messageId,
      attempt: t.msg.attempt,
      running_s: Math.round((now - t.startedAt) / 1000),
      lease_lost: t.part.held.leaseLost,
      ...(t.stopReason ? { stopping: t.stopReason } : {}),
    })),
    config: i.config,
    ...(i.etlCleanup ? { etl_cleanup: i.etlCleanup() } : {}),
  };
}
