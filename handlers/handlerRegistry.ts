// The handler registry: which handlers exist and which runners can execute them. Both runners and
// the workflow validator read it, so a workflow naming an unknown handler, or a handler on a queue
// whose runner lacks it, is rejected at load time.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { HandlerCatalog, HandlerInfo } from '../dag/runners';
import type { Settings } from '../lib/loadSettings';
import { BUILTIN_HANDLERS } from './builtinHandlers';
import { handlerModules } from './handlerConfig';
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

/**
 * The registry with every handler shipped in this build, plus those of the modules DAG_HANDLER_MODULES
 * names (the Function App and the container worker both call this at start, so both know them).
 */
export function defaultRegistry(settings?: Settings): HandlerRegistry {
  const r = new HandlerRegistry();
  for (const h of BUILTIN_HANDLERS) r.register(h);
  for (const h of rasterHandlers) r.register(h as HandlerDefinition<never>);
  for (const spec of handlerModules(settings)) loadHandlerModule(r, spec);
  return r;
}

const RUNNERS = new Set(['activity', 'container']);

function isHandler(v: unknown): v is HandlerDefinition<never> {
  const h = v as Partial<HandlerDefinition<never>> | null;
  return (
    typeof h === 'object' &&
    h !== null &&
    typeof h.name === 'string' &&
    typeof h.run === 'function' &&
    typeof (h.params as { safeParse?: unknown } | undefined)?.safeParse === 'function' &&
    Array.isArray(h.runners)
  );
}

/**
 * Loads one module of DAG_HANDLER_MODULES (a path, relative to the working directory, or a package
 * name) and registers its handlers: the module itself when it is one handler, else its `handlers`
 * export (a list), else the default export (one handler or a list), else every export that is a
 * handler definition. Every problem throws with the
 * module's name: it cannot be loaded, it exports no handler, a handler is malformed, or its name is
 * already registered (by a built-in handler or an earlier module).
 */
export function loadHandlerModule(r: HandlerRegistry, spec: string, cwd = process.cwd()): string[] {
  const where = `DAG_HANDLER_MODULES: module "${spec}"`;
  const req = createRequire(path.join(cwd, 'package.json'));
  let mod: Record<string, unknown>;
  try {
    const local = /^[./]|^[A-Za-z]:[\\/]/.test(spec) || existsSync(path.resolve(cwd, spec));
    const target = local ? path.resolve(cwd, spec) : spec;
    mod = req(target) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${where} cannot be loaded: ${(err as Error).message.split('\n')[0]}`);
  }
  const listed = mod.handlers ?? mod.default;
  const candidates: unknown[] = isHandler(mod)
    ? [mod]
    : Array.isArray(listed)
      ? listed
      : listed !== undefined
        ? [listed]
        : Object.values(mod).filter(isHandler);
  if (candidates.length === 0)
    throw new Error(
      `${where} exports no handler: export handlers (a list of handler definitions) or a default one`,
    );
  const names: string[] = [];
  for (const [i, h] of candidates.entries()) {
    if (!isHandler(h))
      throw new Error(
        `${where}: entry ${i} is not a handler definition (it needs name, runners, defaultRunner, params (a zod schema) and run)`,
      );
    const bad = h.runners.filter((x) => !RUNNERS.has(x));
    if (bad.length || h.runners.length === 0)
      throw new Error(
        `${where}: handler "${h.name}" has runners ${JSON.stringify(h.runners)}; use activity and/or container`,
      );
    if (r.get(h.name))
      throw new Error(
        `${where}: handler "${h.name}" is already registered (a built-in handler or an earlier module)`,
      );
    try {
      r.register(h);
    } catch (err) {
      throw new Error(`${where}: ${(err as Error).message}`);
    }
    names.push(h.name);
  }
  return names;
}
