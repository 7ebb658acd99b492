// One chunk of a fan-out (at most chunkSize children): the same scheduler loop as a job, over a
// state that holds only this chunk's children and its share of max_parallel.
import type * as df from 'durable-functions';
import { ChunkInputSchema, type FanOutSummary } from '../activities/contracts';
import { compilePlan } from '../dag/compilePlan';
import { chunkSummary } from '../dag/fanOutChunks';
import { initChunkState } from '../dag/initJobState';
import { runScheduler } from './runScheduler';

export function* dagFanOutChunk(
  context: df.OrchestrationContext,
): Generator<df.Task, FanOutSummary, unknown> {
  const input = ChunkInputSchema.parse(context.df.getInput());
  const plan = compilePlan({
    workflow_id: 'chunk',
    name: 'chunk',
    version: 1,
    inputs: {},
    nodes: { [input.node]: input.def },
  });
  const state = initChunkState(plan, input.jobId, input.node, {
    from: input.from,
    to: input.to,
    ...(input.indices ? { indices: input.indices } : {}),
    ...(input.attempts ? { attempts: input.attempts } : {}),
    ...(input.window === undefined ? {} : { window: input.window }),
  });
  const final = yield* runScheduler(context, state, {
    plan,
    jobId: input.jobId,
    placement: { [input.node]: input.placement },
    mode: 'chunk',
    chunkSize: 1,
    activityBatchSize: input.activityBatchSize,
    ...(input.callsPerWindow ? { callsPerWindow: input.callsPerWindow } : {}),
    ...(input.batchedResults ? { batchedResults: true } : {}),
  });
  return chunkSummary(final, input.node);
}
