// Load-time validation of a parsed workflow (SPEC §1): every problem at once, each with its YAML
// path and a fix hint. The checks the original system lacked are the point: cycles, unreachable
// nodes, unknown handlers, runner/queue mismatches, template references (validateTemplates.ts), fan_in
// without fan_out.
import { asList, compilePlan, nearestFanOut, type Plan } from './compilePlan';
import { checkCondition } from './evaluateCondition';
import { runnerForQueue, type HandlerCatalog, type QueueConfig } from './runners';
import { isReservedName } from './reservedNames';
import { didYouMean } from './suggest';
import { taskPlacement } from './taskPlacement';
import { checkTemplate, validateTemplates } from './validateTemplates';
import type { IssuePath, WorkflowIssue } from './workflowIssue';
import { artifactsOf } from './workflowArtifacts';
import type { NodeDefinition, Workflow } from './workflowModel';

export interface ValidateOptions extends Partial<QueueConfig> {
  /** Known handlers and their runners; when absent, handler checks are skipped. */
  handlers?: HandlerCatalog;
  /** The queues the container workers consume (DAG_WORKER_QUEUES): others draw a warning. */
  workerQueues?: readonly string[];
}

type Issue = Omit<WorkflowIssue, 'file' | 'line' | 'col'>;

export function validateWorkflow(workflow: Workflow, options: ValidateOptions = {}): Issue[] {
  const issues: Issue[] = [];
  const add = (i: Issue) => issues.push(i);
  const ids = Object.keys(workflow.nodes).sort();
  const known = new Set(ids);

  // Start and end.
  const starts = ids.filter((id) => workflow.nodes[id]!.type === 'start');
  const ends = ids.filter((id) => workflow.nodes[id]!.type === 'end');
  if (starts.length === 0)
    add({
      code: 'no_start',
      path: ['nodes'],
      message: 'the workflow has no start node',
      hint: 'add a node with type: start',
    });
  for (const extra of starts.slice(1))
    add({
      code: 'multiple_starts',
      path: ['nodes', extra],
      message: `more than one start node (${starts.join(', ')})`,
      hint: 'keep exactly one start node',
    });
  if (ends.length === 0)
    add({
      code: 'no_end',
      path: ['nodes'],
      message: 'the workflow has no end node',
      hint: 'add a node with type: end',
    });

  // Edge targets.
  const checkTarget = (from: string, target: string, path: IssuePath, what: string) => {
    if (target === from) {
      add({ code: 'self_edge', path, message: `${what} "${target}" points at the node itself` });
    } else if (!known.has(target)) {
      add({
        code: 'unknown_target',
        path,
        message: `${what} "${target}" is not a node of this workflow`,
        hint: didYouMean(target, ids) ?? `known nodes: ${ids.join(', ')}`,
      });
    }
  };
  for (const id of ids) {
    const node = workflow.nodes[id]!;
    const base = ['nodes', id];
    if ('next' in node && node.next !== undefined) {
      const list = asList(node.next);
      list.forEach((t, i) =>
        checkTarget(id, t, Array.isArray(node.next) ? [...base, 'next', i] : [...base, 'next'], 'next'),
      );
    }
    const d = node.depends_on;
    if (d !== undefined) {
      if (node.type === 'start') {
        add({
          code: 'start_depends',
          path: [...base, 'depends_on'],
          message: 'the start node cannot have depends_on',
        });
      }
      if (typeof d === 'string') checkTarget(id, d, [...base, 'depends_on'], 'depends_on');
      else if (Array.isArray(d))
        d.forEach((t, i) => checkTarget(id, t, [...base, 'depends_on', i], 'depends_on'));
      else {
        for (const key of ['all_of', 'any_of'] as const) {
          const v = d[key];
          if (v === undefined) continue;
          if (typeof v === 'string') checkTarget(id, v, [...base, 'depends_on', key], `depends_on.${key}`);
          else v.forEach((t, i) => checkTarget(id, t, [...base, 'depends_on', key, i], `depends_on.${key}`));
        }
        if (asList(d.all_of).length === 0 && asList(d.any_of).length === 0)
          add({ code: 'empty_depends', path: [...base, 'depends_on'], message: 'depends_on lists no node' });
      }
    }
    if (node.type === 'conditional') validateConditionalShape(id, node, checkTarget, add);
  }

  const plan = compilePlan(workflow);
  const cyclic = reportCycles(plan, ids, add);
  if (starts.length === 1 && !cyclic) reportReachability(plan, ids, starts[0]!, ends, add);

  for (const id of ids) {
    const node = workflow.nodes[id]!;
    if (node.type === 'fan_in') {
      const { found } = nearestFanOut(id, workflow, plan.deps);
      if (found.length === 0)
        add({
          code: 'fan_in_without_fan_out',
          path: ['nodes', id],
          message: `fan_in "${id}" has no upstream fan_out to aggregate`,
          hint: 'place it after a fan_out node (next or depends_on)',
        });
      else if (found.length > 1)
        add({
          code: 'fan_in_ambiguous',
          path: ['nodes', id],
          message: `fan_in "${id}" is equally close to several fan_out nodes (${found.join(', ')})`,
          hint: 'give each fan_out its own fan_in',
        });
    }
  }

  validateHandlers(workflow, ids, options, add);
  validateInputsDeclarations(workflow, add);
  if (!cyclic) validateTemplates(workflow, plan, ids, add);
  validateArtifacts(workflow, add);
  return issues;
}

