// The job orchestration (SPEC §2): loads the pinned workflow skeleton, then runs the scheduler
// loop until the job ends. Postgres is written by the activities; this function is control flow.
import type * as df from 'durable-functions';
import { ACTIVITY, JobOrchestrationInputSchema, type RecordTransitionsInput } from '../activities/contracts';
import { initJobState, rerunJobState } from '../dag/initJobState';
import { pinnedPlan } from './pinnedPlan';
import { runScheduler } from './runScheduler';
import { retryOptions } from './retryOptions';

export interface JobResult {
  jobId: string;
  status: string;
  error?: string;
}

export function* dagJob(context: df.OrchestrationContext): Generator<df.Task, JobResult, unknown> {
  const input = JobOrchestrationInputSchema.parse(context.df.getInput());
  // Before the first yield this is the time of the execution's first episode, in every replay.
  const execution = `${context.df.instanceId}@${context.df.currentUtcDateTime.getTime()}`;
  const pinned = pinnedPlan(
    execution,
    yield context.df.callActivityWithRetry(ACTIVITY.loadJob, retryOptions(), { jobId: input.jobId }),
  );
  if (!pinned.ok) {
    const { loaded } = pinned;
    // The job row is missing or its pinned workflow cannot run: record the failure and stop.
    const at = context.df.currentUtcDateTime.getTime();
    const record: RecordTransitionsInput = {
      jobId: input.jobId,
      events: [{ type: 'job_finished', status: 'failed', error: loaded.error, at }],
      evaluate: [],
    };
    yield context.df.callActivityWithRetry(ACTIVITY.recordTransitions, retryOptions(), record);
    return { jobId: input.jobId, status: 'failed', error: loaded.error };
  }
  const { loaded, plan } = pinned;
  let state = loaded.previous
    ? rerunJobState(
        plan,
        input.jobId,
        { ...loaded.previous, nodes: loaded.previous.nodes },
        { delegateFanOuts: true },
      )
    : initJobState(plan, input.jobId, { delegateFanOuts: true });
  if (loaded.cancelled) state = { ...state, cancelRequested: true, status: 'running' };
  const final = yield* runScheduler(context, state, {
    plan,
    jobId: input.jobId,
    placement: loaded.placement,
    mode: 'job',
    chunkSize: loaded.chunkSize,
    activityBatchSize: loaded.activityBatchSize,
    ...(loaded.callsPerWindow ? { callsPerWindow: loaded.callsPerWindow } : {}),
    coalesceTransitions: (loaded.scheduler ?? 1) >= 2,
    ...(loaded.chainBudgetMs ? { chainBudgetMs: loaded.chainBudgetMs } : {}),
    batchedResults: (loaded.scheduler ?? 1) >= 4,
  });
  return { jobId: input.jobId, status: final.status, ...(final.error ? { error: final.error } : {}) };
}
