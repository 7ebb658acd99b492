// Evaluating the nodes that route or reshape data: conditionals (both forms), fan-out sources and
// child params, fan-in aggregation. Pure functions of a template context; the scheduler asks for
// them with `evaluate` decisions and the caller (an activity with access to the data, or a
// simulation) applies the result as an event.
// All the templates of one node share one TemplateBudget (its limits are per node); a node whose
// templates are too expensive fails with "TEMPLATE_TOO_EXPENSIVE: <node and field>: <the limit>".
import { aggregateFanIn } from './aggregateFanIn';
import type { Plan } from './compilePlan';
import { evaluateCondition } from './evaluateCondition';
import { isTemplateString } from './inspectTemplate';
import type { JobState } from './jobState';
import { renderString, renderValue } from './renderTemplate';
import { toTemplateError } from './template/toTemplateError';
import { TemplateBudget } from './templateBudget';
import { jsonPreview } from './template/templateJson';
import type { TemplateContext, TemplateError } from './templateTypes';
import { asTemplate, directUpstream } from './validateTemplates';
import type { ConditionalNode, FanOutNode, InputDefinition } from './workflowModel';

export type Evaluation<T> = { ok: true; value: T } | { ok: false; error: string; retryable?: false };

/**
 * The message of a node whose template failed: "<what>: <message>" as before, or, when the template is
 * too expensive, "TEMPLATE_TOO_EXPENSIVE: <where>: <message>" (the message names the limit).
 */
function templateFailure<T>(what: string, where: string, e: TemplateError): Evaluation<T> {
  return {
    ok: false,
    error:
      e.code === 'TEMPLATE_TOO_EXPENSIVE'
        ? `TEMPLATE_TOO_EXPENSIVE: ${where}: ${e.message}`
        : `${what}: ${e.message}`,
  };
}

export interface ConditionalResult {
  taken: string[];
  output: { taken_branch: string; skipped_branches: string[]; value: unknown; branch?: string };
}

export function evaluateConditional(
  plan: Plan,
  nodeId: string,
  ctx: TemplateContext,
  budget: TemplateBudget = new TemplateBudget(),
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
    const r = renderString(asTemplate(node.condition ?? ''), ctx, budget);
    if (!r.ok)
      return templateFailure(`Conditional "${nodeId}"`, `conditional "${nodeId}" condition`, r.error);
    const key = branchKey(r.value, node.branches);
    const target = key !== undefined && Object.hasOwn(node.branches, key) ? node.branches[key] : undefined;
    if (target !== undefined && key !== undefined) return pick(target, r.value, key);
    if (node.default !== undefined) return pick(node.default, r.value, 'default');
    return {
      ok: false,
      error: `Conditional "${nodeId}": no branch for the value ${jsonPreview(r.value ?? null)} (branches: ${Object.keys(node.branches).join(', ')}) and no default. Add a default branch or a branch for this value.`,
    };
  }

  const field = conditionFieldValue(plan, nodeId, node, ctx, budget);
  if (!field.ok) return field;
  const { value, output } = field.value;
  for (const [i, b] of node.branches.entries()) {
    if (b.default || b.condition === undefined) continue;
    const r = evaluateCondition(b.condition, value, output, budget);
    if (!r.ok)
      return templateFailure(
        `Conditional "${nodeId}" branch ${b.name ?? i}`,
        `conditional "${nodeId}" branch ${b.name ?? i}`,
        r.error,
      );
    if (r.value) return pick(b.next, value, b.name ?? String(i));
  }
  const fallback = node.branches.find((b) => b.default);
  if (fallback) return pick(fallback.next, value, fallback.name ?? 'default');
  return {
    ok: false,
    error: `Conditional "${nodeId}": no branch matched the value ${jsonPreview(value ?? null)} of ${node.condition_field} and there is no default branch. Add a branch with default: true.`,
  };
}

/**
 * The branch key a value selects: text as it is, null as "null", others as JSON. A list or object
 * longer (as JSON) than every key matches none, so its JSON is never built.
 */
function branchKey(v: unknown, branches: Record<string, string>): string | undefined {
  if (typeof v === 'string') return v;
  if (v === undefined || v === null) return 'null';
  if (typeof v === 'object') {
    const longest = Math.max(0, ...Object.keys(branches).map((k) => k.length));
    const json = jsonPreview(v, longest + 1);
    return json.length > longest ? undefined : json;
  }
  return String(v);
}

