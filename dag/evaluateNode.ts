// Evaluating the nodes that route or reshape data: conditionals (both forms), fan-out sources and
// child params, fan-in aggregation. Pure functions of a template context; the scheduler asks for
// them with `evaluate` decisions and the caller (an activity with access to the data, or a
// simulation) applies the result as an event.
import { aggregateFanIn } from './aggregateFanIn';
import type { Plan } from './compilePlan';
import { evaluateCondition } from './evaluateCondition';
import { isTemplateString } from './inspectTemplate';
import type { JobState } from './jobState';
import { renderString, renderValue } from './renderTemplate';
import type { TemplateContext } from './templateTypes';
import { asTemplate, directUpstream } from './validateWorkflow';
import type { ConditionalNode, FanOutNode, InputDefinition } from './workflowModel';

export type Evaluation<T> = { ok: true; value: T } | { ok: false; error: string; retryable?: false };

export interface ConditionalResult {
  taken: string[];
  output: { taken_branch: string; skipped_branches: string[]; value: unknown; branch?: string };
}

export function evaluateConditional(
  plan: Plan,
  nodeId: string,
  ctx: TemplateContext,
): Evaluation<ConditionalResult> {
  const node = plan.workflow.nodes[nodeId] as ConditionalNode;
  const targets = plan.branchTargets[nodeId] ?? [];
  const pick = (target: string, value: unknown, branch?: string): Evaluation<ConditionalResult> => ({
    ok: true,
    value: {
      taken: [target],
      output: {
        taken_branch: target,
        skipped_branches: targets.filter((t) => t !== target),
        value: value === undefined ? null : value,
        ...(branch === undefined ? {} : { branch }),
      },
    },
  });

  if (!Array.isArray(node.branches)) {
    const r = renderString(asTemplate(node.condition ?? ''), ctx);
    if (!r.ok) return { ok: false, error: `Conditional "${nodeId}": ${r.error.message}` };
    const key = branchKey(r.value);
    const target = Object.hasOwn(node.branches, key) ? node.branches[key] : undefined;
    if (target !== undefined) return pick(target, r.value, key);
    if (node.default !== undefined) return pick(node.default, r.value, 'default');
    return {
      ok: false,
      error: `Conditional "${nodeId}": no branch for the value ${JSON.stringify(r.value ?? null)} (branches: ${Object.keys(node.branches).join(', ')}) and no default. Add a default branch or a branch for this value.`,
    };
  }

  const field = conditionFieldValue(plan, nodeId, node, ctx);
  if (!field.ok) return field;
  const { value, output } = field.value;
  for (const [i, b] of node.branches.entries()) {
    if (b.default || b.condition === undefined) continue;
    const r = evaluateCondition(b.condition, value, output);
    if (!r.ok)
      return { ok: false, error: `Conditional "${nodeId}" branch ${b.name ?? i}: ${r.error.message}` };
    if (r.value) return pick(b.next, value, b.name ?? String(i));
  }
  const fallback = node.branches.find((b) => b.default);
  if (fallback) return pick(fallback.next, value, fallback.name ?? 'default');
  return {
    ok: false,
    error: `Conditional "${nodeId}": no branch matched the value ${JSON.stringify(value ?? null)} of ${node.condition_field} and there is no default branch. Add a branch with default: true.`,
  };
}

