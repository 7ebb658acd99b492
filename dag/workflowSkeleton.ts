// The part of a workflow the control flow needs: structure, retry and timeout policies, placement
// fields — without params, templates' bodies, descriptions and input declarations. It is what the
// orchestration receives, which keeps Durable payloads small (< 45 KB) even for big workflows.
import type { NodeDefinition, Workflow } from './workflowModel';

export function workflowSkeleton(workflow: Workflow): Workflow {
  const nodes: Record<string, NodeDefinition> = {};
  for (const [id, node] of Object.entries(workflow.nodes)) {
    const { description: _d, ...rest } = node as NodeDefinition & { description?: string };
    if (rest.type === 'task') nodes[id] = { ...rest, params: {} };
    else if (rest.type === 'fan_out')
      nodes[id] = { ...rest, source: '{{ [] }}', task: { ...rest.task, params: {} } };
    else if (rest.type === 'conditional') {
      const { condition: _c, condition_field: _f, ...cond } = rest;
      nodes[id] = {
        ...cond,
        ...(rest.condition !== undefined ? { condition: '' } : {}),
        ...(rest.condition_field !== undefined ? { condition_field: '' } : {}),
        branches: Array.isArray(rest.branches)
          ? rest.branches.map(({ condition: _bc, ...b }) => ({
              ...b,
              ...(b.default ? {} : { condition: '' }),
            }))
          : rest.branches,
      } as NodeDefinition;
    } else nodes[id] = rest as NodeDefinition;
  }
  return {
    workflow_id: workflow.workflow_id,
    name: workflow.name,
    version: workflow.version,
    inputs: {},
    nodes,
  };
}
