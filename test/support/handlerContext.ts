// A handler's context for calling a handler directly in a unit test: ids of a job "j", node "n",
// checkpoints saved into the returned array, a signal that never fires, a silent log, and the
// handler services of the process environment (testHandlerServices).
import { createPool, loadDbConfig, type DbPool } from '../../db/createPool';
import { loadHandlerConfig } from '../../handlers/handlerConfig';
import type { Checkpoint, HandlerContext, HandlerServices } from '../../handlers/handlerTypes';
import { rasterBlobs } from '../../handlers/raster/blobService';

let pool: DbPool | undefined;

/**
 * Handler services over the environment as the test sets it: the raster settings are read when a
 * handler first asks (as in the runners), the pool (DATABASE_URL / DAG_DB_*) is created on first use
 * and shared by the test file until closeTestHandlerPool.
 */
export function testHandlerServices(): HandlerServices {
  const config = loadHandlerConfig(process.env);
  return {
    get pool() {
      if (!pool) {
        const db = loadDbConfig(process.env);
        pool = createPool({ ...db, poolMax: Math.min(db.poolMax, 4) });
        // Idle connections must not keep the test process alive.
        (pool as unknown as { options: { allowExitOnIdle?: boolean } }).options.allowExitOnIdle = true;
      }
      return pool;
    },
    config,
    blobs: rasterBlobs(() => config.raster),
  };
}

/** Ends the pool of testHandlerServices (afterAll of a test file that used it). */
export async function closeTestHandlerPool(): Promise<void> {
  const p = pool;
  pool = undefined;
  await p?.end().catch(() => undefined);
}

/** The handler services (not spread: the pool is created on first read) plus `over`. */
export function withTestServices<C extends object>(c: C): C & HandlerServices {
  const services = testHandlerServices();
  return Object.defineProperties(c, {
    pool: { get: () => services.pool, enumerable: true, configurable: true },
    config: { value: services.config, enumerable: true, writable: true, configurable: true },
    blobs: { value: services.blobs, enumerable: true, writable: true, configurable: true },
  }) as C & HandlerServices;
}

export function handlerContext(over: Partial<HandlerContext> = {}): {
  c: HandlerContext;
  saved: Checkpoint[];
} {
  const saved: Checkpoint[] = [];
  const c: HandlerContext = withTestServices({
    jobId: 'j',
    nodeId: 'n',
    taskId: 'j_n_0',
    attempt: 0,
    saveCheckpoint: async (phase: string, state: unknown) => {
      saved.push({ phase, state });
    },
    progress: async () => undefined,
    signal: new AbortController().signal,
    log: { info: () => undefined, warn: () => undefined, error: () => undefined },
  });
  // Descriptors, not assignment: `pool` is a getter (created on first read) that `over` may replace.
  Object.defineProperties(c, Object.getOwnPropertyDescriptors(over));
  return { c, saved };
}
