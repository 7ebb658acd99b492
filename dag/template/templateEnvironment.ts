// The template sandbox (SPEC §3): the names, functions and value semantics every template operation goes
// through (parsing is parseTemplate.ts).
//
// How the sandbox works. nunjucks 3.2.4 only PARSES templates here (its lexer and parser produce the AST:
// Jinja syntax, whitespace control, raw blocks, positions in errors). We never use nunjucks' compiler or
// runtime: nunjucks compiles templates to JavaScript source run with `new Function`, and its runtime
// `memberLookup` walks the prototype chain and binds methods (`x.constructor.constructor("return process")()`
// is the classic escape). Instead the compile*.ts files here turn the AST into closures that can only:
//   * read OWN data properties of plain objects and arrays (plus `length` and indices of arrays/strings)
//     through `memberLookup` below, which never returns a function and always refuses `constructor`,
//     `__proto__`, `prototype` and the legacy accessor names, whatever the key was computed from;
//   * call the few functions this file defines (`range`, `joiner`; the condition helpers) — wrapped in
//     SafeFunction, an opaque value whose members are all undefined;
//   * apply the filters and tests of templateFilters.ts (re-implemented, no `random`).
// No loader exists: include/import/extends/from/macro/call are rejected when compiling. The variables a
// template sees are exactly its context (inputs, nodes, item, index — or value, output in conditions), the
// constants True/False/None and the functions above: there is no way to name `process`, `require`, `global`.
// Every operation is charged to a TemplateBudget before it runs (../templateBudget.ts), so a template
// cannot hang a render or exhaust memory.
import { type TemplateBudget } from '../templateBudget';
import { jsonText } from './templateJson';
import { TemplateFailure, fail } from './templateFailure';

export { TemplateFailure, fail };

// ---------------------------------------------------------------------------------------------------------
// Names

/** Property names that reach the JS runtime: refused at load time and undefined at render time. */
export const FORBIDDEN_PROPERTIES: ReadonlySet<string> = new Set([
  'constructor',
  '__proto__',
  'prototype',
  '__defineGetter__',
  '__defineSetter__',
  '__lookupGetter__',
  '__lookupSetter__',
]);

/** Top-level names people try in order to reach the runtime; refused at load time with a clear message. */
export const FORBIDDEN_NAMES: ReadonlySet<string> = new Set([
  'process',
  'require',
  'module',
  'exports',
  'global',
  'globalThis',
  'window',
  'self',
  'this',
  'Function',
  'eval',
  'import',
  '__dirname',
  '__filename',
  'constructor',
  '__proto__',
  'prototype',
]);

/** Python spellings accepted as constants (Jinja accepts both; `true/false/none/null` are literals). */
export const CONSTANTS: ReadonlyMap<string, unknown> = new Map<string, unknown>([
  ['True', true],
  ['False', false],
  ['None', null],
]);

// ---------------------------------------------------------------------------------------------------------
// Functions callable from templates

type NativeFn = (args: unknown[], b: TemplateBudget) => unknown;

/**
 * A function a template may call. Opaque on purpose: it has no readable members (memberLookup returns
 * undefined), cannot be output, compared, passed to a filter or serialised into a result.
 */
export class SafeFunction {
  readonly #name: string;
  readonly #params: readonly string[];
  readonly #fn: NativeFn;

  constructor(name: string, params: readonly string[], fn: NativeFn) {
    this.#name = name;
    this.#params = params;
    this.#fn = fn;
  }

  get fnName(): string {
    return this.#name;
  }

  call(positional: unknown[], kwargs: ReadonlyMap<string, unknown> | null, b: TemplateBudget): unknown {
    const params = this.#params;
    if (positional.length > params.length) {
      throw fail(
        'TEMPLATE_RUNTIME',
        `${this.#name}() takes at most ${params.length} argument(s), got ${positional.length}.`,
      );
    }
    const args = positional.slice();
    if (kwargs !== null) {
      for (const [k, v] of kwargs) {
        const i = params.indexOf(k);
        if (i < 0) throw fail('TEMPLATE_RUNTIME', `${this.#name}() has no argument named "${k}".`);
        args[i] = v;
      }
    }
    return this.#fn(args, b);
  }
}

function toInteger(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    throw fail('TEMPLATE_RUNTIME', `${what} must be an integer, got ${describeValue(v)}.`);
  }
  return v;
}