/** The artifacts: map (or the built-in default): templates over inputs and any node, read at the job's end. */
function validateArtifacts(workflow: Workflow, add: (i: Issue) => void) {
  const artifacts = artifactsOf(workflow);
  if (!artifacts) return;
  const all = new Set(Object.keys(workflow.nodes));
  for (const [field, template] of Object.entries(artifacts)) {
    if (template === undefined) continue;
    const where = `Workflow "${workflow.workflow_id}" artifacts.${field}`;
    checkTemplate(workflow, 'artifacts', all, template, ['artifacts', field], false, add, where);
  }
}

function validateConditionalShape(
  id: string,
  node: Extract<NodeDefinition, { type: 'conditional' }>,
  checkTarget: (from: string, target: string, path: IssuePath, what: string) => void,
  add: (i: Issue) => void,
): void {
  const base = ['nodes', id];
  if (Array.isArray(node.branches)) {
    if (node.condition_field === undefined)
      add({
        code: 'conditional_form',
        path: [...base, 'condition_field'],
        message: 'a list of branches needs condition_field (the value the branch conditions compare)',
        hint: 'or use condition: "{{ expr }}" with branches as a map {true: a, false: b}',
      });
    if (node.condition !== undefined)
      add({
        code: 'conditional_form',
        path: [...base, 'condition'],
        message: 'condition belongs to the map form of branches; the list form uses condition_field',
      });
    if (node.default !== undefined)
      add({
        code: 'conditional_form',
        path: [...base, 'default'],
        message: 'with a list of branches, mark the fallback branch with default: true instead',
      });
    let defaults = 0;
    node.branches.forEach((b, i) => {
      checkTarget(id, b.next, [...base, 'branches', i, 'next'], 'branch target');
      if (b.default) defaults++;
      if (b.default && b.condition !== undefined)
        add({
          code: 'conditional_form',
          path: [...base, 'branches', i],
          message: 'a branch is either a default (default: true) or has a condition, not both',
        });
      if (!b.default && b.condition === undefined)
        add({
          code: 'conditional_form',
          path: [...base, 'branches', i],
          message: 'a branch needs a condition (e.g. "> 100", "== \'rgb\'") or default: true',
        });
      if (b.condition !== undefined)
        for (const e of checkCondition(b.condition))
          add({
            code: e.code.toLowerCase(),
            path: [...base, 'branches', i, 'condition'],
            message: e.message,
          });
    });
    if (defaults > 1)
      add({
        code: 'conditional_form',
        path: [...base, 'branches'],
        message: 'more than one branch has default: true',
      });
  } else {
    if (node.condition === undefined)
      add({
        code: 'conditional_form',
        path: [...base, 'condition'],
        message: 'a map of branches needs condition: "{{ expr }}" whose result selects the branch',
      });
    if (node.condition_field !== undefined)
      add({
        code: 'conditional_form',
        path: [...base, 'condition_field'],
        message: 'condition_field belongs to the list form of branches; the map form uses condition',
      });
    const keys = Object.keys(node.branches);
    if (keys.length === 0)
      add({ code: 'conditional_form', path: [...base, 'branches'], message: 'branches lists no branch' });
    for (const k of keys) checkTarget(id, node.branches[k]!, [...base, 'branches', k], 'branch target');
    if (node.default !== undefined) checkTarget(id, node.default, [...base, 'default'], 'default branch');
  }
}

