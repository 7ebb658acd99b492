// Rendering workflow templates (SPEC §3).
//
// * A string that is exactly one `{{ expr }}` (whitespace around allowed) yields the expression's native
//   value: number, boolean, null, list, object, string. Anything else renders to a string, where strings
//   are written as they are, numbers/booleans in JSON form, null/undefined as "" and lists/objects as
//   compact JSON (`[1,2]`).
// * A missing key of an existing object is null (single expression) or "" (text); reading THROUGH a
//   missing or null value (`nodes.zz.output.a` when zz is not in the context) is a TEMPLATE_UNDEFINED error.
// * Strings without `{{`/`{%` are data: returned unchanged, never parsed. Rendered results are never
//   rendered again, so submitted inputs can never act as templates.
// * Expected failures are returned as `{ ok: false, error }`; nothing is thrown.
// * Every render is charged to a TemplateBudget (templateBudget.ts): pass the node's budget so that all
//   its templates share the limits; a render that runs out fails with TEMPLATE_TOO_EXPENSIVE. The JSON
//   size of each rendered value is charged too (it is stored and sent), so a value that shares
//   sub-lists cannot expand into gigabytes later.
// * Native values read from the context are returned by reference (not copied): treat results as
//   immutable, like the context.
import { compileTemplate, isTemplateString } from './template/compileTemplate';
import { evaluate } from './template/evaluate';
import { State } from './template/state';
import { TemplateFailure, isPlainObject } from './template/templateEnvironment';
import { copyError, toTemplateError } from './template/toTemplateError';
import { TemplateBudget } from './templateBudget';
import { jsonSizeBound } from './template/templateJson';
import { type TemplateContext, type TemplateError, type TemplateResult } from './templateTypes';

/**
 * Renders one template string: native value for a single `{{ expr }}`, else a string. `measure: false`
 * skips charging the result's JSON size (a fan-out source: only its elements are stored, in the
 * children's params, which are measured).
 */
export function renderString(
  template: string,
  ctx: TemplateContext,
  budget: TemplateBudget = new TemplateBudget(),
  measure = true,
): TemplateResult<unknown> {
  if (!isTemplateString(template)) return { ok: true, value: template };
  const c = compileTemplate(template);
  const first = c.errors[0];
  if (first !== undefined) return { ok: false, error: copyError(first) };
  try {
    const value = evaluate(c, new State(ctx as unknown as Record<string, unknown>, budget));
    if (measure) chargeResult(value, budget);
    return { ok: true, value };
  } catch (e) {
    return { ok: false, error: toTemplateError(e, template) };
  }
}

/**
 * Charges the JSON size of a rendered value as memory (one byte per character): it is stored and
 * sent later. The walk stops as soon as the size passes what the budget has left.
 */
function chargeResult(value: unknown, b: TemplateBudget): void {
  const where = 'The rendered value';
  // Text and scalars: their size is known (text was charged as it was built; escapes do not matter here).
  if (typeof value === 'string') return b.alloc(value.length + 2, where);
  if (typeof value !== 'object' || value === null) return b.alloc(8, where);
  const left = b.limits.memory - b.memory;
  const size = jsonSizeBound(value, b, where, left, (n) => {
    b.alloc(n, where);
    throw new Error('unreachable: the memory limit was not enforced');
  });
  b.alloc(size, where);
}

/**
 * Deep-walks arrays and plain objects and renders every template string in them; other values are left
 * as they are. Unchanged subtrees are returned as the same objects (no copy). The first error wins and
 * carries the JSON path of its string (`path` is the prefix, e.g. "params" → "params.validation").
 */
export function renderValue(
  value: unknown,
  ctx: TemplateContext,
  path?: string,
  budget: TemplateBudget = new TemplateBudget(),
): TemplateResult<unknown> {
  const state = new State(ctx as unknown as Record<string, unknown>, budget);
  try {
    return { ok: true, value: walk(value, state) };
  } catch (e) {
    const template = e instanceof TemplateFailure && e.template !== undefined ? e.template : '';
    const error: TemplateError = toTemplateError(e, template);
    const p = joinPath(path, e instanceof TemplateFailure ? e.segments : []);
    if (p !== undefined) error.path = p;
    return { ok: false, error };
  }
}

function renderOne(s: string, state: State): unknown {
  if (!isTemplateString(s)) return s;
  const c = compileTemplate(s);
  const first = c.errors[0];
  if (first !== undefined) {
    const f = new TemplateFailure(first.code, first.message, first.line, first.column);
    f.template = s;
    throw f;
  }
  try {
    const v = evaluate(c, state);
    chargeResult(v, state.b);
    return v;
  } catch (e) {
    if (e instanceof TemplateFailure) {
      e.template = s;
      throw e;
    }
    const err = toTemplateError(e, s);
    const f = new TemplateFailure(err.code, err.message);
    f.template = s;
    throw f;
  }
}

function withSegment(e: unknown, seg: string | number): TemplateFailure {
  const f =
    e instanceof TemplateFailure
      ? e
      : new TemplateFailure(
          'TEMPLATE_RUNTIME',
          e instanceof RangeError
            ? 'The params are nested too deeply to render.'
            : `Rendering failed: ${String(e)}`,
        );
  f.segments.unshift(seg);
  return f;
}

function walk(v: unknown, state: State): unknown {
  state.b.spend(1, 'params');
  if (typeof v === 'string') return renderOne(v, state);
  if (typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) {
    let out: unknown[] | null = null;
    for (let i = 0; i < v.length; i++) {
      const el: unknown = v[i];
      let r: unknown;
      try {
        r = walk(el, state);
      } catch (e) {
        throw withSegment(e, i);
      }
      if (out !== null) out.push(r);
      else if (r !== el) {
        state.b.list(v.length, 'params');
        out = v.slice(0, i);
        out.push(r);
      }
    }
    return out ?? v;
  }
  if (!isPlainObject(v)) return v;
  const keys = Object.keys(v);
  let out: Record<string, unknown> | null = null;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    const el = v[k];
    let r: unknown;
    try {
      r = walk(el, state);
    } catch (e) {
      throw withSegment(e, k);
    }
    if (out === null && r !== el) {
      state.b.object(keys.length, 'params');
      out = {};
      for (let j = 0; j < i; j++) {
        const kj = keys[j] as string;
        setKey(out, kj, v[kj]);
      }
    }
    if (out !== null) setKey(out, k, r);
  }
  return out ?? v;
}

function setKey(o: Record<string, unknown>, k: string, value: unknown): void {
  if (k === '__proto__')
    Object.defineProperty(o, k, { value, enumerable: true, writable: true, configurable: true });
  else o[k] = value;
}

/** `params` + ['a', 0, 'b.c'] → `params.a[0]["b.c"]`; undefined when there is nothing to show. */
export function joinPath(
  base: string | undefined,
  segments: ReadonlyArray<string | number>,
): string | undefined {
  let p = base ?? '';
  for (const s of segments) {
    if (typeof s === 'number') p += `[${s}]`;
    else if (/^[^.[\]"]+$/.test(s)) p += p === '' ? s : `.${s}`;
    else p += `[${JSON.stringify(s)}]`;
  }
  return p === '' ? undefined : p;
}
