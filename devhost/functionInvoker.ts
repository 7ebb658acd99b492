// Invokes registered functions the way the Node.js worker does: ProgrammingModel →
// InvocationModel.getArguments → preInvocation hooks → invokeFunction → postInvocation hooks →
// getResponse. Argument and return conversions are the library's own.
import { randomUUID } from 'node:crypto';
import { errorMessage } from './devHostError';
import {
  getProgrammingModel,
  type CoreCallback,
  type CoreInvocationContext,
  type FunctionRegistry,
  type RpcInvocationResponse,
  type RpcTypedData,
} from './functionsCore';
import type { Logger } from './logger';

export interface InputBinding {
  name: string;
  data: RpcTypedData | undefined;
}

export type InvocationResult =
  | {
      ok: true;
      response: RpcInvocationResponse;
      context: InvocationContextLike | undefined;
      durationMs: number;
    }
  | { ok: false; error: Error; context: InvocationContextLike | undefined; durationMs: number };

/** The parts of @azure/functions' InvocationContext the dev host reads after an invocation. */
export interface InvocationContextLike {
  invocationId?: string;
  df?: { taskOrchestratorExecutor?: { openTasks?: Record<string, unknown> } };
}

export class FunctionInvoker {
  constructor(
    private readonly registry: FunctionRegistry,
    private readonly logger: Logger,
  ) {}

  async invoke(
    functionName: string,
    inputData: InputBinding[],
    triggerMetadata?: Record<string, RpcTypedData>,
  ): Promise<InvocationResult> {
    const started = performance.now();
    const fn = this.registry.get(functionName);
    const invocationId = randomUUID();
    const log = this.logger.child({ function: functionName, invocationId });
    const logHooks = this.registry.hooks.log;
    const coreCtx: CoreInvocationContext = {
      invocationId,
      metadata: fn.metadata,
      request: { inputData, triggerMetadata: triggerMetadata ?? {} },
      state: 'preInvocationHooks',
      log: (level, category, message) => {
        const lvl =
          level === 'error' || level === 'critical'
            ? 'error'
            : level === 'warning'
              ? 'warn'
              : category === 'user'
                ? 'info'
                : 'debug';
        log[lvl](message, { category });
        for (const hook of logHooks) {
          try {
            hook({
              level,
              message,
              category,
              invocationContext: context,
              hookData: {},
              appHookData: this.registry.appHookData,
            });
          } catch (err) {
            log.warn(`log hook threw: ${errorMessage(err)}`);
          }
        }
      },
    };
    let context: InvocationContextLike | undefined;
    try {
      const model = getProgrammingModel().getInvocationModel(coreCtx);
      const args = await model.getArguments();
      context = args.context as InvocationContextLike;
      let inputs = args.inputs;
      let callback: CoreCallback = fn.callback;
      const hookData: Record<string, unknown> = {};
      if (this.registry.hooks.preInvocation.length) {
        const pre: Record<string, unknown> = {
          hookData,
          appHookData: this.registry.appHookData,
          invocationContext: context,
          functionCallback: callback,
          inputs,
        };
        for (const hook of this.registry.hooks.preInvocation) await hook(pre);
        inputs = pre.inputs as unknown[];
        callback = pre.functionCallback as CoreCallback;
      }
      coreCtx.state = 'invocation';
      let result: unknown;
      let error: unknown;
      try {
        result = await model.invokeFunction(context, inputs, callback);
      } catch (err) {
        error = err;
      }
      coreCtx.state = 'postInvocationHooks';
      if (this.registry.hooks.postInvocation.length) {
        const post: Record<string, unknown> = {
          hookData,
          appHookData: this.registry.appHookData,
          invocationContext: context,
          inputs,
          result,
          error,
        };
        for (const hook of this.registry.hooks.postInvocation) await hook(post);
        result = post.result;
        error = post.error;
      }
      if (error !== undefined) {
        return { ok: false, error: toError(error), context, durationMs: performance.now() - started };
      }
      const response = await model.getResponse(context, result);
      return { ok: true, response, context, durationMs: performance.now() - started };
    } catch (err) {
      return { ok: false, error: toError(err), context, durationMs: performance.now() - started };
    }
  }
}

function toError(err: unknown): Error {
  if (err instanceof Error) return err;
  const e = new Error(typeof err === 'string' ? err : JSON.stringify(err));
  return e;
}
