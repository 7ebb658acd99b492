// What filters and tests are declared as, the helpers that check and convert their arguments, and the
// work units of the steps some filters take per occurrence (on top of the characters they go through).
import { SafeFunction, describeValue, fail, memberLookup, toText } from './templateEnvironment';
import { type TemplateBudget } from '../templateBudget';

export interface FilterSpec {
  /** Parameter names after the piped value; keyword arguments are matched against them. */
  readonly params: readonly string[];
  /** `where` names the expression in messages, e.g. "s | replace('a', 'b')". */
  apply(value: unknown, args: unknown[], b: TemplateBudget, where: string): unknown;
}

export interface TestSpec {
  readonly params: readonly string[];
  apply(value: unknown, args: unknown[], b: TemplateBudget, where: string): boolean;
}

// Work units of the steps some filters take per occurrence, on top of the characters they go through
// (measured: bench/dag-template-bombs.bench.ts keeps the time per unit of every filter in line).
/** Per word, for filters that run JavaScript per word (title, urlize). */
export const WORD_COST = 64;
/** Per occurrence replaced (replace), line (indent, nl2br), tag (striptags) or group (groupby). */
export const OCCURRENCE_COST = 16;
/** Per key of an attribute path read from an element (selectattr, sort(attribute=...), sum...). */
const ATTRIBUTE_COST = 8;

export function text(v: unknown, filter: string, b: TemplateBudget): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return toText(v, `The ${filter} filter`, b);
  throw fail('TEMPLATE_RUNTIME', `The ${filter} filter expects text, got ${describeValue(v)}.`);
}

export function list(v: unknown, filter: string): unknown[] {
  if (Array.isArray(v)) return v;
  throw fail('TEMPLATE_RUNTIME', `The ${filter} filter expects a list, got ${describeValue(v)}.`);
}

export function num(v: unknown, filter: string): number {
  if (typeof v === 'number') return v;
  throw fail('TEMPLATE_RUNTIME', `The ${filter} filter expects a number, got ${describeValue(v)}.`);
}

export function intArg(v: unknown, dflt: number, min: number, max: number, what: string): number {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw fail(
      'TEMPLATE_RUNTIME',
      `${what} must be an integer from ${min} to ${max}, got ${describeValue(v)}.`,
    );
  }
  return v;
}

/**
 * `attribute` arguments: a key or a dotted path (`a.b.0`), read through the sandbox's memberLookup;
 * each read is charged by the length of the path.
 */
export function attrGetter(
  attr: unknown,
  filter: string,
  b: TemplateBudget,
  where: string,
): (v: unknown) => unknown {
  if (typeof attr === 'number') return (v) => memberLookup(v, attr);
  if (typeof attr !== 'string' || attr === '') {
    throw fail(
      'TEMPLATE_RUNTIME',
      `The ${filter} filter needs an attribute name, got ${describeValue(attr)}.`,
    );
  }
  b.scan(attr.length, where);
  const parts = attr.split('.').map((p) => (/^-?\d+$/.test(p) ? Number(p) : p));
  b.elements(parts.length, where);
  return (v) => {
    b.spend(ATTRIBUTE_COST * parts.length, where);
    let cur = v;
    for (const p of parts) {
      if (cur === undefined || cur === null) return undefined;
      cur = memberLookup(cur, p);
    }
    return cur;
  };
}

export function noFunctions(v: unknown, filter: string): void {
  if (v instanceof SafeFunction) {
    throw fail('TEMPLATE_RUNTIME', `A function cannot be passed to the ${filter} filter.`);
  }
}

/** Sets a key on a fresh plain object without ever touching the prototype (e.g. a key "__proto__"). */
export function defineKey(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

type FilterFn = (v: unknown, args: unknown[], b: TemplateBudget, where: string) => unknown;

export function filter(params: readonly string[], apply: FilterFn): FilterSpec {
  return { params, apply };
}
