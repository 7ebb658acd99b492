// A fake `@azure/functions-core`, installed the way the real Node.js worker does it
// (azure-functions-nodejs-worker setupCoreModule: a proxy on Module.prototype.require). The
// `@azure/functions` library then hands us every registration (`app.http`, `app.generic`, `df.app.*`,
// hooks) and its ProgrammingModel, through which the dev host invokes handlers exactly like the worker.
import Module from 'node:module';
import { DevHostError } from './devHostError';
import type { Logger } from './logger';

export type RpcTypedData = {
  string?: string;
  json?: string;
  bytes?: Uint8Array;
  stream?: Uint8Array;
  http?: unknown;
  int?: number;
  double?: number;
  [k: string]: unknown;
};

export interface CoreBinding {
  type: string;
  direction: 'in' | 'out' | 'inout';
  name?: string;
  [key: string]: unknown;
}

export interface CoreFunctionMetadata {
  name: string;
  bindings: Record<string, CoreBinding>;
  retryOptions?: unknown;
}

export type CoreCallback = (...args: unknown[]) => unknown;

export interface RpcInvocationResponse {
  invocationId?: string;
  returnValue?: RpcTypedData | null;
  outputData?: { name: string; data: RpcTypedData | null | undefined }[];
}

export interface CoreInvocationContext {
  invocationId: string;
  metadata: CoreFunctionMetadata;
  request: {
    inputData: { name: string; data: RpcTypedData | undefined }[];
    triggerMetadata?: Record<string, RpcTypedData>;
  };
  state?: 'preInvocationHooks' | 'postInvocationHooks' | 'invocation';
  log(level: string, category: string, message: string): void;
}

export interface InvocationModel {
  getArguments(): Promise<{ context: unknown; inputs: unknown[] }>;
  invokeFunction(context: unknown, inputs: unknown[], handler: CoreCallback): Promise<unknown>;
  getResponse(context: unknown, result: unknown): Promise<RpcInvocationResponse>;
}

export interface ProgrammingModel {
  name: string;
  version: string;
  getInvocationModel(coreCtx: CoreInvocationContext): InvocationModel;
  getCapabilities?(capabilities: Record<string, string>): Promise<Record<string, string>>;
}

export type HookName = 'appStart' | 'appTerminate' | 'preInvocation' | 'postInvocation' | 'log';
export type HookCallback = (context: Record<string, unknown>) => unknown;

export interface RegisteredFunction {
  metadata: CoreFunctionMetadata;
  callback: CoreCallback;
}

class Disposable {
  static from(...inputs: { dispose(): unknown }[]): Disposable {
    return new Disposable(() => inputs.forEach((i) => i.dispose()));
  }
  #onDispose: (() => unknown) | undefined;
  constructor(onDispose: () => unknown) {
    this.#onDispose = onDispose;
  }
  dispose(): void {
    const f = this.#onDispose;
    this.#onDispose = undefined;
    f?.();
  }
}

/** Everything one app entry registered. */
export class FunctionRegistry {
  readonly functions = new Map<string, RegisteredFunction>();
  readonly hooks: Record<HookName, HookCallback[]> = {
    appStart: [],
    appTerminate: [],
    preInvocation: [],
    postInvocation: [],
    log: [],
  };
  /** Shared by appStart/appTerminate and invocation hooks, as in the worker. */
  readonly appHookData: Record<string, unknown> = {};
  constructor(readonly appEntry: string) {}

  get(name: string): RegisteredFunction {
    const fn = this.functions.get(name);
    if (!fn)
      throw new DevHostError('not-found', `No function named '${name}' is registered by ${this.appEntry}`);
    return fn;
  }
}

interface CoreState {
  installed: boolean;
  /** Registrations go here; set while an app entry loads and kept afterwards (lazy registrations). */
  target: FunctionRegistry | undefined;
  programmingModel: ProgrammingModel | undefined;
  logger: Logger | undefined;
}

// Process-wide, like the worker: @azure/functions caches the core module it first sees.
const stateKey = Symbol.for('rmhdagmaster.devhost.functionsCore');
const globalState = globalThis as unknown as Record<symbol, CoreState | undefined>;
const state: CoreState = (globalState[stateKey] ??= {
  installed: false,
  target: undefined,
  programmingModel: undefined,
  logger: undefined,
});

const coreApi = {
  // Versions the library may check; values describe this emulation, not a real worker.
  version: '3.10.1',
  hostVersion: '4.1037.0',
  Disposable,
  setProgrammingModel(model: ProgrammingModel): void {
    state.programmingModel = model;
  },
  getProgrammingModel(): ProgrammingModel | undefined {
    return state.programmingModel;
  },
  registerFunction(metadata: CoreFunctionMetadata, callback: CoreCallback): Disposable {
    const registry = targetRegistry(`register function '${metadata.name}'`);
    if (registry.functions.has(metadata.name)) {
      throw new DevHostError(
        'app-load',
        `A function named '${metadata.name}' is already registered (${registry.appEntry}). Function names must be unique.`,
      );
    }
    registry.functions.set(metadata.name, { metadata, callback });
    return new Disposable(() => registry.functions.delete(metadata.name));
  },
  registerHook(hookName: string, callback: HookCallback): Disposable {
    const registry = targetRegistry(`register a '${hookName}' hook`);
    if (!(hookName in registry.hooks)) {
      throw new DevHostError('unsupported', `Hook '${hookName}' is not supported by the dev host`);
    }
    const list = registry.hooks[hookName as HookName];
    list.push(callback);
    return new Disposable(() => {
      const i = list.indexOf(callback);
      if (i >= 0) list.splice(i, 1);
    });
  },
  log(level: string, category: string, message: string): void {
    const logger = state.logger;
    if (!logger) return;
    const lvl = level === 'error' || level === 'critical' ? 'error' : level === 'warning' ? 'warn' : 'debug';
    logger[lvl](message, { category });
  },
};

function targetRegistry(action: string): FunctionRegistry {
  if (!state.target) {
    throw new DevHostError(
      'app-load',
      `Cannot ${action}: no dev host app is loading. Start the dev host first.`,
    );
  }
  return state.target;
}

/** Installs the fake core module (idempotent). Must run before `@azure/functions` registers anything. */
export function installFunctionsCore(): void {
  if (state.installed) return;
  const proto = Module.prototype as unknown as { require: (id: string) => unknown };
  proto.require = new Proxy(proto.require, {
    apply(target, thisArg, args: [string]) {
      if (args[0] === '@azure/functions-core') return coreApi;
      return Reflect.apply(target, thisArg, args);
    },
  });
  state.installed = true;
}

export function setRegistrationTarget(registry: FunctionRegistry | undefined): void {
  state.target = registry;
}

export function setCoreLogger(logger: Logger | undefined): void {
  state.logger = logger;
}

export function getProgrammingModel(): ProgrammingModel {
  if (!state.programmingModel) {
    throw new DevHostError(
      'app-load',
      'The @azure/functions library never set its programming model: no function was registered through it.',
    );
  }
  return state.programmingModel;
}
