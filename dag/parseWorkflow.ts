// YAML text → typed Workflow, keeping source positions so that every problem is reported as
// `file:line:col`. Parsing collects every schema problem at once; semantic checks (edges, cycles,
// handlers, templates) are done by validateWorkflow on the parsed result.
import { z } from 'zod';
import { readYaml } from './readYaml';
import { didYouMean } from './suggest';
import { type IssuePath, type WorkflowIssue } from './workflowIssue';
import { yamlLocator } from './yamlLocator';
import {
  NODE_SCHEMAS,
  NODE_TYPES,
  NodeIdSchema,
  WorkflowHeaderSchema,
  type NodeDefinition,
  type Workflow,
} from './workflowModel';

/** Refuse documents that cannot be a sensible workflow before handing them to the parser. */
export const MAX_WORKFLOW_BYTES = 4 * 1024 * 1024;
/** Deeper documents are refused before parsing: the parser recurses and would exhaust the stack slowly. */
const MAX_NESTING = 128;

export interface ParsedWorkflow {
  workflow?: Workflow;
  issues: WorkflowIssue[];
  /** Maps a YAML path to its 1-based position (the nearest existing ancestor when absent). */
  locate(path: IssuePath, atKey?: boolean): { line: number; col: number };
}

export function parseWorkflow(text: string, file?: string): ParsedWorkflow {
  const issues: WorkflowIssue[] = [];
  // Positions are worked out only when a problem has to be located: the happy path reads once.
  let locator: ReturnType<typeof yamlLocator> | undefined;
  const locate = (path: IssuePath, atKey = false) => (locator ??= yamlLocator(text))(path, atKey);
  const add = (issue: Omit<WorkflowIssue, 'file' | 'line' | 'col'>, atKey = false) => {
    issues.push({ ...issue, file, ...locate(issue.path, atKey) });
  };

  // Refused before parsing: locating them would mean parsing them.
  const refuse = (code: string, message: string, hint?: string): ParsedWorkflow => ({
    issues: [{ code, path: [], message, hint, file, line: 1, col: 1 }],
    locate: () => ({ line: 1, col: 1 }),
  });
  if (text.length > MAX_WORKFLOW_BYTES)
    return refuse(
      'too_large',
      `the file is ${text.length} bytes; workflows are limited to ${MAX_WORKFLOW_BYTES} bytes`,
      'split the workflow or move data into inputs',
    );
  if (text.includes('\u0000'))
    return refuse('binary', 'the file contains NUL bytes: it is not a YAML text file');
  if (nestingDepth(text) > MAX_NESTING)
    return refuse('too_deep', `the YAML is nested more than ${MAX_NESTING} levels deep`);

  const read = readYaml(text);
  if (!read.ok) {
    const { ok: _ok, ...problem } = read;
    return {
      issues: [{ ...problem, path: [], file }],
      locate: () => ({ line: 1, col: 1 }),
    };
  }
  const raw = read.value;

  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    add({
      code: 'not_a_mapping',
      path: [],
      message: `a workflow is a YAML mapping with workflow_id, name and nodes; got ${describe(raw)}`,
    });
    return { issues, locate };
  }

  // zod assigns record keys one by one: a "__proto__" key would set a prototype and vanish silently.
  for (const path of protoKeyPaths(raw)) {
    add({
      code: 'reserved_key',
      path,
      message: 'the key "__proto__" is not allowed in a workflow (it would be dropped, not read)',
      hint: 'rename the key',
    });
  }
  if (issues.length) return { issues, locate };

  const header = WorkflowHeaderSchema.safeParse(raw);
  if (!header.success) {
    for (const i of zodIssues(header.error.issues, [], WorkflowHeaderSchema, raw))
      add(i, i.code === 'unknown_key');
  }

  const nodes: Record<string, NodeDefinition> = {};
  const rawNodes = (raw as Record<string, unknown>).nodes;
  if (rawNodes && typeof rawNodes === 'object' && !Array.isArray(rawNodes)) {
    for (const [id, rawNode] of Object.entries(rawNodes as Record<string, unknown>)) {
      const path = ['nodes', id];
      const idCheck = NodeIdSchema.safeParse(id);
      if (!idCheck.success) {
        add(
          {
            code: 'bad_node_id',
            path,
            message: `invalid node id "${id}": ${idCheck.error.issues[0]?.message}`,
          },
          true,
        );
      }
      if (rawNode === null || typeof rawNode !== 'object' || Array.isArray(rawNode)) {
        add({ code: 'schema', path, message: `a node is a mapping with a type; got ${describe(rawNode)}` });
        continue;
      }
      const type = (rawNode as Record<string, unknown>).type ?? 'task';
      if (typeof type !== 'string' || !Object.hasOwn(NODE_SCHEMAS, type)) {
        add({
          code: 'unknown_node_type',
          path: [...path, 'type'],
          message: `unknown node type ${JSON.stringify(type)}; expected one of ${NODE_TYPES.join(', ')}`,
          hint: typeof type === 'string' ? didYouMean(type, NODE_TYPES) : undefined,
        });
        continue;
      }
      const schema = NODE_SCHEMAS[type as keyof typeof NODE_SCHEMAS];
      const parsed = schema.safeParse(rawNode);
      if (parsed.success) nodes[id] = parsed.data as NodeDefinition;
      else
        for (const i of zodIssues(parsed.error.issues, path, schema, rawNode))
          add(i, i.code === 'unknown_key');
    }
  }

  if (issues.length || !header.success) return { issues, locate };
  return { workflow: { ...header.data, nodes }, issues, locate };
}

