// The STAC catalog of the raster handlers, in the database of the process's pool (the handler
// context's): pgSTAC or the product's tables per DAG_STAC_* settings.
import type { DbPool } from '../../db/createPool';
import { openStacCatalog, type StacCatalog } from '../../db/stacCatalog';
import { NonRetryableError } from '../handlerTypes';
import type { RasterConfig } from './rasterConfig';
import { extendCollectionExtent } from './stacDocuments';
import { validateStac } from './stacValidator';

/** The catalog for this configuration (pgSTAC when the database has it, unless DAG_STAC_BACKEND says otherwise). */
export function openRasterCatalog(pool: DbPool, config: RasterConfig): Promise<StacCatalog> {
  return openStacCatalog(pool, {
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
