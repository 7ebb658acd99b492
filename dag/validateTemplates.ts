// Load-time checks of a workflow's templates (params, fan-out sources, conditions, artifacts): syntax,
// and what they reference: declared inputs, upstream nodes, env settings that are not secrets.
import { ENV_NAME, SECRET_ENV_NAME } from './envReferences';
import { ancestorsOf, type Plan } from './compilePlan';
import { collectTemplates, inspectTemplate, isTemplateString } from './inspectTemplate';
import { didYouMean } from './suggest';
import type { IssuePath, WorkflowIssue } from './workflowIssue';
import type { Workflow } from './workflowModel';

type Issue = Omit<WorkflowIssue, 'file' | 'line' | 'col'>;

const MAX_PARAMS_DEPTH = 32;
const TEMPLATE_ROOTS = ['inputs', 'nodes', 'env'];

function depthOf(v: unknown, limit: number): number {
  if (v === null || typeof v !== 'object') return 0;
  if (limit <= 0) return 1;
  let max = 0;
  for (const x of Object.values(v as Record<string, unknown>)) max = Math.max(max, depthOf(x, limit - 1));
  return max + 1;
}

export function validateTemplates(workflow: Workflow, plan: Plan, ids: string[], add: (i: Issue) => void) {
  for (const id of ids) {
    const node = workflow.nodes[id]!;
    const upstream = ancestorsOf(plan, id);
    const check = (template: string, path: IssuePath, allowChild: boolean) =>
      checkTemplate(workflow, id, upstream, template, path, allowChild, add);

    if (node.type === 'task') {
      checkParams(node.params, ['nodes', id, 'params'], false, check, add);
    } else if (node.type === 'fan_out') {
      if (!isTemplateString(node.source))
        add({
          code: 'fan_out_source',
          path: ['nodes', id, 'source'],
          message: 'source must be a template yielding a list, e.g. "{{ inputs.items }}"',
        });
      else check(node.source, ['nodes', id, 'source'], false);
      checkParams(node.task.params, ['nodes', id, 'task', 'params'], true, check, add);
    } else if (node.type === 'conditional') {
      if (node.condition !== undefined) check(asTemplate(node.condition), ['nodes', id, 'condition'], false);
      if (node.condition_field !== undefined) {
        const field = node.condition_field;
        if (isTemplateString(field) || /^(inputs|nodes)\./.test(field)) {
          check(asTemplate(field), ['nodes', id, 'condition_field'], false);
        } else {
          const direct = directUpstream(plan, id);
          if (direct.length !== 1)
            add({
              code: 'condition_field_source',
              path: ['nodes', id, 'condition_field'],
              message: `condition_field "${field}" is a path into the upstream node's output, but "${id}" has ${direct.length} upstream nodes (${direct.join(', ') || 'none'})`,
              hint: 'name the node: condition_field: "nodes.<node>.output.<field>"',
            });
        }
      }
    }
  }
}

/** Direct predecessors of a node that produce output (everything but the start node). */
export function directUpstream(plan: Plan, id: string): string[] {
  const d = plan.deps[id];
  if (!d) return [];
  return [...new Set([...d.allOf, ...d.anyOf])]
    .filter((p) => plan.workflow.nodes[p]?.type !== 'start')
    .sort();
}

/** A bare expression (`inputs.x > 3`) is accepted where a template is expected. */
export function asTemplate(s: string): string {
  return isTemplateString(s) ? s : `{{ ${s} }}`;
}

function checkParams(
  params: Record<string, unknown>,
  path: IssuePath,
  allowChild: boolean,
  check: (template: string, path: IssuePath, allowChild: boolean) => void,
  add: (i: Issue) => void,
) {
  if (depthOf(params, MAX_PARAMS_DEPTH + 1) > MAX_PARAMS_DEPTH) {
    add({ code: 'params_depth', path, message: `params are nested deeper than ${MAX_PARAMS_DEPTH} levels` });
    return;
  }
  for (const t of collectTemplates(params)) check(t.template, [...path, ...splitPath(t.path)], allowChild);
}

