// Worker threads for the renders that are too big for a slice of the event loop (renderNodeTemplates.ts
// tries every node in this thread first, on a small budget). A render here cannot block HTTP, timers
// or leases of the main thread; each worker has a heap limit (V8 resourceLimits) and each render a
// wall-clock deadline, after which the worker is terminated and replaced. Both are a backstop: the
// deterministic budget of dag/templateBudget.ts stops expensive templates long before either.
import { createRequire } from 'node:module';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Plan } from '../dag/compilePlan';
import type { Evaluation, NodeTemplateKind } from '../dag/evaluateNode';
import type { TemplateLimits } from '../dag/templateBudget';
import type { TemplateContext } from '../dag/templateTypes';

export interface RenderRequest {
  plan: Plan;
  kind: NodeTemplateKind;
  nodeId: string;
  ctx: TemplateContext;
  /** The per-node limits (TEMPLATE_LIMITS by default). */
  limits?: TemplateLimits;
}

/** Main thread → worker. */
export interface RenderMessage extends RenderRequest {
  id: number;
}

/** Worker → main thread. */
export type RenderReply =
  | { type: 'ready' }
  | { type: 'result'; id: number; result: Evaluation<unknown> }
  | { type: 'error'; id: number; message: string };

export interface TemplateWorkerPoolOptions {
  /** Worker threads at most (started on demand, kept for the next renders). */
  size: number;
  /** Wall-clock time one render may take in a worker (ms), from when the worker starts it. */
  deadlineMs: number;
  /** Old-generation heap of each worker (MB): a render that needs more fails, the process does not. */
  heapMb: number;
}

export const TEMPLATE_WORKER_DEFAULTS: TemplateWorkerPoolOptions = Object.freeze({
  size: 2,
  deadlineMs: 10_000,
  heapMb: 512,
});

interface Job {
  req: RenderRequest;
  resolve(r: Evaluation<unknown>): void;
  reject(e: Error): void;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  job?: Job;
  jobId?: number;
  timer?: NodeJS.Timeout;
}

/** The node (and field) a failure message names. */
export function renderSubject(req: Pick<RenderRequest, 'kind' | 'nodeId'>): string {
  if (req.kind === 'conditional') return `conditional "${req.nodeId}"`;
  if (req.kind === 'fan_out') return `fan-out "${req.nodeId}" source and children params`;
  return `node "${req.nodeId}" params`;
}

/** How the worker script is started: the compiled .js, or the .ts through tsx (tests, dev host). */
function workerScript(): { script: string; eval: boolean } {
  const ext = path.extname(__filename);
  const file = path.join(__dirname, `templateWorker${ext}`);
  if (ext !== '.ts') return { script: file, eval: false };
  const tsx = createRequire(__filename).resolve('tsx/cjs');
  return { script: `require(${JSON.stringify(tsx)}); require(${JSON.stringify(file)});`, eval: true };
}

