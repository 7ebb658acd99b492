// JSON text of template values, with a cost known before it is paid. A template can build lists that
// share sub-lists (`{% set a = [a, a] %}` sixty times is 60 small lists whose JSON has 2^60 elements),
// so JSON.stringify on template data could run for ever or exhaust the heap. jsonLength measures the
// exact length JSON.stringify would produce, charging every value it visits, and stops as soon as the
// length passes a maximum: the walk costs at most that maximum, whatever the value shares.
import { type TemplateBudget } from '../templateBudget';

const hasOwn = Object.prototype.hasOwnProperty;
// Characters JSON.stringify escapes: quote, backslash, control characters, and (well-formed JSON)
// surrogates, of which only the lone ones are escaped.
// eslint-disable-next-line no-control-regex -- control characters are exactly what JSON escapes
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** Length of JSON.stringify(s) for a string: its quotes, its characters and their escapes (charged). */
export function jsonStringLength(s: string, b: TemplateBudget, where: string): number {
  b.scan(s.length, where);
  if (!NEEDS_ESCAPE.test(s)) return s.length + 2;
  b.loop(s.length, where);
  let n = 2;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22 || c === 0x5c) n += 2;
    else if (c < 0x20) n += c === 8 || c === 9 || c === 10 || c === 12 || c === 13 ? 2 : 6;
    else if (c >= 0xd800 && c <= 0xdbff) {
      const d = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 2;
        i++;
      } else n += 6;
    } else if (c >= 0xdc00 && c <= 0xdfff) n += 6;
    else n += 1;
  }
  return n;
}

/** Members JSON.stringify leaves out of objects (and writes as null in lists). */
function isSkipped(v: unknown): boolean {
  return v === undefined || typeof v === 'function' || typeof v === 'symbol';
}

/** Length of String(x) for a finite number, without building the string for integers. */
function numberLength(x: number): number {
  if (x >= 0 && x < 10) return Number.isInteger(x) ? 1 : String(x).length;
  if (!Number.isInteger(x) || Math.abs(x) >= 1e21) return String(x).length;
  let d = x < 0 ? 2 : 1;
  const a = Math.abs(x);
  for (let p = 10; a >= p; p *= 10) d++;
  return d;
}

/**
 * One measurement (a class, not closures: it runs for every rendered value). Exact, or (`estimate`)
 * an upper bound that skips the digits of numbers and the escapes of strings.
 */
class JsonMeter {
  n = 0;
  constructor(
    private readonly b: TemplateBudget,
    private readonly where: string,
    private readonly gap: string,
    private readonly max: number,
    private readonly tooLong: (length: number) => never,
    private readonly estimate = false,
  ) {}

  private numberLength(x: number): number {
    return this.estimate ? 24 : Number.isFinite(x) ? numberLength(x) : 4;
  }

  private stringLength(s: string): number {
    return this.estimate ? s.length + 2 : jsonStringLength(s, this.b, this.where);
  }

  add(k: number): void {
    this.n += k;
    if (this.n > this.max) this.tooLong(this.n);
  }

  /** A primitive (or skipped) value; false for lists and objects. */
  primitive(x: unknown): boolean {
    switch (typeof x) {
      case 'string':
        this.add(this.stringLength(x));
        return true;
      case 'number':
        this.add(this.numberLength(x));
        return true;
      case 'boolean':
        this.add(x ? 4 : 5);
        return true;
      case 'object':
        if (x !== null) return false;
        this.add(4);
        return true;
      case 'bigint':
        this.add(String(x).length); // JSON.stringify throws on BigInt; JSON data never holds one
        return true;
      default:
        this.add(4); // undefined or a function at the top level or in a list: `null`
        return true;
    }
  }

