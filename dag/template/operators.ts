// The runtime side of template operators and output: arithmetic, `+` and `~`, writing text, and the checks
// on values a template yields or stores (no functions, no NaN, foreign errors wrapped with their place).
import { type TemplateBudget } from '../templateBudget';
import {
  SafeFunction,
  TemplateFailure,
  describeValue,
  fail,
  functionValue,
  nonFinite,
  toText,
} from './templateEnvironment';
import { type State } from './state';

export function arithmetic(op: string, l: unknown, r: unknown, where: string): number {
  if (typeof l !== 'number' || typeof r !== 'number') {
    const hint =
      op === '+' && (typeof l === 'string' || typeof r === 'string')
        ? ' use ~ to join text (e.g. "a" ~ 1), or | int / | float to turn text into a number.'
        : ' both sides must be numbers (use | int or | float to convert text).';
    throw fail(
      'TEMPLATE_RUNTIME',
      `Cannot apply "${op}" to ${describeValue(l)} and ${describeValue(r)} in ${where}:${hint}`,
    );
  }
  let v: number;
  switch (op) {
    case '+':
      v = l + r;
      break;
    case '-':
      v = l - r;
      break;
    case '*':
      v = l * r;
      break;
    case '/':
      if (r === 0) throw fail('TEMPLATE_RUNTIME', `Division by zero in ${where}.`);
      v = l / r;
      break;
    case '//':
      if (r === 0) throw fail('TEMPLATE_RUNTIME', `Division by zero in ${where}.`);
      v = Math.floor(l / r);
      break;
    case '%':
      if (r === 0) throw fail('TEMPLATE_RUNTIME', `Modulo by zero in ${where}.`);
      v = l - r * Math.floor(l / r);
      break;
    default:
      v = l ** r;
  }
  if (!Number.isFinite(v)) throw nonFinite(where);
  return v;
}

export function add(l: unknown, r: unknown, where: string, b: TemplateBudget): unknown {
  if (typeof l === 'string' && typeof r === 'string') {
    b.concat(l.length + r.length, Math.min(l.length, r.length), where);
    return l + r;
  }
  if (Array.isArray(l) && Array.isArray(r)) {
    b.list(l.length + r.length, where);
    return l.concat(r);
  }
  return arithmetic('+', l, r, where);
}

/** `a ~ b`: both sides as text, joined. */
export function concatText(l: unknown, r: unknown, where: string, b: TemplateBudget): string {
  const ls = toText(l, where, b);
  const rs = toText(r, where, b);
  b.concat(ls.length + rs.length, Math.min(ls.length, rs.length), where);
  return ls + rs;
}

/** Appends text to the output buffer, charged like `~`. */
export function write(s: State, text: string, where: string): void {
  const total = s.buf.length + text.length;
  s.b.concat(total, Math.min(s.buf.length, text.length), where);
  s.buf += text;
}

export function notAFunction(v: unknown, where: string): void {
  if (v instanceof SafeFunction) throw functionValue(v, where);
}

/** The value a single-expression template yields: undefined becomes null; functions/NaN are errors. */
export function finalizeNative(v: unknown, where: string): unknown {
  if (v === undefined) return null;
  if (typeof v === 'number' && !Number.isFinite(v)) throw nonFinite(where);
  if (v instanceof SafeFunction) throw functionValue(v, where);
  return v;
}

export function wrapForeign(e: unknown, where: string): TemplateFailure {
  if (e instanceof TemplateFailure) return e;
  if (e instanceof RangeError)
    return fail('TEMPLATE_RUNTIME', `${where} failed: the data is nested too deeply or is too large.`);
  const msg = e instanceof Error ? e.message : String(e);
  return fail('TEMPLATE_RUNTIME', `${where} failed: ${msg}`);
}

/** An element of a list/object built by the template: undefined becomes null; functions cannot be stored. */
export function nullify(v: unknown): unknown {
  if (v === undefined) return null;
  if (v instanceof SafeFunction) throw functionValue(v, 'A list or object element');
  return v;
}