export class TemplateWorkerPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closed = false;
  /** Renders run, deadlines hit, heap limits hit, workers started (for tests and logs). */
  readonly stats = { renders: 0, timeouts: 0, outOfMemory: 0, started: 0 };

  constructor(readonly options: TemplateWorkerPoolOptions = TEMPLATE_WORKER_DEFAULTS) {}

  /** Renders one node's templates in a worker. Expected failures (including the limits) are values. */
  run(req: RenderRequest): Promise<Evaluation<unknown>> {
    if (this.closed) return Promise.reject(new Error('The template render workers have been closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ req, resolve, reject });
      this.pump();
    });
  }

  /** Stops every worker; queued and running renders are rejected. */
  async close(): Promise<void> {
    this.closed = true;
    const err = new Error('The template render workers were closed');
    for (const job of this.queue.splice(0)) job.reject(err);
    await Promise.all(
      this.slots.splice(0).map((slot) => {
        clearTimeout(slot.timer);
        slot.job?.reject(err);
        return slot.worker.terminate();
      }),
    );
  }

  private pump(): void {
    while (this.queue.length > 0) {
      const slot = this.slots.find((s) => s.ready && s.job === undefined);
      if (!slot) {
        if (this.slots.some((s) => !s.ready) || this.slots.length >= this.options.size) return;
        this.spawn();
        return;
      }
      this.start(slot, this.queue.shift()!);
    }
  }

  private spawn(): void {
    const { script, eval: isEval } = workerScript();
    const worker = new Worker(script, {
      eval: isEval,
      resourceLimits: { maxOldGenerationSizeMb: this.options.heapMb, maxYoungGenerationSizeMb: 64 },
      stdout: false,
      stderr: false,
    });
    worker.unref();
    const slot: Slot = { worker, ready: false };
    this.slots.push(slot);
    this.stats.started++;
    worker.on('message', (m: RenderReply) => this.onMessage(slot, m));
    worker.on('error', (err: Error & { code?: string }) => this.onFailure(slot, err));
    worker.on('exit', (code) => {
      if (this.slots.includes(slot))
        this.onFailure(slot, new Error(`The template render worker exited (code ${code})`));
    });
  }

  private start(slot: Slot, job: Job): void {
    const id = this.nextId++;
    slot.job = job;
    slot.jobId = id;
    slot.worker.ref(); // a render in progress keeps the process alive; an idle worker does not
    slot.timer = setTimeout(() => this.onTimeout(slot), this.options.deadlineMs);
    const msg: RenderMessage = { id, ...job.req };
    try {
      slot.worker.postMessage(msg);
    } catch (err) {
      // Not cloneable: cannot happen for JSON job data, but must not leave the slot busy.
      this.finish(slot);
      job.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private finish(slot: Slot): Job | undefined {
    const job = slot.job;
    clearTimeout(slot.timer);
    slot.job = undefined;
    slot.jobId = undefined;
    slot.timer = undefined;
    slot.worker.unref();
    return job;
  }

  private onMessage(slot: Slot, m: RenderReply): void {
    if (m.type === 'ready') {
      slot.ready = true;
      this.pump();
      return;
    }
    if (m.id !== slot.jobId) return;
    const job = this.finish(slot);
    if (!job) return;
    this.stats.renders++;
    if (m.type === 'result') job.resolve(m.result);
    else
      job.reject(new Error(`Rendering ${renderSubject(job.req)} failed in the render worker: ${m.message}`));
    this.pump();
  }

  /** The deadline passed: the worker is stopped (a render cannot be interrupted otherwise). */
  private onTimeout(slot: Slot): void {
    const job = this.finish(slot);
    this.remove(slot);
    void slot.worker.terminate();
    if (job) {
      this.stats.timeouts++;
      job.resolve({
        ok: false,
        error: `TEMPLATE_TOO_EXPENSIVE: ${renderSubject(job.req)}: rendering took longer than ${this.options.deadlineMs} ms, the time limit of a render. Simplify the template or give it less data.`,
      });
    }
    this.pump();
  }

  private onFailure(slot: Slot, err: Error & { code?: string }): void {
    const job = this.finish(slot);
    this.remove(slot);
    if (job) {
      if (err.code === 'ERR_WORKER_OUT_OF_MEMORY') {
        this.stats.outOfMemory++;
        job.resolve({
          ok: false,
          error: `TEMPLATE_TOO_EXPENSIVE: ${renderSubject(job.req)}: rendering needed more than ${this.options.heapMb} MB of heap, the memory limit of a render. Simplify the template or give it less data.`,
        });
      } else job.reject(new Error(`The template render worker failed: ${err.message}`));
    } else if (!slot.ready) {
      // The worker could not even start: the renders waiting for it cannot run.
      for (const waiting of this.queue.splice(0))
        waiting.reject(new Error(`The template render worker could not start: ${err.message}`));
    }
    this.pump();
  }

  private remove(slot: Slot): void {
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
  }
}