/** Converts zod issues to workflow issues with readable messages and "did you mean" hints. */
function zodIssues(
  zi: ReadonlyArray<z.core.$ZodIssue>,
  prefix: IssuePath,
  schema: z.ZodType,
  value: unknown,
): Array<Omit<WorkflowIssue, 'file' | 'line' | 'col'>> {
  const out: Array<Omit<WorkflowIssue, 'file' | 'line' | 'col'>> = [];
  for (const issue of zi) {
    const rel = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
    const path = [...prefix, ...rel];
    if (issue.code === 'unrecognized_keys') {
      const known = keysAt(schema, rel);
      for (const key of issue.keys) {
        out.push({
          code: 'unknown_key',
          path: [...path, key],
          message: `unknown key "${key}"`,
          hint: didYouMean(key, known) ?? (known.length ? `allowed keys: ${known.join(', ')}` : undefined),
        });
      }
    } else if (issue.code === 'invalid_union') {
      // Report the alternative that got furthest: its issues are the ones the author meant to fix.
      const alternatives = issue.errors.filter((e) => e.length > 0);
      const best = alternatives.sort((a, b) => depth(b) - depth(a) || a.length - b.length)[0];
      if (best && depth(best) > 0) out.push(...zodIssues(best, path, schema, value).map((i) => ({ ...i })));
      else
        out.push({
          code: 'schema',
          path,
          message: `wrong shape: got ${describe(valueAt(value, rel))}`,
          hint: unionHint(path),
        });
    } else if (issue.code === 'invalid_type' && valueAt(value, rel) === undefined) {
      out.push({ code: 'missing_key', path, message: `"${String(path[path.length - 1])}" is required` });
    } else if (issue.code === 'invalid_type') {
      out.push({
        code: 'schema',
        path,
        message: `expected ${article(issue.expected)}, got ${describe(valueAt(value, rel))}`,
      });
    } else {
      out.push({ code: 'schema', path, message: issue.message });
    }
  }
  return out;
}

function depth(issues: ReadonlyArray<z.core.$ZodIssue>): number {
  return Math.max(0, ...issues.map((i) => i.path.length));
}

