// Activity: what the job orchestration needs to run (or rerun) a job — the pinned workflow's
// skeleton, where each node runs, what a previous run left behind, and a pending cancel.
import { placeTask } from '../dag/runners';
import { workflowSkeleton } from '../dag/workflowSkeleton';
import { readPreviousRun } from '../db';
import type { ActivityDeps } from './activityDeps';
import { LoadJobInputSchema, SCHEDULER_VERSION, type LoadJobOutput, type Placement } from './contracts';
import { loadJobData } from './jobData';

/**
 * A fan-out's max_parallel window is split into at least this many runner calls: one slow child then
 * holds only its few siblings' slots (docs/architecture.md "Wide fan-outs").
 */
const CALLS_PER_WINDOW = 4;

export async function loadJob(deps: ActivityDeps, rawInput: unknown): Promise<LoadJobOutput> {
  const { jobId } = LoadJobInputSchema.parse(rawInput);
  let data;
  try {
    // The row is read fresh: run_count and the cancel flag change between runs.
    data = await loadJobData(deps, jobId, { freshRow: true });
  } catch (err) {
    // A snapshot that no longer parses cannot run; anything else (Postgres down) is retried.
    if (err instanceof Error && err.name === 'ZodError') {
      return { ok: false, error: `Job ${jobId}: its pinned workflow is invalid: ${err.message}` };
    }
    throw err;
  }
  if (!data) return { ok: false, error: `Job ${jobId} does not exist in Postgres (schema ${deps.schema})` };
  const catalog = deps.registry.catalog();
  const placement: Record<string, Placement> = {};
  for (const [id, node] of Object.entries(data.workflow.nodes)) {
    const spec = node.type === 'task' ? node : node.type === 'fan_out' ? node.task : undefined;
    if (!spec) continue;
    const p = placeTask(catalog.get(spec.handler), spec.queue, deps.queueConfig);
    placement[id] = p.queue === undefined ? { runner: p.runner } : { runner: p.runner, queue: p.queue };
    if (p.runner === 'activity' && p.queue === undefined && deps.registry.get(spec.handler)?.light)
      placement[id]!.light = true;
  }
  const version = deps.schedulerVersion ?? SCHEDULER_VERSION;
  const previous = data.job.run_count > 1 ? await readPreviousRun(deps.pool, deps.schema, jobId) : undefined;
  return {
    ok: true,
    workflow: workflowSkeleton(data.workflow),
    placement,
    ...(previous ? { previous } : {}),
    chunkSize: deps.chunkSize,
    activityBatchSize: deps.activityBatchSize,
    // Version 1 histories have neither field: a job pinned to it is recorded as they were.
    ...(version > 1 ? { scheduler: version, callsPerWindow: CALLS_PER_WINDOW } : {}),
    ...(version > 2 && deps.chainBudgetMs ? { chainBudgetMs: deps.chainBudgetMs } : {}),
    cancelled: data.job.cancel_requested_at !== null || data.job.status === 'cancelled',
  };
}
