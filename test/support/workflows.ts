// Builds workflows for tests from plain objects (JSON is YAML), through the real loader and
// validator, so a test never runs a workflow the product would reject.
import { loadWorkflow } from '../../dag/loadWorkflow';
import type { Plan } from '../../dag/compilePlan';
import { formatIssue } from '../../dag/workflowIssue';
import { defaultRegistry } from '../../handlers/handlerRegistry';

export const catalog = defaultRegistry().catalog();

export function load(def: Record<string, unknown>, file = 'test.yaml') {
  return loadWorkflow(JSON.stringify({ workflow_id: 'test', name: 'test', ...def }, null, 2), file, {
    handlers: catalog,
  });
}

export function planOf(def: Record<string, unknown>): Plan {
  const r = load(def);
  if (!r.plan) throw new Error(`invalid test workflow:\n${r.issues.map(formatIssue).join('\n')}`);
  return r.plan;
}

/** Issue codes of a workflow (for "reports X" assertions). */
export function codes(def: Record<string, unknown>): string[] {
  return load(def).issues.map((i) => i.code);
}

export const task = (next?: string | string[], extra: Record<string, unknown> = {}) => ({
  type: 'task',
  handler: 'echo',
  ...(next === undefined ? {} : { next }),
  ...extra,
});
