// How activities render a node's templates without ever stalling the process (issue 20).
//
// First in this thread, on a slice of the node's budget small enough to take a few milliseconds at
// most (IN_THREAD_LIMITS): nearly every node renders here, at the cost of a function call. A node
// that needs more work or memory than the slice is rendered again, from the start, in a render
// worker thread (templateWorkerPool.ts) with the full per-node limits, a heap limit and a deadline.
// Rendering is deterministic, so both runs agree wherever the slice reached; the outcome is the one
// the full limits give, whichever thread produced it (only the worker's deadline and heap limit
// depend on the machine, and the budget stops expensive templates long before them).
import type { Plan } from '../dag/compilePlan';
import {
  evaluateNodeTemplates,
  type Evaluation,
  type NodeTemplateKind,
  type NodeTemplateValues,
} from '../dag/evaluateNode';
import { TEMPLATE_LIMITS, TemplateBudget, type TemplateLimits } from '../dag/templateBudget';
import type { TemplateContext } from '../dag/templateTypes';
import { TemplateWorkerPool } from './templateWorkerPool';

/**
 * The slice of a node's budget rendered in this thread: at most ~3 ms of CPU (3-11 ns a unit,
 * bench/results/dag-template-bombs.json) and 8 MiB.
 */
export const IN_THREAD_LIMITS: TemplateLimits = Object.freeze({
  ...TEMPLATE_LIMITS,
  work: 250_000,
  memory: 8 * 2 ** 20,
});

let pool: TemplateWorkerPool | undefined;

/** The process's render workers (started on first use). */
export function templateWorkers(): TemplateWorkerPool {
  pool ??= new TemplateWorkerPool();
  return pool;
}

/** Stops the render workers (the services' close; the next render starts new ones). */
export async function closeTemplateWorkers(): Promise<void> {
  const p = pool;
  pool = undefined;
  await p?.close();
}

export interface RenderNodeOptions {
  /** The render workers to use (tests); the process's by default. */
  workers?: TemplateWorkerPool;
  /** The per-node limits (tests); TEMPLATE_LIMITS by default. */
  limits?: TemplateLimits;
  /** The in-thread slice (tests); IN_THREAD_LIMITS (within `limits`) by default. */
  inThread?: TemplateLimits;
}

/** Renders one node's templates (a task's params, a conditional, a fan-out's children params). */
export async function renderNodeTemplates<K extends NodeTemplateKind>(
  plan: Plan,
  kind: K,
  nodeId: string,
  ctx: TemplateContext,
  options: RenderNodeOptions = {},
): Promise<Evaluation<NodeTemplateValues[K]>> {
  const limits = options.limits ?? TEMPLATE_LIMITS;
  const sliceLimits = options.inThread ?? {
    ...limits,
    work: Math.min(limits.work, IN_THREAD_LIMITS.work),
    memory: Math.min(limits.memory, IN_THREAD_LIMITS.memory),
  };
  const slice = new TemplateBudget(sliceLimits);
  const r = evaluateNodeTemplates(plan, kind, nodeId, ctx, slice);
  // Out of work or memory on the slice only: the full limits decide, off this thread. (The string
  // and list limits are the same in both, so their failures are final here.)
  const ranOut =
    (slice.exceeded === 'work' && sliceLimits.work < limits.work) ||
    (slice.exceeded === 'memory' && sliceLimits.memory < limits.memory);
  if (!ranOut) return r;
  const workers = options.workers ?? templateWorkers();
  return (await workers.run({ plan, kind, nodeId, ctx, limits })) as Evaluation<NodeTemplateValues[K]>;
}