function reportCycles(plan: Plan, ids: string[], add: (i: Issue) => void): boolean {
  const color: Record<string, 0 | 1 | 2> = {};
  for (const id of ids) color[id] = 0;
  const stack: string[] = [];
  const reported = new Set<string>();
  let found = false;
  const visit = (id: string) => {
    color[id] = 1;
    stack.push(id);
    for (const n of plan.successors[id] ?? []) {
      if (color[n] === 1) {
        const cycle = [...stack.slice(stack.indexOf(n)), n];
        const key = [...cycle.slice(0, -1)].sort().join(',');
        if (!reported.has(key)) {
          reported.add(key);
          found = true;
          add({
            code: 'cycle',
            path: ['nodes', n],
            message: `cycle: ${cycle.join(' -> ')}`,
            hint: 'a workflow is a DAG: remove one of these edges',
          });
        }
      } else if (color[n] === 0) visit(n);
    }
    stack.pop();
    color[id] = 2;
  };
  for (const id of ids) if (color[id] === 0) visit(id);
  return found;
}

function reportReachability(
  plan: Plan,
  ids: string[],
  start: string,
  ends: string[],
  add: (i: Issue) => void,
) {
  const reach = new Set([start]);
  const stack = [start];
  while (stack.length) {
    for (const n of plan.successors[stack.pop()!] ?? []) {
      if (!reach.has(n)) {
        reach.add(n);
        stack.push(n);
      }
    }
  }
  const predecessors: Record<string, string[]> = {};
  for (const id of ids) predecessors[id] = [];
  for (const id of ids) for (const n of plan.successors[id] ?? []) predecessors[n]!.push(id);
  const toEnd = new Set(ends);
  const back = [...ends];
  while (back.length) {
    for (const p of predecessors[back.pop()!] ?? []) {
      if (!toEnd.has(p)) {
        toEnd.add(p);
        back.push(p);
      }
    }
  }
  for (const id of ids) {
    if (!reach.has(id))
      add({
        code: 'unreachable',
        path: ['nodes', id],
        message: `node "${id}" cannot be reached from the start node "${start}"`,
        hint: 'link it with next, depends_on or a branch, or remove it',
      });
    else if (ends.length && !toEnd.has(id))
      add({
        code: 'dead_end',
        path: ['nodes', id],
        message: `node "${id}" cannot reach an end node`,
        hint: 'add next: <an end node> or another successor',
      });
  }
}

function validateHandlers(
  workflow: Workflow,
  ids: string[],
  options: ValidateOptions,
  add: (i: Issue) => void,
) {
  const catalog = options.handlers;
  if (!catalog) return;
  const names = [...catalog.keys()];
  for (const id of ids) {
    const spec = taskPlacement(workflow, id);
    if (!spec) continue;
    const h = catalog.get(spec.handler);
    if (!h) {
      add({
        code: 'unknown_handler',
        path: [...spec.path, 'handler'],
        message: `unknown handler "${spec.handler}"`,
        hint: didYouMean(spec.handler, names) ?? `registered handlers: ${names.join(', ')}`,
      });
      continue;
    }
    if (spec.queue !== undefined) {
      const runner = runnerForQueue(spec.queue, options);
      if (!h.runners.includes(runner))
        add({
          code: 'handler_runner',
          path: [...spec.path, 'queue'],
          message: `handler "${spec.handler}" runs on ${h.runners.join(' and ')} only, but queue "${spec.queue}" is served by the ${runner} runner`,
          hint:
            runner === 'activity'
              ? 'use a container queue (e.g. container-tasks) or remove queue'
              : `use an activity queue (${(options.activityQueues ?? ['functionapp-tasks']).join(', ')}) or remove queue`,
        });
    }
  }
}

function validateInputsDeclarations(workflow: Workflow, add: (i: Issue) => void) {
  for (const [name, def] of Object.entries(workflow.inputs)) {
    if (isReservedName(name))
      add({
        code: 'bad_input_name',
        path: ['inputs', name],
        message: `input name "${name}" belongs to every JavaScript object (constructor, toString, valueOf, …) and cannot be an input`,
        hint: 'rename the input',
      });
    else if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
      add({
        code: 'bad_input_name',
        path: ['inputs', name],
        message: `input name "${name}" cannot be used in templates (inputs.${name})`,
        hint: 'use letters, digits and "_", starting with a letter',
      });
    if (def.default !== undefined && def.default !== null && !matchesType(def.default, def.type))
      add({
        code: 'bad_default',
        path: ['inputs', name, 'default'],
        message: `default ${JSON.stringify(def.default)} is not of the declared type ${def.type}`,
      });
  }
}

export function matchesType(v: unknown, type: string): boolean {
  switch (type) {
    case 'string':
      return typeof v === 'string';
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v);
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'boolean':
      return typeof v === 'boolean';
    case 'array':
      return Array.isArray(v);
    case 'object':
      return v !== null && typeof v === 'object' && !Array.isArray(v);
    default:
      return false;
  }
}
