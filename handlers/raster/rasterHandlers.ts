// The raster handlers of the original system (container runner only). Their names are registered so
// that workflows using them (raster_ingest.yaml) load and route to the container queue; the GDAL
// implementations are tracked by the raster issue. Until then running one fails with a clear,
// non-retryable error instead of a crash.
import { z } from 'zod';
import { NonRetryableError, type HandlerDefinition } from '../handlerTypes';

const RASTER_HANDLERS: Array<[name: string, description: string]> = [
  ['raster.blob_to_mount', 'Streams a blob to the ETL mount.'],
  ['raster.validate', 'Validates a raster: CRS, bit depth, type, compression profile, tiers.'],
  ['raster.create_cog', 'Writes a Cloud-Optimized GeoTIFF and uploads it to the silver container.'],
  ['raster.generate_tiling_scheme', 'Computes a tile grid with overlap.'],
  ['raster.process_tile_batch', 'Turns every tile into a COG, checkpointing after each tile.'],
  ['raster.stac_ensure_collection', 'Upserts a STAC collection.'],
  ['raster.stac_register_item', 'Upserts a STAC item for a COG.'],
  ['raster.stac_register_items', 'Upserts one STAC item per tile.'],
];

export const rasterHandlers: Array<HandlerDefinition<Record<string, unknown>>> = RASTER_HANDLERS.map(
  ([name, description]) => ({
    name,
    description,
    runners: ['container'],
    defaultRunner: 'container',
    defaultQueue: 'container-tasks',
    params: z.record(z.string(), z.unknown()),
    async run() {
      throw new NonRetryableError(`Handler "${name}" is not available in this build of the container worker`);
    },
  }),
);