/** `range(stop)`, `range(start, stop[, step])` as in Jinja, charged as a list of its length. */
export const rangeFunction = new SafeFunction('range', ['start', 'stop', 'step'], (args, b) => {
  let start: number;
  let stop: number;
  if (args[1] === undefined) {
    start = 0;
    stop = toInteger(args[0], 'range() stop');
  } else {
    start = toInteger(args[0], 'range() start');
    stop = toInteger(args[1], 'range() stop');
  }
  const step = args[2] === undefined ? 1 : toInteger(args[2], 'range() step');
  if (step === 0) throw fail('TEMPLATE_RUNTIME', 'range() step must not be zero.');
  const count = Math.max(0, Math.ceil((stop - start) / step));
  b.list(count, 'range()');
  const out = new Array<number>(count);
  for (let i = 0; i < count; i++) out[i] = start + i * step;
  return out;
});

/** `joiner(sep=",")`: a function returning "" the first time and `sep` afterwards. */
export const joinerFunction = new SafeFunction('joiner', ['sep'], (args, b) => {
  const sep = args[0] === undefined ? ',' : toText(args[0], 'joiner() separator', b);
  let first = true;
  return new SafeFunction('joiner', [], () => {
    if (first) {
      first = false;
      return '';
    }
    return sep;
  });
});

export const TEMPLATE_FUNCTIONS: ReadonlyMap<string, SafeFunction> = new Map([
  ['range', rangeFunction],
  ['joiner', joinerFunction],
]);

// ---------------------------------------------------------------------------------------------------------
// Value semantics

const hasOwn = Object.prototype.hasOwnProperty;
const objectProto = Object.prototype;

/** A JSON-like object: created by `{}`/JSON.parse/YAML or with a null prototype. Arrays are not plain. */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === objectProto || proto === null;
}

function indexInto(length: number, key: number): number {
  if (!Number.isInteger(key)) return -1;
  const i = key < 0 ? length + key : key;
  return i >= 0 && i < length ? i : -1;
}

/**
 * `obj.key` / `obj[key]` inside a template. Only own data of plain objects and arrays (and `length` and
 * indices of arrays and strings; negative indices count from the end as in Jinja) — never a method, never
 * anything from a prototype, never a function, never one of FORBIDDEN_PROPERTIES. Anything else is undefined.
 */
export function memberLookup(obj: unknown, key: unknown): unknown {
  if (typeof key === 'number') {
    if (Array.isArray(obj)) {
      const i = indexInto(obj.length, key);
      return i < 0 ? undefined : (obj[i] as unknown);
    }
    if (typeof obj === 'string') {
      const i = indexInto(obj.length, key);
      return i < 0 ? undefined : obj.charAt(i);
    }
    key = String(key);
  }
  if (typeof key !== 'string' || FORBIDDEN_PROPERTIES.has(key)) return undefined;
  if (Array.isArray(obj)) {
    if (key === 'length') return obj.length;
    return /^-?\d+$/.test(key) ? memberLookup(obj, Number(key)) : undefined;
  }
  if (typeof obj === 'string') {
    if (key === 'length') return obj.length;
    return /^-?\d+$/.test(key) ? memberLookup(obj, Number(key)) : undefined;
  }
  if (isPlainObject(obj) && hasOwn.call(obj, key)) {
    const v = obj[key];
    return typeof v === 'function' ? undefined : v;
  }
  return undefined;
}

/** Python/Jinja truthiness: null, undefined, false, 0, NaN, "", [] and {} are false. */
export function truthy(v: unknown): boolean {
  if (v === null || v === undefined) return false;
  switch (typeof v) {
    case 'boolean':
      return v;
    case 'number':
      return v !== 0 && v === v;
    case 'string':
      return v.length > 0;
    case 'object':
      if (Array.isArray(v)) return v.length > 0;
      if (isPlainObject(v)) {
        for (const k in v) if (hasOwn.call(v, k)) return true;
        return false;
      }
      return true;
    default:
      return true;
  }
}

/**
 * Deep equality over JSON values; null and undefined are equal (both "none"); no type coercion.
 * Charged one unit per pair of values compared, and strings by their length.
 */
export function valuesEqual(a: unknown, b: unknown, m: TemplateBudget, where: string): boolean {
  m.spend(1, where);
  if (typeof a === 'string') {
    if (typeof b !== 'string') return false;
    if (a.length === b.length) m.scan(a.length, where);
    return a === b;
  }
  if (a === b) return true;
  if (a === null || a === undefined) return b === null || b === undefined;
  if (b === null || b === undefined) return false;
  if (typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!valuesEqual(a[i], b[i], m, where)) return false;
    return true;
  }
  if (Array.isArray(b) || !isPlainObject(a) || !isPlainObject(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  m.spend(ka.length + kb.length, where);
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    m.scan(k.length, where);
    if (!hasOwn.call(b, k) || !valuesEqual(a[k], b[k], m, where)) return false;
  }
  return true;
}

export type OrderOp = '<' | '>' | '<=' | '>=';

/**
 * `<`, `>`, `<=`, `>=`: numbers with numbers, strings with strings (code-unit order). Anything else (a
 * string with a number, null, lists...) is an error, not a silent false.
 */