/** The value a list-form conditional compares: a template, or a dot path into the upstream output. */
function conditionFieldValue(
  plan: Plan,
  nodeId: string,
  node: ConditionalNode,
  ctx: TemplateContext,
  budget: TemplateBudget,
): Evaluation<{ value: unknown; output: unknown }> {
  const field = node.condition_field ?? '';
  const upstream = directUpstream(plan, nodeId);
  const output = upstream.length === 1 ? ctx.nodes[upstream[0]!]?.output : undefined;
  if (isTemplateString(field) || /^(inputs|nodes)\./.test(field)) {
    const r = renderString(asTemplate(field), ctx, budget);
    if (!r.ok)
      return templateFailure(`Conditional "${nodeId}"`, `conditional "${nodeId}" condition_field`, r.error);
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
  budget: TemplateBudget = new TemplateBudget(),
): Evaluation<unknown[]> {
  const node = plan.workflow.nodes[nodeId] as FanOutNode;
  // Only the elements are stored (in the children's params, which are measured): no size charge here.
  const r = renderString(node.source, ctx, budget, false);
  if (!r.ok) return templateFailure(`Fan-out "${nodeId}"`, `fan-out "${nodeId}" source`, r.error);
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
  budget: TemplateBudget = new TemplateBudget(),
): Evaluation<unknown> {
  const node = plan.workflow.nodes[nodeId] as FanOutNode;
  const r = renderValue(node.task.params, { ...ctx, item, index }, 'params', budget);
  if (!r.ok)
    return templateFailure(
      `Fan-out "${nodeId}" child ${index}`,
      `fan-out "${nodeId}" child ${index} ${r.error.path ?? 'params'}`,
      r.error,
    );
  return { ok: true, value: r.value };
}

/** A fan-out's expansion: its source, then every child's params, all on one budget (the node's). */
export function expandFanOutParams(
  plan: Plan,
  nodeId: string,
  ctx: TemplateContext,
  budget: TemplateBudget = new TemplateBudget(),
): Evaluation<unknown[]> {
  const source = evaluateFanOutSource(plan, nodeId, ctx, budget);
  if (!source.ok) return source;
  const items = source.value;
  try {
    budget.elements(items.length, `fan-out "${nodeId}" children`);
  } catch (e) {
    return templateFailure('', `fan-out "${nodeId}"`, toTemplateError(e, ''));
  }
  const params = new Array<unknown>(items.length);
  for (let i = 0; i < items.length; i++) {
    const p = renderChildParams(plan, nodeId, ctx, items[i], i, budget);
    if (!p.ok) return p;
    params[i] = p.value;
  }
  return { ok: true, value: params };
}

export function renderTaskParams(
  plan: Plan,
  nodeId: string,
  ctx: TemplateContext,
  budget: TemplateBudget = new TemplateBudget(),
): Evaluation<unknown> {
  const node = plan.workflow.nodes[nodeId];
  if (node?.type !== 'task') return { ok: false, error: `"${nodeId}" is not a task node` };
  const r = renderValue(node.params, ctx, 'params', budget);
  if (!r.ok)
    return templateFailure(
      `Template error in node "${nodeId}" ${r.error.path ?? 'params'}`,
      `node "${nodeId}" ${r.error.path ?? 'params'}`,
      r.error,
    );
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

/** What each kind of node evaluation yields (see evaluateNodeTemplates). */
export interface NodeTemplateValues {
  task_params: unknown;
  conditional: ConditionalResult;
  fan_out: unknown[];
}
export type NodeTemplateKind = keyof NodeTemplateValues;

/**
 * The templates an activity renders for one node, on one budget: a task's params, a conditional's
 * choice, or a fan-out's children params. One entry point, so that the same call can run in this
 * thread or in a render worker (activities/templateWorkerPool.ts).
 */
export function evaluateNodeTemplates<K extends NodeTemplateKind>(
  plan: Plan,
  kind: K,
  nodeId: string,
  ctx: TemplateContext,
  budget: TemplateBudget = new TemplateBudget(),
): Evaluation<NodeTemplateValues[K]> {
  switch (kind) {
    case 'task_params':
      return renderTaskParams(plan, nodeId, ctx, budget) as Evaluation<NodeTemplateValues[K]>;
    case 'conditional':
      return evaluateConditional(plan, nodeId, ctx, budget) as Evaluation<NodeTemplateValues[K]>;
    default:
      return expandFanOutParams(plan, nodeId, ctx, budget) as Evaluation<NodeTemplateValues[K]>;
  }
}
