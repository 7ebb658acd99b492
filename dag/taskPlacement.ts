// What runs where, node by node: the handler and queue of a task node, or of a fan-out's children,
// with the YAML path they were written at (for issues pointing at the file).
import type { IssuePath } from './workflowIssue';
import type { Workflow } from './workflowModel';

export interface TaskPlacement {
  handler: string;
  queue: string | undefined;
  /** `nodes.<id>` for a task, `nodes.<id>.task` for a fan-out's children. */
  path: IssuePath;
}

export function taskPlacement(workflow: Workflow, id: string): TaskPlacement | undefined {
  const node = workflow.nodes[id];
  if (node?.type === 'task') return { handler: node.handler, queue: node.queue, path: ['nodes', id] };
  if (node?.type === 'fan_out')
    return { handler: node.task.handler, queue: node.task.queue, path: ['nodes', id, 'task'] };
  return undefined;
}
