// The STAC catalog of the raster handlers: a Postgres pool created on first use from DATABASE_URL /
// DAG_DB_* (the same variables as the worker's own pool; one per process and configuration, kept for
// the process's life), and the catalog (pgSTAC or the product's tables) per DAG_STAC_* settings.
import type pg from 'pg';
import { createPool, loadDbConfig } from '../../db/createPool';
import { DbError } from '../../db/errors';
import { openStacCatalog, type StacCatalog } from '../../db/stacCatalog';
import { NonRetryableError } from '../handlerTypes';
import type { RasterConfig } from './rasterConfig';
import { extendCollectionExtent } from './stacDocuments';
import { validateStac } from './stacValidator';

const pools = new Map<string, pg.Pool>();

export function getStacPool(env: Record<string, string | undefined> = process.env): pg.Pool {
  let config;
  try {
    config = loadDbConfig(env);
  } catch (err) {
    if (err instanceof DbError)
      throw new NonRetryableError(`STAC catalog: ${err.message} See docs/raster.md.`);
    throw err;
  }
  const key = JSON.stringify({ ...config, password: undefined });
  let pool = pools.get(key);
  if (!pool) {
    // A few connections are plenty: STAC writes are short, one or two per task.
    pool = createPool(
      { ...config, poolMax: Math.min(config.poolMax, 4) },
      {
        // An idle connection closed by the server is dropped by the pool and reopened on next use;
        // a server shutting down (57P01, e.g. the local stack stopping) is not worth a log line.
        onError: (err) => {
          if ((err as { code?: string }).code === '57P01') return;
          console.error(
            JSON.stringify({
              level: 'warn',
              msg: 'STAC catalog pool: idle connection error',
              error: err.message,
            }),
          );
        },
      },
    );
    // Idle connections must not keep a process alive (`dagmaster run` exits when its job is done).
    (pool as unknown as { options: { allowExitOnIdle?: boolean } }).options.allowExitOnIdle = true;
    pools.set(key, pool);
  }
  return pool;
}

/** Closes the pools (tests, benchmarks). */
export async function closeStacPools(): Promise<void> {
  const all = [...pools.values()];
  pools.clear();
  await Promise.all(all.map((p) => p.end().catch(() => undefined)));
}

/** The catalog for this configuration (pgSTAC when the database has it, unless DAG_STAC_BACKEND says otherwise). */
export function openRasterCatalog(config: RasterConfig): Promise<StacCatalog> {
  return openStacCatalog(getStacPool(), {
    schema: config.stacSchema,
    pgstacSchema: config.pgstacSchema,
    backend: config.stacBackend,
  });
}

/**
 * Grows a collection's extent (space and time) to hold items just registered; the collection
 * stays valid STAC (checked before it is written).
 */
export async function growCollectionExtent(
  catalog: StacCatalog,
  collectionId: string,
  items: readonly Record<string, unknown>[],
): Promise<void> {
  await catalog.upsertCollection(
    collectionId,
    (existing) => {
      if (!existing) throw new NonRetryableError(`STAC collection ${collectionId} does not exist`);
      return extendCollectionExtent(existing, items);
    },
    (doc) => {
      const v = validateStac(doc, 'collection');
      if (!v.valid) {
        throw new NonRetryableError(
          `STAC collection ${collectionId} would not be valid STAC with its extent grown: ${v.errors.slice(0, 5).join('; ')}`,
        );
      }
    },
  );
}
