// The worker's counters (GET /health, stats()) and the health report.
export interface PhaseTiming {
  /** Milliseconds spent in this phase, summed over `count` messages. */
  total: number;
  count: number;
}

export interface WorkerStats {
  /** Tasks received (every delivery, duplicates included; a batch message counts its tasks). */
  received: number;
  /** Queue messages received (one carries one task, or a batch of them). */
  messages: number;
  /** Tasks received beyond the free slots and put back on the queue in a new message. */
  spilled: number;
  /** Receive requests made (each asks for up to 32 messages). */
  receiveCalls: number;
  /** Attempts whose handler was started here. */
  started: number;
  completed: number;
  failed: number;
  timedOut: number;
  /** Stopped because the job was cancelled (or ended). */
  cancelled: number;
  /** Stopped because the attempt was no longer the node's current one. */
  superseded: number;
  /** Attempts taken over from a worker that died (resumed from their checkpoint). */
  resumed: number;
  /** Deliveries of a task that already had a result: acknowledged, not run. */
  duplicates: number;
  /** Messages for an attempt that is no longer current: recorded and dropped. */
  stale: number;
  /** Messages for a missing job/node or a job that had ended: dropped. */
  dropped: number;
  /** Copies of a task held by a live worker: made invisible for one more lease period. */
  deferred: number;
  poisoned: number;
  /** Attempts handed back to the queue at shutdown. */
  handedBack: number;
  resultsSent: number;
  leaseRenewals: number;
  leaseLost: number;
  leaseRecovered: number;
  /** Messages whose handling failed on an infrastructure fault (they are delivered again). */
  errors: number;
  /** Times receiving paused because Postgres or the queues did not answer. */
  pauses: number;
  /** Handlers running now. */
  running: number;
  /** Tasks in hand now: holding a slot (being looked at, running, recording) or sending their result. */
  inHand: number;
  phaseMs: {
    receive: PhaseTiming;
    preflight: PhaseTiming;
    start: PhaseTiming;
    execute: PhaseTiming;
    record: PhaseTiming;
    sendResult: PhaseTiming;
    delete: PhaseTiming;
  };
}

export function emptyStats(): WorkerStats {
  const p = () => ({ total: 0, count: 0 });
  return {
    received: 0,
    messages: 0,
    spilled: 0,
    receiveCalls: 0,
    started: 0,
    completed: 0,
    failed: 0,
    timedOut: 0,
    cancelled: 0,
    superseded: 0,
    resumed: 0,
    duplicates: 0,
    stale: 0,
    dropped: 0,
    deferred: 0,
    poisoned: 0,
    handedBack: 0,
    resultsSent: 0,
    leaseRenewals: 0,
    leaseLost: 0,
    leaseRecovered: 0,
    errors: 0,
    pauses: 0,
    running: 0,
    inHand: 0,
    phaseMs: {
      receive: p(),
      preflight: p(),
      start: p(),
      execute: p(),
      record: p(),
      sendResult: p(),
      delete: p(),
    },
  };
}

export interface HealthReport {
  /** healthy: stores answer and receiving; degraded: stores answer, not receiving; unhealthy: a store is down. */
  status: 'healthy' | 'degraded' | 'unhealthy';
  worker_id: string;
  uptime_s: number;
  ready: boolean;
  reasons: string[];
  postgres: { ok: boolean; latency_ms?: number; error?: string };
  queues: Array<{
    name: string;
    ok: boolean;
    approximate_messages?: number;
    poison_messages?: number | null;
    error?: string;
  }>;
  stats: WorkerStats;
  running: Array<Record<string, unknown>>;
  config: Record<string, unknown>;
  /** The ETL mount sweep (when enabled): files of ended jobs removed after their retention. */
  etl_cleanup?: {
    mount_path: string;
    sweeps: number;
    removed_dirs: number;
    last_sweep_at: string | null;
    last_errors: string[];
  };
}
