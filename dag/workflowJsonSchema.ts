// The JSON Schema of the workflow format, generated from the same zod model the loader uses, so
// editors (yaml-language-server) complete and check workflow files exactly as the product does.
import { z } from 'zod';
import { WorkflowSchema } from './workflowModel';

export function workflowJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(WorkflowSchema, { io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return {
    ...schema,
    $id: 'https://rmhdagmaster.dev/schemas/workflow.schema.json',
    title: 'rmhdagmaster workflow',
    description: 'A DAG workflow: nodes (start, end, task, conditional, fan_out, fan_in), edges, inputs.',
  };
}