  walk(x: unknown, depth: number): void {
    this.b.spend(1, this.where);
    if (this.primitive(x)) return;
    const gap = this.gap;
    const line = gap === '' ? 0 : 1 + gap.length * (depth + 1);
    const close = gap === '' ? 0 : 1 + gap.length * depth;
    if (Array.isArray(x)) {
      if (x.length === 0) return this.add(2);
      this.b.spend(x.length, this.where);
      this.add(2 + (x.length - 1) + close + line * x.length);
      // Numbers (the common long lists) are summed here; the list is real memory, so its own
      // elements cannot blow up the walk, only what they share (handled by walk's checks).
      let k = 0;
      for (let i = 0; i < x.length; i++) {
        const el: unknown = x[i];
        if (typeof el === 'number') k += this.numberLength(el);
        else if (typeof el === 'object' && el !== null) this.walk(el, depth + 1);
        else if (isSkipped(el)) k += 4;
        else this.primitive(el);
      }
      this.add(k);
      return;
    }
    const o = x as Record<string, unknown>;
    let members = 0;
    for (const k in o) {
      if (!hasOwn.call(o, k)) continue;
      const el = o[k];
      if (isSkipped(el)) continue;
      this.add((members === 0 ? 2 + close : 1) + line);
      this.add(this.stringLength(k) + (gap === '' ? 1 : 2));
      this.walk(el, depth + 1);
      members++;
    }
    if (members === 0) this.add(2);
  }
}

/**
 * The exact length of `JSON.stringify(v, null, gap)` for JSON-like data (plain objects, lists,
 * strings, numbers, booleans, null), charged to `b` as it walks: one work unit per value, strings
 * by their length. Calls `tooLong(n)` (which must throw) as soon as the length passes `max`.
 */
export function jsonLength(
  v: unknown,
  b: TemplateBudget,
  where: string,
  gap: string,
  max: number,
  tooLong: (length: number) => never,
): number {
  const m = new JsonMeter(b, where, gap, max, tooLong);
  m.walk(v, 0);
  return m.n;
}

/**
 * An upper bound of the JSON length of `v` (no indent; numbers count 24 characters, string escapes
 * nothing), charged and cut off like jsonLength: for sizes that need not be exact.
 */
export function jsonSizeBound(
  v: unknown,
  b: TemplateBudget,
  where: string,
  max: number,
  tooLong: (length: number) => never,
): number {
  const m = new JsonMeter(b, where, '', max, tooLong, true);
  m.walk(v, 0);
  return m.n;
}

/**
 * `JSON.stringify(v, null, gap)`, measured first: fails (TEMPLATE_TOO_EXPENSIVE) before building
 * anything longer than the string limit, and charges the text it builds.
 */
export function jsonText(v: unknown, b: TemplateBudget, where: string, gap = ''): string {
  const max = b.limits.stringLength;
  const length = jsonLength(v, b, where, gap, max, (n) => {
    b.text(n, where);
    throw new Error('unreachable: the string limit was not enforced');
  });
  b.text(length, where);
  b.scan(2 * length, where); // JSON.stringify writes it character by character
  return JSON.stringify(v === undefined ? null : v, null, gap) ?? 'null';
}

/** At most `max` characters of the JSON of `v` (for messages), without ever building more. */
export function jsonPreview(v: unknown, max = 200): string {
  let out = '';
  const put = (s: string): boolean => {
    out += s;
    return out.length < max;
  };
  const walk = (x: unknown): boolean => {
    if (typeof x === 'string') return put(JSON.stringify(x.length > max ? x.slice(0, max) : x));
    if (typeof x !== 'object' || x === null) return put(isSkipped(x) ? 'null' : String(JSON.stringify(x)));
    if (Array.isArray(x)) {
      if (!put('[')) return false;
      for (let i = 0; i < x.length; i++) {
        if (i > 0 && !put(',')) return false;
        if (!walk(x[i])) return false;
      }
      return put(']');
    }
    if (!put('{')) return false;
    let first = true;
    for (const k in x) {
      if (!hasOwn.call(x, k)) continue;
      const el = (x as Record<string, unknown>)[k];
      if (isSkipped(el)) continue;
      if (!first && !put(',')) return false;
      first = false;
      if (!put(`${JSON.stringify(k.length > max ? k.slice(0, max) : k)}:`)) return false;
      if (!walk(el)) return false;
    }
    return put('}');
  };
  return walk(v) ? out : `${out.slice(0, max)}…`;
}
