// Loads the app entry (the module whose top level calls app.* / df.app.*) with plain CommonJS
// `require`, capturing its registrations in a FunctionRegistry, and describes each function.
import Module, { createRequire } from 'node:module';
import path from 'node:path';
import { DevHostError, errorMessage } from './devHostError';
import {
  FunctionRegistry,
  getProgrammingModel,
  installFunctionsCore,
  setRegistrationTarget,
  type CoreBinding,
  type RegisteredFunction,
} from './functionsCore';

export type FunctionKind = 'http' | 'orchestration' | 'activity' | 'entity' | 'timer' | 'queue' | 'other';

export interface Registration {
  name: string;
  kind: FunctionKind;
  /** Trigger binding name (the key in metadata.bindings). */
  triggerBinding: string;
  trigger: CoreBinding;
  /** Extra input bindings keyed by binding name (durableClient, ...). */
  inputs: Record<string, CoreBinding>;
  /** Output bindings keyed by binding name, including `$return`. */
  outputs: Record<string, CoreBinding>;
  /** Whether the dev host can run this function's trigger. */
  supported: boolean;
}

export interface LoadedApp {
  appEntry: string;
  registry: FunctionRegistry;
  registrations: Map<string, Registration>;
}

const kinds: Record<string, FunctionKind> = {
  httpTrigger: 'http',
  orchestrationTrigger: 'orchestration',
  activityTrigger: 'activity',
  entityTrigger: 'entity',
  timerTrigger: 'timer',
  queueTrigger: 'queue',
};

// @azure/functions and the app's modules are cached by require; a second host in the same process
// reuses what the first load captured (re-running the entry would register everything twice).
const loadedKey = Symbol.for('rmhdagmaster.devhost.loadedApps');
const globalState = globalThis as unknown as Record<symbol, Map<string, FunctionRegistry> | undefined>;
const loaded: Map<string, FunctionRegistry> = (globalState[loadedKey] ??= new Map());

export function loadApp(appEntry: string): LoadedApp {
  installFunctionsCore();
  const resolved = path.resolve(appEntry);
  let registry = loaded.get(resolved);
  if (!registry) {
    registry = new FunctionRegistry(resolved);
    const req = createRequire(resolved);
    if (/\.[cm]?tsx?$/.test(resolved)) ensureTypeScriptHook(req);
    setRegistrationTarget(registry);
    try {
      req(resolved);
    } catch (err) {
      setRegistrationTarget(undefined);
      throw new DevHostError('app-load', `Loading the app entry ${resolved} failed: ${errorMessage(err)}`, {
        cause: err,
      });
    }
    if (registry.functions.size === 0) {
      setRegistrationTarget(undefined);
      throw new DevHostError(
        'app-load',
        `The app entry ${resolved} registered no functions. It must call app.http/app.generic/df.app.* at its top ` +
          'level. If @azure/functions registered functions before the dev host was started in this process, ' +
          'it switched to "test mode" for good: start the dev host before anything registers functions.',
      );
    }
    loaded.set(resolved, registry);
  } else {
    setRegistrationTarget(registry);
  }
  getProgrammingModel(); // fails clearly if the library never talked to the core module
  const registrations = new Map<string, Registration>();
  for (const [name, fn] of registry.functions) registrations.set(name, describe(name, fn));
  return { appEntry: resolved, registry, registrations };
}

const byLowerName = new WeakMap<ReadonlyMap<string, Registration>, Map<string, Registration>>();

/**
 * The registration a Durable function name refers to. Names are case-insensitive on Azure (the
 * extension keys its functions by FunctionName, compared OrdinalIgnoreCase), so 'SayHello' finds
 * 'sayHello'. The caller keeps the name as given (history and status show it) and invokes reg.name.
 */
export function findRegistration(
  registrations: ReadonlyMap<string, Registration>,
  name: string,
): Registration | undefined {
  const exact = registrations.get(name);
  if (exact) return exact;
  let lower = byLowerName.get(registrations);
  if (!lower || lower.size !== registrations.size) {
    lower = new Map();
    for (const r of registrations.values())
      if (!lower.has(r.name.toLowerCase())) lower.set(r.name.toLowerCase(), r);
    byLowerName.set(registrations, lower);
  }
  return lower.get(name.toLowerCase());
}

const capabilitiesKey = Symbol.for('rmhdagmaster.devhost.capabilities');

/**
 * Asks the library for its worker capabilities once per process, as the worker does at start-up
 * (this also locks app.setup()). HTTP streaming needs the worker's HTTP proxy: not emulated.
 */
export async function checkCapabilities(): Promise<void> {
  const g = globalThis as unknown as Record<symbol, Promise<Record<string, string>> | undefined>;
  const model = getProgrammingModel();
  const caps: Record<string, string> = await (g[capabilitiesKey] ??=
    model.getCapabilities?.({}) ?? Promise.resolve<Record<string, string>>({}));
  if (caps.HttpUri) {
    throw new DevHostError(
      'unsupported',
      'The app enables HTTP streaming (app.setup({ enableHttpStream: true })), which the dev host does not support.',
    );
  }
}

function describe(name: string, fn: RegisteredFunction): Registration {
  const entries = Object.entries(fn.metadata.bindings);
  const trig = entries.find(([, b]) => b.direction === 'in' && /trigger$/i.test(b.type));
  if (!trig) throw new DevHostError('app-load', `Function '${name}' has no trigger binding`);
  const [triggerBinding, trigger] = trig;
  const inputs: Record<string, CoreBinding> = {};
  const outputs: Record<string, CoreBinding> = {};
  for (const [k, b] of entries) {
    if (k === triggerBinding) continue;
    if (b.direction === 'out') outputs[k] = b;
    else inputs[k] = b;
  }
  const kind = kinds[trigger.type] ?? 'other';
  return {
    name,
    kind,
    triggerBinding,
    trigger,
    inputs,
    outputs,
    supported: kind !== 'other' && kind !== 'entity',
  };
}

/** .ts app entries need a CommonJS TypeScript hook unless the process already runs under tsx. */
function ensureTypeScriptHook(req: NodeJS.Require): void {
  const extensions = (Module as unknown as { _extensions: Record<string, unknown> })._extensions;
  if (extensions['.ts']) return;
  try {
    req('tsx/cjs');
  } catch (err) {
    throw new DevHostError(
      'app-load',
      `The app entry is TypeScript but tsx is not available (${errorMessage(err)}). Install tsx or run node with --import tsx.`,
    );
  }
}
