// Activity: hands one attempt to the container workers: marks the node dispatched (with its
// resolved params and deadline) and sends the task message to the node's Storage Queue. The result
// comes back on the result queue and is raised to the orchestration as an event named after the
// task id. Idempotent: a redelivered enqueue of a started attempt sends the message again, and the
// worker acknowledges a task that already has a result without running it twice.
import { INLINE_PARAMS_MAX_BYTES, type ContainerTaskMessage } from '../dag/containerMessages';
import { renderTaskParams } from '../dag/evaluateNode';
import { retryDelaySeconds } from '../dag/retryDelay';
import type { TaskNode } from '../dag/workflowModel';
import { recordTaskResult, startAttempt, type StartAttemptOutcome } from '../db';
import { errorMessage } from '../handlers/executeHandler';
import type { ActivityDeps } from './activityDeps';
import { EnqueueInputSchema, type EnqueueOutput } from './contracts';
import { loadJobData, templateContextFor } from './jobData';
import { notStarted, taskSpec } from './runTasks';

export async function enqueueContainerTask(deps: ActivityDeps, rawInput: unknown): Promise<EnqueueOutput> {
  const a = EnqueueInputSchema.parse(rawInput);
  const data = await loadJobData(deps, a.jobId);
  if (!data) return { ok: false, error: `Job ${a.jobId} does not exist`, retryable: false };
  const spec = taskSpec(data, a.node);
  if (!spec)
    return {
      ok: false,
      error: `Node "${a.node}" is not a task or fan_out of the job's workflow`,
      retryable: false,
    };

  let params: unknown;
  let renderError: string | undefined;
  if (a.index === undefined) {
    const ctx = await templateContextFor(deps, data, a.node, [(spec as TaskNode).params]);
    const r = renderTaskParams(data.plan, a.node, ctx);
    if (r.ok) params = r.value;
    else renderError = r.error;
  }
  const start = await startAttempt(deps.pool, deps.schema, {
    jobId: a.jobId,
    nodeId: a.key,
    taskId: a.taskId,
    attempt: a.attempt,
    to: 'dispatched',
    deadlineAt: new Date(a.deadline),
    ...(a.index === undefined ? { inputParams: params ?? null } : {}),
    handler: spec.handler,
    queue: a.queue,
    sourceApp: deps.sourceApp,
  });
  const early = notStarted(start, a);
  if (early) return early;
  const node = (start as Extract<StartAttemptOutcome, { kind: 'started' | 'already_started' }>).node;
  if (a.index !== undefined) params = node.input_params ?? {};

  const fail = async (error: string, retryable: boolean): Promise<EnqueueOutput> => {
    // The attempt was claimed in Postgres: record its failure there too, so the next attempt can start.
    await recordTaskResult(
      deps.pool,
      deps.schema,
      {
        taskId: a.taskId,
        jobId: a.jobId,
        nodeId: a.key,
        attempt: a.attempt,
        status: 'failed',
        errorMessage: error,
        retryable,
        retryDelayMs: retryDelaySeconds(spec.retry, a.attempt - node.first_attempt) * 1000,
      },
      { sourceApp: deps.sourceApp },
    );
    return { ok: false, error, retryable };
  };
  if (renderError) return fail(renderError, false);

  const inline = Buffer.byteLength(JSON.stringify(params ?? {})) <= INLINE_PARAMS_MAX_BYTES;
  const message: ContainerTaskMessage = {
    v: 1,
    task_id: a.taskId,
    job_id: a.jobId,
    node_id: a.key,
    attempt: a.attempt,
    handler: spec.handler,
    ...(inline ? { params: (params ?? {}) as Record<string, unknown> } : {}),
    params_in_db: !inline,
    timeout_seconds: a.timeoutSeconds,
    deadline: new Date(a.deadline).toISOString(),
    dispatched_at: new Date().toISOString(),
    correlation_id: data.job.correlation_id,
    reply_to: a.instanceId,
    result_queue: deps.resultQueue,
  };
  try {
    await deps.sendToQueue(a.queue, message);
  } catch (err) {
    return fail(`Could not send the task to queue "${a.queue}": ${errorMessage(err)}`, true);
  }
  return { ok: true };
}