function unionHint(path: IssuePath): string | undefined {
  const last = path[path.length - 1];
  if (last === 'branches') return 'use a map {true: node_a, false: node_b} or a list of {condition, next}';
  if (last === 'next') return 'use a node id or a list of node ids';
  if (last === 'depends_on') return 'use a list of node ids or {all_of: [...], any_of: [...]}';
  return undefined;
}

function keysAt(schema: z.ZodType, path: ReadonlyArray<string | number>): string[] {
  let s: z.ZodType | undefined = schema;
  for (const seg of path) {
    s = step(unwrap(s), seg);
    if (!s) return [];
  }
  const u = unwrap(s);
  if (u instanceof z.ZodObject) return Object.keys(u.shape);
  if (u instanceof z.ZodUnion) {
    for (const o of u.options as z.ZodType[]) {
      const uo = unwrap(o);
      if (uo instanceof z.ZodObject) return Object.keys(uo.shape);
    }
  }
  return [];
}

function unwrap(s: z.ZodType | undefined): z.ZodType | undefined {
  let cur = s;
  for (let i = 0; i < 10 && cur; i++) {
    if (cur instanceof z.ZodOptional || cur instanceof z.ZodNullable || cur instanceof z.ZodDefault) {
      cur = cur.unwrap() as z.ZodType;
    } else break;
  }
  return cur;
}

function step(s: z.ZodType | undefined, seg: string | number): z.ZodType | undefined {
  if (!s) return undefined;
  if (s instanceof z.ZodObject) return s.shape[seg as string] as z.ZodType | undefined;
  if (s instanceof z.ZodRecord) return s.valueType as z.ZodType;
  if (s instanceof z.ZodArray) return s.element as z.ZodType;
  if (s instanceof z.ZodUnion) {
    for (const o of s.options as z.ZodType[]) {
      const r = step(unwrap(o), seg);
      if (r) return r;
    }
  }
  return undefined;
}

function valueAt(value: unknown, path: ReadonlyArray<string | number>): unknown {
  let cur = value;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  return cur;
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  return `${typeof v} ${String(v)}`;
}

/** Paths of every "__proto__" key in parsed YAML (own keys: YAML parsers define them as data). */
function protoKeyPaths(
  v: unknown,
  path: Array<string | number> = [],
  out: Array<Array<string | number>> = [],
) {
  if (Array.isArray(v)) v.forEach((x, i) => protoKeyPaths(x, [...path, i], out));
  else if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (k === '__proto__') out.push([...path, k]);
      else protoKeyPaths(x, [...path, k], out);
    }
  }
  return out;
}

/**
 * A cheap upper estimate of the nesting depth: flow brackets outside quotes, plus compact block
 * sequences ("- - - x") and indentation levels. Exact enough to refuse absurd inputs early.
 */
function nestingDepth(text: string): number {
  let flow = 0;
  let max = 0;
  let quote: string | undefined;
  let lineStart = true;
  let dashes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\n') {
      quote = undefined;
      lineStart = true;
      dashes = 0;
      continue;
    }
    if (quote) {
      if (c === quote) quote = undefined;
      continue;
    }
    if (c === '"' || c === "'") quote = c;
    else if (c === '#' && (i === 0 || text[i - 1] === ' ')) {
      while (i + 1 < text.length && text[i + 1] !== '\n') i++;
    } else if (c === '[' || c === '{') max = Math.max(max, ++flow);
    else if (c === ']' || c === '}') flow = Math.max(0, flow - 1);
    else if (lineStart && c === '-' && (text[i + 1] === ' ' || text[i + 1] === '\n'))
      max = Math.max(max, ++dashes);
    else if (c !== ' ' && c !== '-') lineStart = false;
  }
  return max;
}

function article(expected: string): string {
  const names: Record<string, string> = {
    int: 'an integer',
    number: 'a number',
    string: 'a string',
    boolean: 'a boolean (true or false)',
    object: 'a mapping',
    array: 'a list',
    record: 'a mapping',
  };
  return names[expected] ?? expected;
}
