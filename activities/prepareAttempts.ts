// The first step of both runners' activities (runTasks, enqueueContainerTasks): the job's data and,
// per attempt, its task definition and params — a static task's rendered now from upstream outputs,
// a fan-out child's given at expansion.
import type { FanOutNode, TaskNode } from '../dag/workflowModel';
import type { ActivityDeps } from './activityDeps';
import type { TaskAttempt } from './contracts';
import { loadJobData, templateContextFor, type JobData } from './jobData';
import { renderNodeTemplates } from './renderNodeTemplates';

export interface PreparedAttempt<A extends TaskAttempt> {
  a: A;
  spec: TaskNode | FanOutNode['task'] | undefined;
  params: unknown;
  renderError: string | undefined;
}

export type Prepared<A extends TaskAttempt> =
  | { ok: true; data: JobData; prepared: PreparedAttempt<A>[] }
  /** The job does not exist: every attempt's (non-retryable) outcome. */
  | { ok: false; results: Array<{ ok: false; error: string; retryable: false }> };

export async function prepareAttempts<A extends TaskAttempt>(
  deps: ActivityDeps,
  attempts: A[],
): Promise<Prepared<A>> {
  const jobId = attempts[0]!.jobId;
  const data = await loadJobData(deps, jobId);
  if (!data)
    return {
      ok: false,
      results: attempts.map(() => ({ ok: false, error: `Job ${jobId} does not exist`, retryable: false })),
    };
  const render = async (a: A, spec: TaskNode): Promise<PreparedAttempt<A>> => {
    const ctx = await templateContextFor(deps, data, a.node, [spec.params]);
    const r = await renderNodeTemplates(data.plan, 'task_params', a.node, ctx);
    return r.ok
      ? { a, spec, params: r.value as unknown, renderError: undefined }
      : { a, spec, params: undefined, renderError: r.error };
  };
  // Children are prepared without an await each (a fan-out batch is all children: with telemetry on,
  // every promise also carries its context).
  const pending = attempts.map((a): PreparedAttempt<A> | Promise<PreparedAttempt<A>> => {
    const spec = a.jobId === jobId ? taskSpec(data, a.node) : undefined;
    if (!spec)
      return {
        a,
        spec,
        params: undefined,
        renderError: `Node "${a.node}" is not a task or fan_out of job ${a.jobId}`,
      };
    if (a.index !== undefined) return { a, spec, params: undefined, renderError: undefined };
    return render(a, spec as TaskNode);
  });
  const prepared = pending.some((p) => p instanceof Promise)
    ? await Promise.all(pending)
    : (pending as PreparedAttempt<A>[]);
  return { ok: true, data, prepared };
}

/** The task definition of a task node or of a fan-out's children. */
export function taskSpec(data: JobData, nodeId: string): TaskNode | FanOutNode['task'] | undefined {
  const node = data.workflow.nodes[nodeId];
  if (node?.type === 'task') return node;
  if (node?.type === 'fan_out') return node.task;
  return undefined;
}
