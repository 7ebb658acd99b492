// The Postgres pool's connections as gauges (telemetry on), read at each metric export: cheaper than the
// pg instrumentation's counters, which were updated on every acquire and release (initTelemetry).
import { registerGauge } from './telemetryMetrics';

/** What a pg.Pool exposes about its connections. */
export interface PoolCounts {
  readonly totalCount: number;
  readonly idleCount: number;
  readonly waitingCount: number;
}

/** Registers the gauges for `pool` under `poolName`; returns their unregistration. */
export function registerPoolGauges(pool: PoolCounts, poolName: string): () => void {
  const connections = registerGauge(
    'dag.db.connections',
    'Postgres pool connections by state (used, idle)',
    () =>
      Promise.resolve([
        { value: pool.totalCount - pool.idleCount, attributes: { pool: poolName, state: 'used' } },
        { value: pool.idleCount, attributes: { pool: poolName, state: 'idle' } },
      ]),
  );
  const waiting = registerGauge(
    'dag.db.connections.waiting',
    'Requests waiting for a Postgres pool connection',
    () => Promise.resolve([{ value: pool.waitingCount, attributes: { pool: poolName } }]),
  );
  return () => {
    connections();
    waiting();
  };
}
