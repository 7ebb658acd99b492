// What every raster handler shares: it runs on the container runner (GDAL, the ETL mount), from
// container-tasks unless the node names a queue, and works with the raster settings of its context.
import type { z } from 'zod';
import type { HandlerContext, HandlerDefinition } from '../handlerTypes';
import type { RasterConfig } from './rasterConfig';

export interface RasterHandlerSpec<P> {
  name: string;
  description: string;
  params: z.ZodType<P>;
  run(params: P, ctx: HandlerContext, config: RasterConfig): Promise<unknown>;
}

/** A container handler that gets the process's raster configuration (ctx.config.raster) as `config`. */
export function rasterHandler<P>(spec: RasterHandlerSpec<P>): HandlerDefinition<P> {
  return {
    name: spec.name,
    description: spec.description,
    runners: ['container'],
    defaultRunner: 'container',
    defaultQueue: 'container-tasks',
    params: spec.params,
    run: (params, ctx) => spec.run(params, ctx, ctx.config.raster),
  };
}
