// The handler registry: which handlers exist and which runners can execute them. Both runners and
// the workflow validator read it, so a workflow naming an unknown handler, or a handler on a queue
// whose runner lacks it, is rejected at load time.
import type { HandlerCatalog, HandlerInfo } from '../dag/runners';
import { BUILTIN_HANDLERS } from './builtinHandlers';
import { rasterHandlers } from './raster/rasterHandlers';
import type { HandlerDefinition } from './handlerTypes';

export class HandlerRegistry {
  private readonly handlers = new Map<string, HandlerDefinition<never>>();

  register(def: HandlerDefinition<never>): this {
    if (this.handlers.has(def.name)) throw new Error(`Handler "${def.name}" is registered twice`);
    if (!def.runners.includes(def.defaultRunner))
      throw new Error(`Handler "${def.name}": default runner ${def.defaultRunner} is not one of its runners`);
    this.handlers.set(def.name, def);
    return this;
  }

  get(name: string): HandlerDefinition<never> | undefined {
    return this.handlers.get(name);
  }

  names(): string[] {
    return [...this.handlers.keys()].sort();
  }

  /** The view the validator and the scheduler need: names and runners. */
  catalog(): HandlerCatalog {
    const m = new Map<string, HandlerInfo>();
    for (const [name, h] of this.handlers) {
      m.set(name, {
        runners: h.runners,
        defaultRunner: h.defaultRunner,
        ...(h.defaultQueue ? { defaultQueue: h.defaultQueue } : {}),
      });
    }
    return m;
  }
}

/** The registry with every handler shipped in this build. */
export function defaultRegistry(): HandlerRegistry {
  const r = new HandlerRegistry();
  for (const h of BUILTIN_HANDLERS) r.register(h);
  for (const h of rasterHandlers) r.register(h as HandlerDefinition<never>);
  return r;
}
