// A fan-out's coordinator: partitions the children into chunks of at most chunkSize, runs them as
// sub-orchestrations with deterministic ids, at most `concurrency` at a time so that max_parallel
// holds across chunks, and reports the summary to the job orchestration.
import type * as df from 'durable-functions';
import {
  ChunkInputSchema,
  FanOutInputSchema,
  FanOutSummarySchema,
  ORCHESTRATION,
  type ChunkInput,
  type FanOutSummary,
} from '../activities/contracts';
import { planChunks } from '../dag/fanOutChunks';

export function* dagFanOut(context: df.OrchestrationContext): Generator<df.Task, FanOutSummary, unknown> {
  const input = FanOutInputSchema.parse(context.df.getInput());
  const { chunks, concurrency } = planChunks(
    input.count,
    input.chunkSize,
    input.def.max_parallel,
    input.indices,
    input.attempts,
  );
  const summary: FanOutSummary = { failed: 0, failedSample: [], cancelled: false };
  const running = new Map<number, df.Task>();
  let next = 0;
  while (next < chunks.length || running.size) {
    // New chunks go into one Task.any the first time they are yielded; after that the loop waits
    // on the oldest alone (re-yielding a task inside a new Task.any would schedule it again: see
    // runScheduler.ts).
    const started: df.Task[] = [];
    while (!summary.cancelled && running.size < concurrency && next < chunks.length) {
      const spec = chunks[next]!;
      const chunk: ChunkInput = ChunkInputSchema.parse({
        jobId: input.jobId,
        node: input.node,
        def: input.def,
        placement: input.placement,
        activityBatchSize: input.activityBatchSize,
        ...(input.callsPerWindow ? { callsPerWindow: input.callsPerWindow } : {}),
        ...(input.batchedResults ? { batchedResults: true } : {}),
        ...spec,
      });
      const task = context.df.callSubOrchestrator(
        ORCHESTRATION.fanOutChunk,
        chunk,
        `${context.df.instanceId}:${next}`,
      );
      running.set(next, task);
      started.push(task);
      next++;
    }
    if (!running.size) break;
    context.df.setCustomStatus({
      chunks: chunks.length,
      started: next,
      running: running.size,
      failed: summary.failed,
    });
    yield started.length ? context.df.Task.any(started) : running.values().next().value!;
    for (const [k, task] of running) {
      if (!task.isCompleted) continue;
      running.delete(k);
      const r = task.isFaulted ? undefined : FanOutSummarySchema.safeParse(task.result);
      if (r?.success) merge(summary, r.data);
      else {
        // A chunk orchestration that failed outright: count its children as failed, say why.
        const spec = chunks[k]!;
        const n = spec.indices?.length ?? spec.to - spec.from;
        merge(summary, {
          failed: n,
          failedSample: (spec.indices ?? [spec.from]).slice(0, 5),
          firstError: {
            key: `${input.node}__${spec.indices?.[0] ?? spec.from}`,
            error: `chunk ${k} failed: ${String(task.result)}`,
          },
          cancelled: false,
        });
      }
    }
  }
  return summary;
}

function merge(into: FanOutSummary, s: FanOutSummary): void {
  into.failed += s.failed;
  into.failedSample = [...into.failedSample, ...s.failedSample].sort((a, b) => a - b).slice(0, 5);
  if (!into.firstError && s.firstError) into.firstError = s.firstError;
  into.cancelled ||= s.cancelled;
}