export function compareOrder(op: OrderOp, a: unknown, b: unknown, where: string, m: TemplateBudget): boolean {
  m.spend(1, where);
  if ((typeof a === 'number' && typeof b === 'number') || (typeof a === 'string' && typeof b === 'string')) {
    if (typeof a === 'string') m.scan(Math.min(a.length, (b as string).length), where);
    switch (op) {
      case '<':
        return a < b;
      case '>':
        return a > b;
      case '<=':
        return a <= b;
      case '>=':
        return a >= b;
    }
  }
  let hint = 'both sides must be numbers, or both strings.';
  if (
    (typeof a === 'string' && typeof b === 'number' && a.trim() !== '' && Number.isFinite(Number(a))) ||
    (typeof b === 'string' && typeof a === 'number' && b.trim() !== '' && Number.isFinite(Number(b)))
  ) {
    hint = 'both sides must be numbers, or both strings; convert text with the | float or | int filter.';
  } else if (a === null || a === undefined || b === null || b === undefined) {
    hint = 'the value is missing; test it first, e.g. "value != null and ...".';
  }
  throw fail(
    'TEMPLATE_RUNTIME',
    `Cannot compare ${describeValue(a)} with ${describeValue(b)} using "${op}" in ${where}: ${hint}`,
  );
}

/** Jinja's `in`: element of a list (deep equality), substring of a string, own key of an object. */
export function inOperator(needle: unknown, haystack: unknown, where: string, m: TemplateBudget): boolean {
  if (Array.isArray(haystack)) {
    m.spend(haystack.length, where);
    for (const el of haystack) if (valuesEqual(el, needle, m, where)) return true;
    return false;
  }
  if (typeof haystack === 'string') {
    if (typeof needle !== 'string') {
      throw fail(
        'TEMPLATE_RUNTIME',
        `Cannot test whether ${describeValue(needle)} is in the string ${describeValue(haystack)} (${where}): only text can be found in text.`,
      );
    }
    // V8's substring search is linear in the haystack plus the needle (measured: ~1 unit a character).
    m.loop((haystack.length + needle.length) >> 1, where);
    return haystack.includes(needle);
  }
  if (isPlainObject(haystack)) {
    if (typeof needle === 'string') m.scan(needle.length, where);
    return typeof needle === 'string' && !FORBIDDEN_PROPERTIES.has(needle) && hasOwn.call(haystack, needle);
  }
  throw fail(
    'TEMPLATE_RUNTIME',
    `Cannot use "in" on ${describeValue(haystack)} (${where}): the right side must be a list, a string or an object.`,
  );
}

/** The type names used in messages. */
export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'list';
  if (v instanceof SafeFunction) return 'function';
  if (typeof v === 'object') return 'object';
  return typeof v;
}

/** A short description of a value for error messages: `number 5`, `string "abc"`, `null`, `list`... */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (v === null) return 'null';
  if (typeof v === 'string') {
    const s = v.length > 40 ? `${v.slice(0, 40)}…` : v;
    return `string ${JSON.stringify(s)}`;
  }
  if (typeof v === 'number' || typeof v === 'boolean') return `${typeof v} ${String(v)}`;
  if (v instanceof SafeFunction) return `function ${v.fnName}()`;
  if (Array.isArray(v)) return `list (length ${v.length})`;
  return typeName(v);
}

/**
 * How a value is written into text (mixed templates, `~`, the `string` filter): strings as they are,
 * numbers and booleans in JSON form (`5`, `2.5`, `true`), null and undefined as "" (nothing), lists and
 * objects as compact JSON (`[1,2]`, `{"a":1}`). Functions and non-finite numbers are errors.
 */
export function toText(v: unknown, where: string, b: TemplateBudget): string {
  switch (typeof v) {
    case 'string':
      return v;
    case 'number':
      if (!Number.isFinite(v)) throw nonFinite(where);
      return String(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'undefined':
      return '';
    case 'object':
      if (v === null) return '';
      if (v instanceof SafeFunction) throw functionValue(v, where);
      return jsonText(v, b, where);
    default:
      throw fail('TEMPLATE_RUNTIME', `${where} produced a ${typeof v}, which cannot be written as text.`);
  }
}

export function nonFinite(where: string): TemplateFailure {
  return fail(
    'TEMPLATE_RUNTIME',
    `${where} produced a number that is not finite (NaN or Infinity); check the arithmetic.`,
  );
}

export function functionValue(f: SafeFunction, where: string): TemplateFailure {
  return fail(
    'TEMPLATE_RUNTIME',
    `${where} is the function ${f.fnName}(), not a value; call it, e.g. ${f.fnName}(...).`,
  );
}
