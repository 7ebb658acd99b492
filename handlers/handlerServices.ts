// The services of handlers, built once per process by whoever runs them (the activity runner, the
// container worker): the process's pool, its handler configuration and the blob storage it names.
import type { DbPool } from '../db/createPool';
import { loadHandlerConfig, type HandlerConfig } from './handlerConfig';
import type { HandlerServices } from './handlerTypes';
import { rasterBlobs } from './raster/blobService';

export function handlerServices(pool: DbPool, config: HandlerConfig = loadHandlerConfig()): HandlerServices {
  return { pool, config, blobs: rasterBlobs(() => config.raster) };
}
