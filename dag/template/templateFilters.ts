// Filters (`x | name(args)`) and tests (`x is name`) available to workflow templates.
//
// The set is nunjucks 3.2.4's built-ins, re-implemented over the sandbox's value semantics
// (templateEnvironment.ts) instead of calling nunjucks' own functions: theirs read attributes with plain
// `obj[attr]` (so `| sum('constructor')` or `| sort(attribute='constructor')` reached Function and printed
// its source) and `random` is not deterministic. Differences from nunjucks, all towards Jinja2:
//   * `random` does not exist (rejected at load time: templates must be deterministic);
//   * `default(d)` also replaces null (declared optional inputs that were not given are null);
//   * `int`/`float` fall back to 0 like Jinja; `round` rounds half away from zero ('common');
//   * `selectattr`/`rejectattr` also take Jinja's test form: `selectattr('kind', 'equalto', 'tif')`;
//   * text filters accept numbers and booleans (written as in output); lists/objects are an error;
//   * results never contain functions; sizes are capped (center/indent widths, batch/slice counts).
// Every filter and test charges the TemplateBudget for its work and for what it builds, before building
// it (templateBudget.ts), and runs in time linear in its input: the regular expressions that could
// backtrack (striptags on "<a<a…" or "<!--<!--…", trailing spaces, number syntax) are scanners here.
import { type TemplateBudget } from '../templateBudget';
import {
  SafeFunction,
  compareOrder,
  describeValue,
  fail,
  inOperator,
  isPlainObject,
  memberLookup,
  toText,
  truthy,
  valuesEqual,
} from './templateEnvironment';
import { jsonText } from '../templateJson';

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
const WORD_COST = 64;
/** Per occurrence replaced (replace), line (indent, nl2br), tag (striptags) or group (groupby). */
const OCCURRENCE_COST = 16;
/** Per key of an attribute path read from an element (selectattr, sort(attribute=...), sum...). */
const ATTRIBUTE_COST = 8;

// ---------------------------------------------------------------------------------------------------------
// Argument helpers

function text(v: unknown, filter: string, b: TemplateBudget): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return toText(v, `The ${filter} filter`, b);
  throw fail('TEMPLATE_RUNTIME', `The ${filter} filter expects text, got ${describeValue(v)}.`);
}

function list(v: unknown, filter: string): unknown[] {
  if (Array.isArray(v)) return v;
  throw fail('TEMPLATE_RUNTIME', `The ${filter} filter expects a list, got ${describeValue(v)}.`);
}

function num(v: unknown, filter: string): number {
  if (typeof v === 'number') return v;
  throw fail('TEMPLATE_RUNTIME', `The ${filter} filter expects a number, got ${describeValue(v)}.`);
}

