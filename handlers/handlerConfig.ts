// The handlers' configuration: the one place under handlers/ that reads the process environment.
// Built once per process by whoever runs handlers (the activity runner, the container worker) and
// handed to every handler through its context (HandlerContext.config).
import { z } from 'zod';
import { parseSettings, type Settings } from '../lib/loadSettings';
import { loadRasterConfig, type RasterConfig } from './raster/rasterConfig';

export interface HandlerConfig {
  /**
   * The raster handlers' settings (docs/raster.md), read on first use and kept: the Function App runs
   * the same registry without them, so a wrong value fails the raster tasks (non-retryable, naming
   * the variable), not the process.
   */
  readonly raster: RasterConfig;
}

/** The handler configuration of these settings (default: the process environment). */
export function loadHandlerConfig(settings: Settings = process.env): HandlerConfig {
  let raster: { config: RasterConfig } | { error: unknown } | undefined;
  return {
    get raster() {
      if (!raster) {
        try {
          raster = { config: loadRasterConfig(settings) };
        } catch (error) {
          raster = { error };
        }
      }
      if ('error' in raster) throw raster.error;
      return raster.config;
    },
  };
}

const HandlerModulesSchema = z.object({
  DAG_HANDLER_MODULES: z
    .string()
    .optional()
    .transform((s) =>
      (s ?? '')
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    ),
});

/** DAG_HANDLER_MODULES: the modules whose handlers join the registry (paths or package names). */
export function handlerModules(settings: Settings = process.env): string[] {
  const r = parseSettings(HandlerModulesSchema, settings);
  return r.ok ? r.config.DAG_HANDLER_MODULES : [];
}
