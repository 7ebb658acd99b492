// The raster handlers of the original system (container runner only): blob → mount → validate → COG
// → STAC, and the tiled variant. GDAL runs as child processes through runProcess; see docs/raster.md.
import type { HandlerDefinition } from '../handlerTypes';
import { blobToMount } from './blobToMount';
import { createCog } from './createCog';
import { processTileBatch } from './processTileBatch';
import { stacEnsureCollection } from './stacEnsureCollection';
import { stacRegisterItem } from './stacRegisterItem';
import { stacRegisterItems } from './stacRegisterItems';
import { generateTilingScheme } from './tilingScheme';
import { validateRaster } from './validateRaster';

export const rasterHandlers: Array<HandlerDefinition<Record<string, unknown>>> = [
  blobToMount,
  validateRaster,
  createCog,
  generateTilingScheme,
  processTileBatch,
  stacEnsureCollection,
  stacRegisterItem,
  stacRegisterItems,
] as unknown as Array<HandlerDefinition<Record<string, unknown>>>;