function branchKey(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === undefined || v === null) return 'null';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** The value a list-form conditional compares: a template, or a dot path into the upstream output. */
function conditionFieldValue(
  plan: Plan,
  nodeId: string,
  node: ConditionalNode,
  ctx: TemplateContext,
): Evaluation<{ value: unknown; output: unknown }> {
  const field = node.condition_field ?? '';
  const upstream = directUpstream(plan, nodeId);
  const output = upstream.length === 1 ? ctx.nodes[upstream[0]!]?.output : undefined;
  if (isTemplateString(field) || /^(inputs|nodes)\./.test(field)) {
    const r = renderString(asTemplate(field), ctx);
    if (!r.ok) return { ok: false, error: `Conditional "${nodeId}": ${r.error.message}` };
    return { ok: true, value: { value: r.value ?? null, output } };
  }
  if (upstream.length !== 1) {
    return {
      ok: false,
      error: `Conditional "${nodeId}": condition_field "${field}" needs exactly one upstream node`,
    };
  }
  const path = field.replace(/^output\./, '').split('.');
  let cur: unknown = output;
  for (const seg of path) {
    if (cur === null || cur === undefined) {
      return {
        ok: false,
        error: `Conditional "${nodeId}": cannot read "${seg}" of condition_field "${field}": the value before it is ${cur === null ? 'null' : 'missing'} in the output of "${upstream[0]}"`,
      };
    }
    cur =
      typeof cur === 'object' && Object.prototype.hasOwnProperty.call(cur, seg)
        ? (cur as Record<string, unknown>)[seg]
        : undefined;
  }
  return { ok: true, value: { value: cur === undefined ? null : cur, output } };
}

export function evaluateFanOutSource(
  plan: Plan,
  nodeId: string,
  ctx: TemplateContext,
): Evaluation<unknown[]> {
  const node = plan.workflow.nodes[nodeId] as FanOutNode;
  const r = renderString(node.source, ctx);
  if (!r.ok) return { ok: false, error: `Fan-out "${nodeId}": ${r.error.message}` };
  if (!Array.isArray(r.value)) {
    const got = r.value === null ? 'null' : typeof r.value === 'object' ? 'an object' : `a ${typeof r.value}`;
    return {
      ok: false,
      error: `Fan-out "${nodeId}": source ${node.source} must yield a list; got ${got}${typeof r.value === 'string' ? ` (${JSON.stringify(r.value.slice(0, 60))})` : ''}`,
    };
  }
  return { ok: true, value: r.value };
}

/** The params of child `index` (item and index are native values, SPEC §1). */
export function renderChildParams(
  plan: Plan,
  nodeId: string,
  ctx: TemplateContext,
  item: unknown,
  index: number,
): Evaluation<unknown> {
  const node = plan.workflow.nodes[nodeId] as FanOutNode;
  const r = renderValue(node.task.params, { ...ctx, item, index }, 'params');
  if (!r.ok) return { ok: false, error: `Fan-out "${nodeId}" child ${index}: ${r.error.message}` };
  return { ok: true, value: r.value };
}

export function renderTaskParams(plan: Plan, nodeId: string, ctx: TemplateContext): Evaluation<unknown> {
  const node = plan.workflow.nodes[nodeId];
  if (node?.type !== 'task') return { ok: false, error: `"${nodeId}" is not a task node` };
  const r = renderValue(node.params, ctx, 'params');
  if (!r.ok)
    return {
      ok: false,
      error: `Template error in node "${nodeId}" ${r.error.path ?? 'params'}: ${r.error.message}`,
    };
  return { ok: true, value: r.value };
}

export function evaluateFanIn(plan: Plan, nodeId: string, outputs: unknown[]): Evaluation<unknown> {
  const node = plan.workflow.nodes[nodeId];
  if (node?.type !== 'fan_in') return { ok: false, error: `"${nodeId}" is not a fan_in node` };
  return { ok: true, value: aggregateFanIn(node.aggregation, outputs) };
}

/**
 * The template context of a node: the job inputs (declared optional inputs absent → null) and the
 * upstream nodes that finished (completed with their output, skipped with null).
 */
export function templateContext(
  plan: Plan,
  state: JobState,
  inputs: Record<string, unknown>,
  nodeIds: Iterable<string>,
): TemplateContext {
  const nodes: TemplateContext['nodes'] = {};
  for (const id of nodeIds) {
    const run = state.nodes[id];
    if (run?.status === 'completed') nodes[id] = { status: 'completed', output: run.output ?? null };
    else if (run?.status === 'skipped') nodes[id] = { status: 'skipped', output: null };
  }
  return { inputs: withDeclaredInputs(plan.workflow.inputs, inputs), nodes };
}

export function withDeclaredInputs(
  declared: Record<string, InputDefinition>,
  inputs: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...inputs };
  for (const name of Object.keys(declared)) if (!(name in out)) out[name] = null;
  return out;
}