function splitPath(p: string): Array<string | number> {
  if (!p) return [];
  const out: Array<string | number> = [];
  const re = /([^.[\]]+)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(p))) {
    if (m[1] !== undefined) out.push(m[1]);
    else if (m[2] !== undefined) out.push(Number(m[2]));
    else if (m[3] !== undefined) out.push(JSON.parse(`"${m[3]}"`) as string);
  }
  return out;
}

export function checkTemplate(
  workflow: Workflow,
  nodeId: string,
  upstream: Set<string>,
  template: string,
  path: IssuePath,
  allowChild: boolean,
  add: (i: Issue) => void,
  label?: string,
) {
  const { errors, references } = inspectTemplate(template);
  for (const e of errors) add({ code: e.code.toLowerCase(), path, message: e.message });
  const declared = Object.keys(workflow.inputs);
  for (const ref of references) {
    const where = label ?? `Workflow "${workflow.workflow_id}" node "${nodeId}"`;
    if (ref.root === 'inputs') {
      const name = ref.path[0];
      if (ref.dynamic && name === undefined) continue;
      if (name !== undefined && !declared.includes(name))
        add({
          code: 'unknown_input',
          path,
          message: `${where}: template references inputs.${name}, which is not declared in inputs`,
          hint:
            didYouMean(name, declared) ??
            `declare it under inputs: (declared: ${declared.join(', ') || 'none'})`,
        });
    } else if (ref.root === 'nodes') {
      const target = ref.path[0];
      if (target === undefined) {
        add({
          code: 'dynamic_node_reference',
          path,
          message: `${where}: template looks nodes up dynamically; name the node (nodes.<id>.output)`,
        });
        continue;
      }
      if (!Object.hasOwn(workflow.nodes, target)) {
        add({
          code: 'unknown_node_reference',
          path,
          message: `${where}: template references nodes.${target}, which is not a node of this workflow`,
          hint: didYouMean(target, Object.keys(workflow.nodes)),
        });
      } else if (!upstream.has(target)) {
        add({
          code: 'not_upstream',
          path,
          message: `${where}: template references nodes.${target}, which is not upstream of ${nodeId}`,
          hint: `add it to depends_on or next so that ${target} finishes before ${nodeId}`,
        });
      }
      const field = ref.path[1];
      if (field !== undefined && field !== 'output' && field !== 'status')
        add({
          code: 'bad_node_field',
          path,
          message: `${where}: nodes.${target}.${field} does not exist; a node exposes output and status`,
          hint: `did you mean nodes.${target}.output.${field}?`,
        });
    } else if (ref.root === 'env') {
      const name = ref.path[0];
      if (name === undefined || !ENV_NAME.test(name)) {
        add({
          code: 'dynamic_env_reference',
          path,
          message: `${where}: template looks env up dynamically; name the setting (env.NAME)`,
        });
      } else if (SECRET_ENV_NAME.test(name)) {
        add({
          code: 'secret_env_reference',
          path,
          message: `${where}: template reads env.${name}, a setting that looks like it holds a secret (a connection string, key, password or token); rendered values are stored and shown by the API, so templates may not read it`,
          hint: 'pass the value as an input, or let the handler read its own credentials',
        });
      }
    } else if (ref.root === 'item' || ref.root === 'index') {
      if (!allowChild)
        add({
          code: 'child_variable',
          path,
          message: `${where}: "${ref.root}" exists only in the params of a fan_out's task`,
        });
    } else if (!TEMPLATE_ROOTS.includes(ref.root)) {
      add({
        code: 'unknown_variable',
        path,
        message: `${where}: template references "${ref.root}", which is not a template variable`,
        hint:
          didYouMean(ref.root, allowChild ? [...TEMPLATE_ROOTS, 'item', 'index'] : TEMPLATE_ROOTS) ??
          `use ${allowChild ? 'inputs, nodes, item or index' : 'inputs or nodes'}`,
      });
    }
  }
}