function intArg(v: unknown, dflt: number, min: number, max: number, what: string): number {
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
function attrGetter(
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

function noFunctions(v: unknown, filter: string): void {
  if (v instanceof SafeFunction) {
    throw fail('TEMPLATE_RUNTIME', `A function cannot be passed to the ${filter} filter.`);
  }
}

/** Sets a key on a fresh plain object without ever touching the prototype (e.g. a key "__proto__"). */
function defineKey(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** The HTML entity of a character escape writes, by character code (undefined: written as it is). */
function htmlEntity(c: number): string | undefined {
  switch (c) {
    case 0x26:
      return '&amp;';
    case 0x22:
      return '&quot;';
    case 0x27:
      return '&#39;';
    case 0x3c:
      return '&lt;';
    case 0x3e:
      return '&gt;';
    case 0x5c:
      return '&#92;';
    default:
      return undefined;
  }
}

/** HTML escaping, its output size known (and charged) before it is built; one pass, no callbacks. */
function escapeHtml(s: string, b: TemplateBudget, where: string): string {
  b.scan(s.length, where);
  if (!/[&"'<>\\]/.test(s)) return s;
  b.loop(s.length, where);
  let extra = 0;
  for (let i = 0; i < s.length; i++) {
    const e = htmlEntity(s.charCodeAt(i));
    if (e !== undefined) extra += e.length - 1;
  }
  b.text(s.length + extra, where);
  b.loop(s.length + extra, where);
  const out = new Uint16Array(s.length + extra);
  let w = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const e = htmlEntity(c);
    if (e === undefined) out[w++] = c;
    else for (let k = 0; k < e.length; k++) out[w++] = e.charCodeAt(k);
  }
  return decodeUnits(out, w);
}

/** Charges a case mapping (lower/upper can change the length of some characters) and checks its result. */
function caseMapped(s: string, map: (t: string) => string, b: TemplateBudget, where: string): string {
  b.loop(s.length, where); // non-ASCII text is mapped character by character
  b.text(s.length, where);
  const r = map(s);
  if (r.length > s.length) b.text(r.length - s.length, where);
  b.checkLength(r.length, where);
  return r;
}

function capitalizeWord(s: string): string {
  const lower = s.toLowerCase();
  return lower.charAt(0).toUpperCase() + lower.slice(1);
}

/**
 * Upper-cases the first character of every word (words are separated by single spaces) of lower-cased
 * text, in place in a buffer; when a character's upper case is longer (e.g. "ŉ"), word by word.
 */
function capitalizeWords(lower: string, b: TemplateBudget, where: string): string {
  const out = new Uint16Array(lower.length);
  for (let i = 0; i < lower.length; i++) {
    const c = lower.charCodeAt(i);
    if (c === 0x20 || (i > 0 && lower.charCodeAt(i - 1) !== 0x20)) out[i] = c;
    else if (c < 0x80) out[i] = c >= 0x61 && c <= 0x7a ? c - 0x20 : c;
    else {
      const up = lower.charAt(i).toUpperCase();
      if (up.length !== 1) return capitalizeWordByWord(lower, b, where);
      out[i] = up.charCodeAt(0);
    }
  }
  return decodeUnits(out, out.length);
}

function capitalizeWordByWord(lower: string, b: TemplateBudget, where: string): string {
  const parts: string[] = [];
  let last = 0;
  for (let i = 0; i < lower.length; i++) {
    if (lower.charCodeAt(i) === 0x20 || (i > 0 && lower.charCodeAt(i - 1) !== 0x20)) continue;
    b.spend(WORD_COST, where);
    parts.push(lower.slice(last, i), lower.charAt(i).toUpperCase());
    last = i + 1;
  }
  parts.push(lower.slice(last));
  b.elements(parts.length, where);
  b.checkLength(lower.length + (parts.length - 1), where); // an upper case is at most 3 characters
  const r = parts.join('');
  b.text(r.length - lower.length, where);
  return r;
}

function sortKey(v: unknown, caseSensitive: boolean, b: TemplateBudget, where: string): unknown {
  if (caseSensitive || typeof v !== 'string') return v;
  b.text(v.length, where);
  return v.toLowerCase();
}

/** Work units of one comparison of a sort, besides comparing the values. */
const COMPARE_COST = 8;

function orderOf(a: unknown, c: unknown, where: string, b: TemplateBudget): number {
  b.spend(COMPARE_COST, where);
  if (valuesEqual(a, c, b, where)) return 0;
  return compareOrder('<', a, c, where, b) ? -1 : 1;
}

/** The integer a string spells in `base`, or undefined. Linear: no regular expression that backtracks. */
function parseIntStrict(s: string, base: number): number | undefined {
  const t = s.trim();
  if (base === 10) {
    if (/^[-+]?\d+$/.test(t)) return parseInt(t, 10);
    // One reading of each digit run (the former /\d+\.?\d*/ tried every split of a run: quadratic).
    if (/^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/.test(t)) return Math.trunc(Number(t));
    return undefined;
  }
  const digits = '0123456789abcdefghijklmnopqrstuvwxyz'.slice(0, base);
  const body = t
    .replace(/^[-+]/, '')
    .replace(base === 16 ? /^0x/i : base === 8 ? /^0o/i : base === 2 ? /^0b/i : /^$/, '')
    .toLowerCase();
  if (body === '') return undefined;
  for (let i = 0; i < body.length; i++) if (!digits.includes(body.charAt(i))) return undefined;
  return parseInt(t.replace(/^([-+]?)0[xob]/i, '$1'), base);
}

/** Per "<" that striptags looks at. */
const TAG_COST = 16;

const isLetter = (c: number): boolean => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
const isAlnum = (c: number): boolean => isLetter(c) || (c >= 0x30 && c <= 0x39);
const isWordChar = (c: number): boolean => isAlnum(c) || c === 0x5f;
const isLineBreak = (c: number): boolean => c === 0x0a || c === 0x0d || c === 0x2028 || c === 0x2029;

/**
 * Removes HTML tags and comments: what s.replace(/<\/?([a-z][a-z0-9]*)\b[^>]*>|<!--[\s\S]*?-->/gi, '')
 * removes, in one left-to-right pass. The regex tries, at every "<", a scan to the next ">" (or "-->"),
 * which is quadratic on "<a<a<a…" and "<!--<!--…" without one; here the next ">" and the next "-->"
 * are found once and reused until the scan passes them.
 */
function removeTags(s: string, b: TemplateBudget, where: string): string {
  const parts: string[] = [];
  let last = 0;
  let gt = -2; // the next ">" at or after the last search (-1: none is left; -2: not searched yet)
  let close = -2; // the same for "-->"
  let i = s.indexOf('<');
  while (i >= 0) {
    b.spend(TAG_COST, where);
    let end = -1;
    if (s.startsWith('<!--', i)) {
      if (close !== -1 && close < i + 4) close = s.indexOf('-->', i + 4);
      if (close >= 0) end = close + 3;
    } else {
      let j = i + 1;
      if (s.charCodeAt(j) === 0x2f) j++;
      if (isLetter(s.charCodeAt(j))) {
        j++;
        while (isAlnum(s.charCodeAt(j))) j++;
        // \b after the name: the next character is not a word character ("_", the only one left).
        if (s.charCodeAt(j) !== 0x5f) {
          if (gt !== -1 && gt < j) gt = s.indexOf('>', j);
          if (gt >= 0) end = gt + 1;
        }
      }
    }
    if (end >= 0) {
      b.spend(OCCURRENCE_COST, where);
      parts.push(s.slice(last, i));
      last = end;
      i = s.indexOf('<', end);
    } else i = s.indexOf('<', i + 1);
  }
  if (last === 0) return s;
  parts.push(s.slice(last));
  b.elements(parts.length, where);
  return parts.join('');
}

/** What /\s/ matches. */
function isSpace(c: number): boolean {
  return (
    c === 0x20 ||
    (c >= 0x09 && c <= 0x0d) ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

/** A string from UTF-16 code units, decoded in chunks (fromCharCode takes its arguments on the stack). */
function decodeUnits(units: Uint16Array, length: number): string {
  const parts: string[] = [];
  for (let k = 0; k < length; k += 8192) {
    const chunk = units.subarray(k, Math.min(length, k + 8192));
    parts.push(String.fromCharCode.apply(null, chunk as unknown as number[]));
  }
  return parts.join('');
}

/**
 * striptags' white space rules, in one pass each instead of chained regular expressions (which cost a
 * callback-free but per-match step, and one of which, / +$/m, is quadratic on long runs of spaces):
 * * without `keep`: s.replace(/\s+/g, ' ');
 * * with `keep`: s.replace(/^ +| +$/gm, '').replace(/ +/g, ' ').replace(/\r\n/g, '\n')
 *   .replace(/\n\n\n+/g, '\n\n'): spaces at the start or end of a line go, other runs of spaces become
 *   one, CRLF becomes LF, and more than two line feeds in a row become two.
 */
function normalizeSpace(s: string, keep: boolean): string {
  const n = s.length;
  const a = new Uint16Array(n);
  let w = 0;
  for (let i = 0; i < n;) {
    const c = s.charCodeAt(i);
    const run = keep ? c === 0x20 : isSpace(c);
    if (!run) {
      a[w++] = c;
      i++;
      continue;
    }
    let j = i + 1;
    while (j < n && (keep ? s.charCodeAt(j) === 0x20 : isSpace(s.charCodeAt(j)))) j++;
    const atLineEdge = i === 0 || isLineBreak(s.charCodeAt(i - 1)) || j === n || isLineBreak(s.charCodeAt(j));
    if (!keep || !atLineEdge) a[w++] = 0x20;
    i = j;
  }
  if (!keep) return decodeUnits(a, w);
  let v = 0;
  let feeds = 0; // line feeds just written
  for (let i = 0; i < w; i++) {
    const c = a[i]!;
    if (c === 0x0d && i + 1 < w && a[i + 1] === 0x0a) continue;
    if (c === 0x0a) {
      if (++feeds > 2) continue;
    } else feeds = 0;
    a[v++] = c;
  }
  return decodeUnits(a, v);
}

/** Number of code points (a surrogate pair is one). */
function codePointCount(s: string): number {
  let n = s.length;
  for (let i = 0; i + 1 < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

/** [...s].reverse().join(''), without a list of one string per character. */
function reverseText(s: string): string {
  const out = new Uint16Array(s.length);
  let w = 0;
  for (let i = s.length - 1; i >= 0; i--) {
    const c = s.charCodeAt(i);
    if (c >= 0xdc00 && c <= 0xdfff && i > 0) {
      const h = s.charCodeAt(i - 1);
      if (h >= 0xd800 && h <= 0xdbff) {
        out[w++] = h;
        out[w++] = c;
        i--;
        continue;
      }
    }
    out[w++] = c;
  }
  return decodeUnits(out, out.length);
}

// ASCII characters encodeURIComponent leaves as they are.
const UNRESERVED = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.!~*'()")
  UNRESERVED[c.charCodeAt(0)] = 1;

/** Length of encodeURIComponent(s) (which throws on lone surrogates, as before). */
function encodedLength(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += UNRESERVED[c] === 1 ? 1 : 3;
    else if (c < 0x800) n += 6;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 12;
      i++;
    } else n += 9;
  }
  return n;
}

/** Counts the occurrences of a character code. */
function countChar(s: string, code: number): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) === code) n++;
  return n;
}

/** One word of urlize (nunjucks' rules). */
function urlizeWord(word: string, max: number, rel: string): string {
  const m = /^(?:\(|<|&lt;)?(.*?)(?:\.|,|\)|\n|&gt;)?$/.exec(word);
  const url = m ? (m[1] ?? word) : word;
  const short = url.slice(0, max);
  if (/^https?:\/\/.*$/.test(url)) return `<a href="${url}"${rel}>${short}</a>`;
  if (/^www\./.test(url)) return `<a href="http://${url}"${rel}>${short}</a>`;
  if (/^[\w.!#$%&'*+\-/=?^`{|}~]+@[a-z\d-]+(\.[a-z\d-]+)+$/i.test(url))
    return `<a href="mailto:${url}">${url}</a>`;
  if (/\.(?:org|net|com)(?::|\/|$)/.test(url)) return `<a href="http://${url}"${rel}>${short}</a>`;
  return word;
}

// ---------------------------------------------------------------------------------------------------------
// Tests (`x is name`, `select('name')`)

type TestFn = (v: unknown, args: unknown[], b: TemplateBudget, where: string) => boolean;

function test(params: readonly string[], apply: TestFn): TestSpec {
  return { params, apply };
}

const isNumber = (v: unknown): v is number => typeof v === 'number';

const testEntries: Array<[string, TestSpec]> = [
  ['defined', test([], (v) => v !== undefined)],
  ['undefined', test([], (v) => v === undefined)],
  ['none', test([], (v) => v === null)],
  ['null', test([], (v) => v === null)],
  ['boolean', test([], (v) => typeof v === 'boolean')],
  ['true', test([], (v) => v === true)],
  ['false', test([], (v) => v === false)],
  ['number', test([], (v) => isNumber(v))],
  ['integer', test([], (v) => isNumber(v) && Number.isInteger(v))],
  ['float', test([], (v) => isNumber(v) && !Number.isInteger(v))],
  ['string', test([], (v) => typeof v === 'string')],
  ['mapping', test([], (v) => isPlainObject(v))],
  ['sequence', test([], (v) => Array.isArray(v) || typeof v === 'string')],
  ['iterable', test([], (v) => Array.isArray(v) || typeof v === 'string' || isPlainObject(v))],
  ['callable', test([], (v) => v instanceof SafeFunction)],
  ['escaped', test([], () => false)],
  ['truthy', test([], (v) => truthy(v))],
  ['falsy', test([], (v) => !truthy(v))],
  ['odd', test([], (v) => isNumber(v) && Math.abs(v % 2) === 1)],
  ['even', test([], (v) => isNumber(v) && v % 2 === 0)],
  [
    'divisibleby',
    test(['num'], (v, [n]) => {
      if (!isNumber(v) || !isNumber(n) || n === 0) {
        throw fail(
          'TEMPLATE_RUNTIME',
          `divisibleby needs two numbers (not zero), got ${describeValue(v)} and ${describeValue(n)}.`,
        );
      }
      return v % n === 0;
    }),
  ],
  [
    'lower',
    test([], (v, _, b, w) => typeof v === 'string' && caseMapped(v, (t) => t.toLowerCase(), b, w) === v),
  ],
  [
    'upper',
    test([], (v, _, b, w) => typeof v === 'string' && caseMapped(v, (t) => t.toUpperCase(), b, w) === v),
  ],
  ['equalto', test(['other'], (v, [o], b, w) => valuesEqual(v, o, b, w))],
  ['eq', test(['other'], (v, [o], b, w) => valuesEqual(v, o, b, w))],
  ['sameas', test(['other'], (v, [o], b, w) => valuesEqual(v, o, b, w))],
  ['ne', test(['other'], (v, [o], b, w) => !valuesEqual(v, o, b, w))],
  ['lt', test(['other'], (v, [o], b) => compareOrder('<', v, o, 'the lt test', b))],
  ['lessthan', test(['other'], (v, [o], b) => compareOrder('<', v, o, 'the lessthan test', b))],
  ['le', test(['other'], (v, [o], b) => compareOrder('<=', v, o, 'the le test', b))],
  ['gt', test(['other'], (v, [o], b) => compareOrder('>', v, o, 'the gt test', b))],
  ['greaterthan', test(['other'], (v, [o], b) => compareOrder('>', v, o, 'the greaterthan test', b))],
  ['ge', test(['other'], (v, [o], b) => compareOrder('>=', v, o, 'the ge test', b))],
  ['in', test(['seq'], (v, [s], b) => inOperator(v, s, 'the in test', b))],
];

export const TESTS: ReadonlyMap<string, TestSpec> = new Map(testEntries);

function testByName(name: unknown, filter: string): TestSpec {
  const t = typeof name === 'string' ? TESTS.get(name) : undefined;
  if (!t) throw fail('TEMPLATE_RUNTIME', `The ${filter} filter got an unknown test ${describeValue(name)}.`);
  return t;
}

// ---------------------------------------------------------------------------------------------------------
// Filters

type FilterFn = (v: unknown, args: unknown[], b: TemplateBudget, where: string) => unknown;

function filter(params: readonly string[], apply: FilterFn): FilterSpec {
  return { params, apply };
}

const defaultFilter = filter(['default_value', 'boolean'], (v, [d, bool]) => {
  if (truthy(bool)) return truthy(v) ? v : d === undefined ? '' : d;
  return v === undefined || v === null ? (d === undefined ? '' : d) : v;
});

const escapeFilter = filter([], (v, _, b, w) => escapeHtml(text(v, 'escape', b), b, w));

const lengthFilter = filter([], (v, _, b, w) => {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'string' || Array.isArray(v)) return v.length;
  if (isPlainObject(v)) {
    const n = Object.keys(v).length;
    b.spend(n, w);
    return n;
  }
  throw fail(
    'TEMPLATE_RUNTIME',
    `The length filter expects text, a list or an object, got ${describeValue(v)}.`,
  );
});

function selectFilter(keep: boolean, name: string): FilterSpec {
  return filter(['test', 'arg'], (v, [testName, arg], b, w) => {
    const t = testName === undefined ? TESTS.get('truthy')! : testByName(testName, name);
    const arr = list(v, name);
    b.elements(8 * arr.length, w);
    const args = [arg];
    return arr.filter((el) => t.apply(el, args, b, w) === keep);
  });
}

function selectAttrFilter(keep: boolean, name: string): FilterSpec {
  return filter(['attribute', 'test', 'arg'], (v, [attr, testName, arg], b, w) => {
    const get = attrGetter(attr, name, b, w);
    const t = testName === undefined ? TESTS.get('truthy')! : testByName(testName, name);
    const arr = list(v, name);
    b.elements(8 * arr.length, w);
    const args = [arg];
    return arr.filter((el) => t.apply(get(el), args, b, w) === keep);
  });
}

const filterEntries: Array<[string, FilterSpec]> = [
  ['abs', filter([], (v) => Math.abs(num(v, 'abs')))],
  [
    'batch',
    filter(['linecount', 'fill_with'], (v, [n, fill], b, w) => {
      const arr = list(v, 'batch');
      const size = intArg(n, 1, 1, b.limits.listLength, 'batch() linecount');
      const rows = Math.ceil(arr.length / size);
      const fills = fill !== undefined && fill !== null && rows > 0 ? rows * size - arr.length : 0;
      b.list(rows, w);
      b.elements(arr.length + fills, w);
      b.spend(OCCURRENCE_COST * rows, w); // a new list per row
      const out: unknown[][] = [];
      for (let i = 0; i < arr.length; i += size) out.push(arr.slice(i, i + size));
      const lastRow = out[out.length - 1];
      if (fills > 0 && lastRow) while (lastRow.length < size) lastRow.push(fill);
      return out;
    }),
  ],
  ['capitalize', filter([], (v, _, b, w) => caseMapped(text(v, 'capitalize', b), capitalizeWord, b, w))],
  [
    'center',
    filter(['width'], (v, [width], b, w) => {
      const s = text(v, 'center', b);
      const size = intArg(width, 80, 0, 10_000, 'center() width');
      if (s.length >= size) return s;
      b.text(size, w);
      const spaces = size - s.length;
      const pre = Math.floor(spaces / 2);
      return ' '.repeat(pre) + s + ' '.repeat(spaces - pre);
    }),
  ],
  ['default', defaultFilter],
  ['d', defaultFilter],
  [
    'dictsort',
    filter(['case_sensitive', 'by'], (v, [cs, by], b, w) => {
      if (!isPlainObject(v))
        throw fail('TEMPLATE_RUNTIME', `The dictsort filter expects an object, got ${describeValue(v)}.`);
      if (by !== undefined && by !== 'key' && by !== 'value') {
        throw fail('TEMPLATE_RUNTIME', 'dictsort() can only sort by "key" or "value".');
      }
      const si = by === 'value' ? 1 : 0;
      const keys = Object.keys(v);
      b.list(keys.length, w);
      b.elements(3 * keys.length, w);
      const pairs: Array<[string, unknown]> = keys.map((k) => [k, v[k]]);
      return pairs.sort((x, y) =>
        orderOf(sortKey(x[si], truthy(cs), b, w), sortKey(y[si], truthy(cs), b, w), w, b),
      );
    }),
  ],
  [
    'dump',
    filter(['indent'], (v, [indent], b, w) => {
      noFunctions(v, 'dump');
      // JSON.stringify's own reading of the indent argument: at most 10 spaces or 10 characters.
      let gap = '';
      if (typeof indent === 'number') {
        const k = Math.min(10, Math.trunc(indent));
        gap = k >= 1 ? ' '.repeat(k) : '';
      } else if (typeof indent === 'string') gap = indent.slice(0, 10);
      else if (indent !== undefined && indent !== null) {
        throw fail('TEMPLATE_RUNTIME', 'dump() indent must be a number or a string.');
      }
      return jsonText(v === undefined ? null : v, b, w, gap);
    }),
  ],
  ['escape', escapeFilter],
  ['e', escapeFilter],
  ['forceescape', escapeFilter],
  [
    'first',
    filter([], (v) => {
      if (Array.isArray(v)) return v[0];
      if (typeof v === 'string') return v.length ? v.charAt(0) : undefined;
      throw fail('TEMPLATE_RUNTIME', `The first filter expects a list or text, got ${describeValue(v)}.`);
    }),
  ],
  [
    'float',
    filter(['default'], (v, [d], b, w) => {
      const dflt = d === undefined ? 0 : d;
      if (typeof v === 'number') return v;
      if (typeof v === 'boolean') return v ? 1 : 0;
      if (typeof v === 'string') {
        b.scan(v.length, w);
        if (v.trim() === '') return dflt;
        const n = Number(v.trim());
        return Number.isFinite(n) ? n : dflt;
      }
      return dflt;
    }),
  ],
  [
    'groupby',
    filter(['attribute'], (v, [attr], b, w) => {
      const get = attrGetter(attr, 'groupby', b, w);
      const arr = list(v, 'groupby');
      b.elements(arr.length, w);
      b.spend(OCCURRENCE_COST * arr.length, w);
      const out: Record<string, unknown> = {};
      for (const el of arr) {
        const key = toText(get(el), 'groupby()', b);
        b.scan(key.length, w);
        const bucket = Object.prototype.hasOwnProperty.call(out, key) ? (out[key] as unknown[]) : undefined;
        if (bucket) bucket.push(el);
        else {
          // A new key of a growing object (dictionary mode) is the slow step here.
          b.spend(4 * OCCURRENCE_COST, w);
          b.object(1, w);
          defineKey(out, key, [el]);
        }
      }
      return out;
    }),
  ],
  [
    'indent',
    filter(['width', 'first'], (v, [width, first], b, w) => {
      const s = text(v, 'indent', b);
      if (s === '') return '';
      const sp = ' '.repeat(intArg(width, 4, 0, 1_000, 'indent() width'));
      b.loop(s.length, w);
      const lines = countChar(s, 0x0a) + (truthy(first) ? 1 : 0);
      b.text(s.length + lines * sp.length, w);
      b.spend(lines * OCCURRENCE_COST, w);
      b.elements(lines, w);
      return (truthy(first) ? sp : '') + s.split('\n').join(`\n${sp}`);
    }),
  ],
  [
    'int',
    filter(['default', 'base'], (v, [d, base], b, w) => {
      const dflt = d === undefined ? 0 : d;
      const radix = intArg(base, 10, 2, 36, 'int() base');
      if (typeof v === 'number') return Number.isFinite(v) ? Math.trunc(v) : dflt;
      if (typeof v === 'boolean') return v ? 1 : 0;
      if (typeof v === 'string') {
        b.scan(4 * v.length, w);
        const n = parseIntStrict(v, radix);
        return n === undefined || !Number.isFinite(n) ? dflt : n;
      }
      return dflt;
    }),
  ],
  [
    'join',
    filter(['d', 'attribute'], (v, [d, attr], b, w) => {
      const sep = d === undefined ? '' : text(d, 'join', b);
      let arr = list(v, 'join');
      if (attr !== undefined && attr !== null) {
        b.elements(arr.length, w);
        arr = arr.map(attrGetter(attr, 'join', b, w));
      }
      const max = b.limits.stringLength;
      let total = arr.length > 1 ? sep.length * (arr.length - 1) : 0;
      if (total > max) b.checkLength(total, w);
      b.elements(32 * arr.length, w); // writing a number or a value as text costs more than a step
      const pieces = new Array<string>(arr.length);
      for (let i = 0; i < arr.length; i++) {
        const t = toText(arr[i], w, b);
        total += t.length;
        if (total > max) b.checkLength(total, w);
        pieces[i] = t;
      }
      b.text(total, w);
      return pieces.join(sep);
    }),
  ],
  [
    'last',
    filter([], (v) => {
      if (Array.isArray(v)) return v[v.length - 1];
      if (typeof v === 'string') return v.length ? v.charAt(v.length - 1) : undefined;
      throw fail('TEMPLATE_RUNTIME', `The last filter expects a list or text, got ${describeValue(v)}.`);
    }),
  ],
  ['length', lengthFilter],
  ['count', lengthFilter],
  [
    'list',
    filter([], (v, _, b, w) => {
      if (typeof v === 'string') {
        b.loop(v.length, w);
        const n = v.length > b.limits.listLength ? codePointCount(v) : v.length;
        b.list(n, w);
        b.alloc(16 * n, w); // a string per character
        return [...v];
      }
      if (Array.isArray(v)) {
        b.list(v.length, w);
        return v.slice();
      }
      if (isPlainObject(v)) {
        const keys = Object.keys(v);
        b.list(keys.length, w);
        b.object(2 * keys.length, w);
        return keys.map((key) => ({ key, value: v[key] }));
      }
      throw fail(
        'TEMPLATE_RUNTIME',
        `The list filter expects text, a list or an object, got ${describeValue(v)}.`,
      );
    }),
  ],
  ['lower', filter([], (v, _, b, w) => caseMapped(text(v, 'lower', b), (t) => t.toLowerCase(), b, w))],
  [
    'nl2br',
    filter([], (v, _, b, w) => {
      const s = text(v, 'nl2br', b);
      b.loop(s.length, w);
      let lf = 0;
      let crlf = 0;
      for (let i = 0; i < s.length; i++) {
        if (s.charCodeAt(i) !== 0x0a) continue;
        lf++;
        if (i > 0 && s.charCodeAt(i - 1) === 0x0d) crlf++;
      }
      b.spend(lf * OCCURRENCE_COST, w);
      b.text(s.length + 6 * lf - crlf, w);
      b.elements(2 * lf, w);
      // s.replace(/\r\n|\n/g, '<br />\n') with split/join (measured several times faster when dense).
      return (crlf > 0 ? s.split('\r\n').join('\n') : s).split('\n').join('<br />\n');
    }),
  ],
  ['reject', selectFilter(false, 'reject')],
  ['rejectattr', selectAttrFilter(false, 'rejectattr')],
  [
    'replace',
    filter(['old', 'new', 'count'], (v, [oldArg, newArg, countArg], b, w) => {
      const s = text(v, 'replace', b);
      const old = text(oldArg, 'replace', b);
      const rep = text(newArg, 'replace', b);
      const max =
        countArg === undefined || countArg === null
          ? -1
          : intArg(countArg, -1, -1, b.limits.listLength, 'replace() count');
      if (max === 0) return s;
      b.scan(s.length, w);
      if (old === '') {
        // Jinja inserts the replacement around every character (and ignores the count).
        b.loop(s.length, w);
        const chars = codePointCount(s);
        b.text(s.length + (chars + 1) * rep.length, w);
        b.spend(chars * OCCURRENCE_COST, w);
        b.elements(chars, w);
        return rep + [...s].join(rep) + rep;
      }
      // Count first (one unit per occurrence) so that the result's size is known before it is built.
      const first = s.indexOf(old);
      if (first < 0) return s;
      let count = 0;
      for (let at = first; at >= 0 && (max < 0 || count < max); at = s.indexOf(old, at + old.length)) {
        b.spend(OCCURRENCE_COST, w);
        count++;
      }
      b.text(s.length + count * (rep.length - old.length), w);
      if (count === 1) return s.slice(0, first) + rep + s.slice(first + old.length);
      b.elements(2 * count + 1, w);
      // split/join: measured faster than replaceAll (and no "$" patterns) when occurrences are dense.
      if (max < 0) return s.split(old).join(rep);
      const parts: string[] = [];
      let pos = 0;
      for (let k = 0, at = s.indexOf(old); k < count; k++, at = s.indexOf(old, pos)) {
        parts.push(s.slice(pos, at), rep);
        pos = at + old.length;
      }
      parts.push(s.slice(pos));
      return parts.join('');
    }),
  ],
  [
    'reverse',
    filter([], (v, _, b, w) => {
      if (typeof v === 'string') {
        b.loop(2 * v.length, w);
        b.text(v.length, w);
        return reverseText(v);
      }
      if (Array.isArray(v)) {
        b.list(v.length, w);
        return v.slice().reverse();
      }
      throw fail('TEMPLATE_RUNTIME', `The reverse filter expects text or a list, got ${describeValue(v)}.`);
    }),
  ],
  [
    'round',
    filter(['precision', 'method'], (v, [p, m]) => {
      const x = num(v, 'round');
      const precision = intArg(p, 0, 0, 15, 'round() precision');
      const method = m === undefined ? 'common' : m;
      const f = 10 ** precision;
      if (method === 'ceil') return Math.ceil(x * f) / f;
      if (method === 'floor') return Math.floor(x * f) / f;
      if (method !== 'common')
        throw fail('TEMPLATE_RUNTIME', 'round() method must be "common", "ceil" or "floor".');
      return (Math.sign(x) * Math.round(Math.abs(x) * f)) / f;
    }),
  ],
  ['safe', filter([], (v, _, b) => text(v, 'safe', b))],
  ['select', selectFilter(true, 'select')],
  ['selectattr', selectAttrFilter(true, 'selectattr')],
  [
    'slice',
    filter(['slices', 'fill_with'], (v, [n, fill], b, w) => {
      const arr = list(v, 'slice');
      const slices = intArg(n, 1, 1, 10_000, 'slice() slices');
      b.list(slices, w);
      b.elements(arr.length + slices, w);
      b.spend(OCCURRENCE_COST * slices, w); // a new list per slice
      const size = Math.floor(arr.length / slices);
      const extra = arr.length % slices;
      const out: unknown[][] = [];
      let offset = 0;
      for (let i = 0; i < slices; i++) {
        const start = offset + i * size;
        if (i < extra) offset++;
        const part = arr.slice(start, offset + (i + 1) * size);
        if (fill !== undefined && fill !== null && i >= extra) part.push(fill);
        out.push(part);
      }
      return out;
    }),
  ],
  [
    'sort',
    filter(['reverse', 'case_sensitive', 'attribute'], (v, [rev, cs, attr], b, w) => {
      const src = list(v, 'sort');
      b.list(src.length, w);
      const arr = src.slice();
      const get = attr === undefined || attr === null ? (x: unknown) => x : attrGetter(attr, 'sort', b, w);
      const sign = truthy(rev) ? -1 : 1;
      const caseSensitive = truthy(cs);
      return arr.sort(
        (x, y) =>
          sign * orderOf(sortKey(get(x), caseSensitive, b, w), sortKey(get(y), caseSensitive, b, w), w, b),
      );
    }),
  ],
  ['string', filter([], (v, _, b) => toText(v, 'The string filter', b))],
  [
    'striptags',
    filter(['preserve_linebreaks'], (v, [keep], b, w) => {
      const src = text(v, 'striptags', b);
      // removeTags searches the text once; normalizeSpace goes through it twice, character by character.
      b.scan(2 * src.length, w);
      b.loop(2 * src.length, w);
      b.text(src.length, w);
      b.alloc(2 * src.length, w); // normalizeSpace's buffer
      return normalizeSpace(removeTags(src, b, w).trim(), truthy(keep));
    }),
  ],
  [
    'sum',
    filter(['attribute', 'start'], (v, [attr, start], b, w) => {
      let arr = list(v, 'sum');
      b.spend(arr.length, w);
      if (attr !== undefined && attr !== null) {
        b.elements(arr.length, w);
        arr = arr.map(attrGetter(attr, 'sum', b, w));
      }
      let total = start === undefined ? 0 : num(start, 'sum');
      for (const el of arr) total += num(el, 'sum');
      return total;
    }),
  ],
  [
    'title',
    filter([], (v, _, b, w) => {
      // Every word (what split(' ') gives) lower-cased with its first character upper-cased.
      const lower = caseMapped(text(v, 'title', b), (t) => t.toLowerCase(), b, w);
      b.loop(lower.length, w);
      return capitalizeWords(lower, b, w);
    }),
  ],
  [
    'trim',
    filter([], (v, _, b, w) => {
      const s = text(v, 'trim', b);
      b.scan(s.length, w);
      return s.trim();
    }),
  ],
  [
    'truncate',
    filter(['length', 'killwords', 'end'], (v, [l, kill, end], b, w) => {
      let s = text(v, 'truncate', b);
      const length = intArg(l, 255, 0, Number.MAX_SAFE_INTEGER, 'truncate() length');
      if (s.length <= length) return s;
      b.scan(length, w);
      if (truthy(kill)) s = s.slice(0, length);
      else {
        const idx = s.lastIndexOf(' ', length);
        s = s.slice(0, idx === -1 ? length : idx);
      }
      const tail = end === undefined || end === null ? '...' : text(end, 'truncate', b);
      b.text(s.length + tail.length, w);
      return s + tail;
    }),
  ],
  ['upper', filter([], (v, _, b, w) => caseMapped(text(v, 'upper', b), (t) => t.toUpperCase(), b, w))],
  [
    'urlencode',
    filter([], (v, _, b, w) => {
      const encode = (t: string): string => {
        b.loop(t.length, w);
        b.scan(4 * t.length, w);
        b.text(encodedLength(t), w);
        return encodeURIComponent(t);
      };
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') {
        return encode(toText(v, 'urlencode', b));
      }
      let pairs: unknown[];
      if (isPlainObject(v)) {
        const keys = Object.keys(v);
        b.elements(3 * keys.length, w);
        pairs = keys.map((k) => [k, v[k]]);
      } else if (Array.isArray(v)) pairs = v;
      else
        throw fail(
          'TEMPLATE_RUNTIME',
          `The urlencode filter expects text, an object or a list of pairs, got ${describeValue(v)}.`,
        );
      b.elements(pairs.length, w);
      let total = 0;
      const parts = pairs.map((p) => {
        if (!Array.isArray(p) || p.length !== 2)
          throw fail('TEMPLATE_RUNTIME', 'urlencode() expects [key, value] pairs.');
        const part = `${encode(toText(p[0], 'urlencode', b))}=${encode(toText(p[1], 'urlencode', b))}`;
        total += part.length + 1;
        b.checkLength(total, w);
        return part;
      });
      b.text(total, w);
      return parts.join('&');
    }),
  ],
  [
    'urlize',
    filter(['trim_url_limit', 'nofollow'], (v, [limit, nofollow], b, w) => {
      const max =
        limit === undefined || limit === null
          ? Infinity
          : intArg(limit, 0, 0, Number.MAX_SAFE_INTEGER, 'urlize() limit');
      const rel = nofollow === true ? ' rel="nofollow"' : '';
      const s = text(v, 'urlize', b);
      // Words between runs of white space (kept as they are); each word is tried against a few
      // regular expressions, all linear in the word.
      const parts: string[] = [];
      let total = 0;
      const put = (t: string): void => {
        total += t.length;
        b.concat(total, t.length, w);
        parts.push(t);
      };
      b.loop(s.length, w);
      for (let i = 0; i < s.length;) {
        const blank = isSpace(s.charCodeAt(i));
        let j = i + 1;
        while (j < s.length && isSpace(s.charCodeAt(j)) === blank) j++;
        b.spend(WORD_COST, w);
        const piece = s.slice(i, j);
        if (blank) put(piece);
        else {
          b.scan(6 * piece.length, w);
          put(urlizeWord(piece, max, rel));
        }
        i = j;
      }
      b.elements(parts.length, w);
      return parts.join('');
    }),
  ],
  [
    'wordcount',
    filter([], (v, _, b, w) => {
      // Runs of word characters (what /\w+/g matches), counted without building the list of words.
      const s = text(v, 'wordcount', b);
      b.loop(s.length, w);
      let n = 0;
      let inWord = false;
      for (let i = 0; i < s.length; i++) {
        const isWord = isWordChar(s.charCodeAt(i));
        if (isWord && !inWord) n++;
        inWord = isWord;
      }
      return n;
    }),
  ],
];

export const FILTERS: ReadonlyMap<string, FilterSpec> = new Map(filterEntries);

/** Filters that exist in nunjucks but are refused here, with the reason. */
export const FORBIDDEN_FILTERS: ReadonlyMap<string, string> = new Map([
  ['random', 'it is not deterministic (a node must render the same params on every retry and replay)'],
]);
