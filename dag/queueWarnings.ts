// Warnings (not errors: the workflow can run) about where a workflow's tasks would wait forever:
// a container queue that no configured worker consumes. Its tasks would sit in the queue until
// their timeout (an hour by default), so validate and submit say so up front.
import { placeTask, type QueueConfig } from './runners';
import { taskPlacement } from './taskPlacement';
import type { ValidateOptions } from './validateWorkflow';
import type { WorkflowIssue } from './workflowIssue';
import type { Workflow } from './workflowModel';

type Warning = Omit<WorkflowIssue, 'file' | 'line' | 'col'>;

export interface QueueWarningOptions extends Partial<QueueConfig> {
  handlers?: ValidateOptions['handlers'];
  /** The queues the container workers consume (DAG_WORKER_QUEUES); no check when absent. */
  workerQueues?: readonly string[];
}

export function queueWarnings(workflow: Workflow, options: QueueWarningOptions): Warning[] {
  const consumed = options.workerQueues;
  if (!consumed) return [];
  const out: Warning[] = [];
  for (const id of Object.keys(workflow.nodes).sort()) {
    const spec = taskPlacement(workflow, id);
    if (!spec) continue;
    const placed = placeTask(options.handlers?.get(spec.handler), spec.queue, options);
    if (placed.runner !== 'container' || !placed.queue || consumed.includes(placed.queue)) continue;
    out.push({
      code: 'unconsumed_queue',
      severity: 'warning',
      path: spec.queue !== undefined ? [...spec.path, 'queue'] : [...spec.path, 'handler'],
      message:
        `queue "${placed.queue}" is neither an activity queue (${(options.activityQueues ?? []).join(', ') || 'none'}) ` +
        `nor one that the configured container workers consume (${consumed.join(', ')}): its tasks would wait ` +
        'there until they time out',
      hint: `add "${placed.queue}" to DAG_WORKER_QUEUES of a worker, or use one of those queues`,
    });
  }
  return out;
}
