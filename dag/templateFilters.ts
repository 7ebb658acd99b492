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
import {
  MAX_LIST_LENGTH,
  MAX_STRING_LENGTH,
  SafeFunction,
  checkStringLength,
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

export interface FilterSpec {
  /** Parameter names after the piped value; keyword arguments are matched against them. */
  readonly params: readonly string[];
  apply(value: unknown, args: unknown[]): unknown;
}

export interface TestSpec {
  readonly params: readonly string[];
  apply(value: unknown, args: unknown[]): boolean;
}

// ---------------------------------------------------------------------------------------------------------
// Argument helpers

function text(v: unknown, filter: string): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return toText(v, `The ${filter} filter`);
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

/** `attribute` arguments: a key or a dotted path (`a.b.0`), read through the sandbox's memberLookup. */
function attrGetter(attr: unknown, filter: string): (v: unknown) => unknown {
  if (typeof attr === 'number') return (v) => memberLookup(v, attr);
  if (typeof attr !== 'string' || attr === '') {
    throw fail(
      'TEMPLATE_RUNTIME',
      `The ${filter} filter needs an attribute name, got ${describeValue(attr)}.`,
    );
  }
  const parts = attr.split('.').map((p) => (/^-?\d+$/.test(p) ? Number(p) : p));
  return (v) => {
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

function escapeHtml(s: string): string {
  return s.replace(/[&"'<>\\]/g, (c) =>
    c === '&'
      ? '&amp;'
      : c === '"'
        ? '&quot;'
        : c === "'"
          ? '&#39;'
          : c === '<'
            ? '&lt;'
            : c === '>'
              ? '&gt;'
              : '&#92;',
  );
}

function sortKey(v: unknown, caseSensitive: boolean): unknown {
  return !caseSensitive && typeof v === 'string' ? v.toLowerCase() : v;
}

function orderOf(a: unknown, b: unknown, where: string): number {
  if (valuesEqual(a, b)) return 0;
  return compareOrder('<', a, b, where) ? -1 : 1;
}

function capitalizeWord(s: string): string {
  const lower = s.toLowerCase();
  return lower.charAt(0).toUpperCase() + lower.slice(1);
}

function parseIntStrict(s: string, base: number): number | undefined {
  const t = s.trim();
  if (base === 10) {
    if (/^[-+]?\d+$/.test(t)) return parseInt(t, 10);
    if (/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t)) return Math.trunc(Number(t));
    return undefined;
  }
  const digits = '0123456789abcdefghijklmnopqrstuvwxyz'.slice(0, base);
  const body = t
    .replace(/^[-+]/, '')
    .replace(base === 16 ? /^0x/i : base === 8 ? /^0o/i : base === 2 ? /^0b/i : /^$/, '');
  if (body === '' || [...body.toLowerCase()].some((c) => !digits.includes(c))) return undefined;
  return parseInt(t.replace(/^([-+]?)0[xob]/i, '$1'), base);
}

// ---------------------------------------------------------------------------------------------------------
// Tests (`x is name`, `select('name')`)

function test(params: readonly string[], apply: (v: unknown, args: unknown[]) => boolean): TestSpec {
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
  ['lower', test([], (v) => typeof v === 'string' && v.toLowerCase() === v)],
  ['upper', test([], (v) => typeof v === 'string' && v.toUpperCase() === v)],
  ['equalto', test(['other'], (v, [o]) => valuesEqual(v, o))],
  ['eq', test(['other'], (v, [o]) => valuesEqual(v, o))],
  ['sameas', test(['other'], (v, [o]) => valuesEqual(v, o))],
  ['ne', test(['other'], (v, [o]) => !valuesEqual(v, o))],
  ['lt', test(['other'], (v, [o]) => compareOrder('<', v, o, 'the lt test'))],
  ['lessthan', test(['other'], (v, [o]) => compareOrder('<', v, o, 'the lessthan test'))],
  ['le', test(['other'], (v, [o]) => compareOrder('<=', v, o, 'the le test'))],
  ['gt', test(['other'], (v, [o]) => compareOrder('>', v, o, 'the gt test'))],
  ['greaterthan', test(['other'], (v, [o]) => compareOrder('>', v, o, 'the greaterthan test'))],
  ['ge', test(['other'], (v, [o]) => compareOrder('>=', v, o, 'the ge test'))],
  ['in', test(['seq'], (v, [s]) => inOperator(v, s, 'the in test'))],
];

export const TESTS: ReadonlyMap<string, TestSpec> = new Map(testEntries);

function testByName(name: unknown, filter: string): TestSpec {
  const t = typeof name === 'string' ? TESTS.get(name) : undefined;
  if (!t) throw fail('TEMPLATE_RUNTIME', `The ${filter} filter got an unknown test ${describeValue(name)}.`);
  return t;
}

// ---------------------------------------------------------------------------------------------------------
// Filters

function filter(params: readonly string[], apply: (v: unknown, args: unknown[]) => unknown): FilterSpec {
  return { params, apply };
}

const defaultFilter = filter(['default_value', 'boolean'], (v, [d, bool]) => {
  if (truthy(bool)) return truthy(v) ? v : d === undefined ? '' : d;
  return v === undefined || v === null ? (d === undefined ? '' : d) : v;
});

const escapeFilter = filter([], (v) => escapeHtml(text(v, 'escape')));

const lengthFilter = filter([], (v) => {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'string' || Array.isArray(v)) return v.length;
  if (isPlainObject(v)) return Object.keys(v).length;
  throw fail(
    'TEMPLATE_RUNTIME',
    `The length filter expects text, a list or an object, got ${describeValue(v)}.`,
  );
});

function selectFilter(keep: boolean, name: string): FilterSpec {
  return filter(['test', 'arg'], (v, [testName, arg]) => {
    const t = testName === undefined ? TESTS.get('truthy')! : testByName(testName, name);
    return list(v, name).filter((el) => t.apply(el, [arg]) === keep);
  });
}

function selectAttrFilter(keep: boolean, name: string): FilterSpec {
  return filter(['attribute', 'test', 'arg'], (v, [attr, testName, arg]) => {
    const get = attrGetter(attr, name);
    const t = testName === undefined ? TESTS.get('truthy')! : testByName(testName, name);
    return list(v, name).filter((el) => t.apply(get(el), [arg]) === keep);
  });
}

const filterEntries: Array<[string, FilterSpec]> = [
  ['abs', filter([], (v) => Math.abs(num(v, 'abs')))],
  [
    'batch',
    filter(['linecount', 'fill_with'], (v, [n, fill]) => {
      const arr = list(v, 'batch');
      const size = intArg(n, 1, 1, MAX_LIST_LENGTH, 'batch() linecount');
      const out: unknown[][] = [];
      for (let i = 0; i < arr.length; i += size) out.push(arr.slice(i, i + size));
      const lastRow = out[out.length - 1];
      if (fill !== undefined && fill !== null && lastRow) while (lastRow.length < size) lastRow.push(fill);
      return out;
    }),
  ],
  ['capitalize', filter([], (v) => capitalizeWord(text(v, 'capitalize')))],
  [
    'center',
    filter(['width'], (v, [w]) => {
      const s = text(v, 'center');
      const width = intArg(w, 80, 0, 10_000, 'center() width');
      if (s.length >= width) return s;
      const spaces = width - s.length;
      const pre = Math.floor(spaces / 2);
      return ' '.repeat(pre) + s + ' '.repeat(spaces - pre);
    }),
  ],
  ['default', defaultFilter],
  ['d', defaultFilter],
  [
    'dictsort',
    filter(['case_sensitive', 'by'], (v, [cs, by]) => {
      if (!isPlainObject(v))
        throw fail('TEMPLATE_RUNTIME', `The dictsort filter expects an object, got ${describeValue(v)}.`);
      if (by !== undefined && by !== 'key' && by !== 'value') {
        throw fail('TEMPLATE_RUNTIME', 'dictsort() can only sort by "key" or "value".');
      }
      const si = by === 'value' ? 1 : 0;
      const pairs: Array<[string, unknown]> = Object.keys(v).map((k) => [k, v[k]]);
      return pairs.sort((a, b) =>
        orderOf(sortKey(a[si], truthy(cs)), sortKey(b[si], truthy(cs)), 'dictsort'),
      );
    }),
  ],
  [
    'dump',
    filter(['indent'], (v, [indent]) => {
      noFunctions(v, 'dump');
      if (
        indent !== undefined &&
        indent !== null &&
        typeof indent !== 'number' &&
        typeof indent !== 'string'
      ) {
        throw fail('TEMPLATE_RUNTIME', 'dump() indent must be a number or a string.');
      }
      return JSON.stringify(
        v === undefined ? null : v,
        null,
        (indent ?? undefined) as number | string | undefined,
      );
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
    filter(['default'], (v, [d]) => {
      const dflt = d === undefined ? 0 : d;
      if (typeof v === 'number') return v;
      if (typeof v === 'boolean') return v ? 1 : 0;
      if (typeof v === 'string' && v.trim() !== '') {
        const n = Number(v.trim());
        return Number.isFinite(n) ? n : dflt;
      }
      return dflt;
    }),
  ],
  [
    'groupby',
    filter(['attribute'], (v, [attr]) => {
      const get = attrGetter(attr, 'groupby');
      const out: Record<string, unknown> = {};
      for (const el of list(v, 'groupby')) {
        const key = toText(get(el), 'groupby()');
        const bucket = Object.prototype.hasOwnProperty.call(out, key) ? (out[key] as unknown[]) : undefined;
        if (bucket) bucket.push(el);
        else defineKey(out, key, [el]);
      }
      return out;
    }),
  ],
  [
    'indent',
    filter(['width', 'first'], (v, [w, first]) => {
      const s = text(v, 'indent');
      if (s === '') return '';
      const sp = ' '.repeat(intArg(w, 4, 0, 1_000, 'indent() width'));
      return s
        .split('\n')
        .map((l, i) => (i === 0 && !truthy(first) ? l : sp + l))
        .join('\n');
    }),
  ],
  [
    'int',
    filter(['default', 'base'], (v, [d, b]) => {
      const dflt = d === undefined ? 0 : d;
      const base = intArg(b, 10, 2, 36, 'int() base');
      if (typeof v === 'number') return Number.isFinite(v) ? Math.trunc(v) : dflt;
      if (typeof v === 'boolean') return v ? 1 : 0;
      if (typeof v === 'string') {
        const n = parseIntStrict(v, base);
        return n === undefined || !Number.isFinite(n) ? dflt : n;
      }
      return dflt;
    }),
  ],
  [
    'join',
    filter(['d', 'attribute'], (v, [d, attr]) => {
      const sep = d === undefined ? '' : text(d, 'join');
      let arr = list(v, 'join');
      if (attr !== undefined && attr !== null) arr = arr.map(attrGetter(attr, 'join'));
      return checkStringLength(arr.map((el) => toText(el, 'join()')).join(sep), 'join()');
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
    filter([], (v) => {
      if (typeof v === 'string') return [...v];
      if (Array.isArray(v)) return v.slice();
      if (isPlainObject(v)) return Object.keys(v).map((key) => ({ key, value: v[key] }));
      throw fail(
        'TEMPLATE_RUNTIME',
        `The list filter expects text, a list or an object, got ${describeValue(v)}.`,
      );
    }),
  ],
  ['lower', filter([], (v) => text(v, 'lower').toLowerCase())],
  ['nl2br', filter([], (v) => text(v, 'nl2br').replace(/\r\n|\n/g, '<br />\n'))],
  ['reject', selectFilter(false, 'reject')],
  ['rejectattr', selectAttrFilter(false, 'rejectattr')],
  [
    'replace',
    filter(['old', 'new', 'count'], (v, [oldArg, newArg, countArg]) => {
      const s = text(v, 'replace');
      const old = text(oldArg, 'replace');
      const rep = text(newArg, 'replace');
      const max =
        countArg === undefined || countArg === null
          ? -1
          : intArg(countArg, -1, -1, MAX_LIST_LENGTH, 'replace() count');
      if (max === 0) return s;
      if (old === '') {
        const chars = [...s];
        const out = rep + chars.join(rep) + rep;
        return checkStringLength(out, 'replace()');
      }
      let res = '';
      let pos = 0;
      let n = 0;
      let at = s.indexOf(old);
      while (at >= 0 && (max < 0 || n < max)) {
        res += s.slice(pos, at) + rep;
        if (res.length > MAX_STRING_LENGTH) checkStringLength(res, 'replace()');
        pos = at + old.length;
        n++;
        at = s.indexOf(old, pos);
      }
      return res + s.slice(pos);
    }),
  ],
  [
    'reverse',
    filter([], (v) => {
      if (typeof v === 'string') return [...v].reverse().join('');
      if (Array.isArray(v)) return v.slice().reverse();
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
  ['safe', filter([], (v) => text(v, 'safe'))],
  ['select', selectFilter(true, 'select')],
  ['selectattr', selectAttrFilter(true, 'selectattr')],
  [
    'slice',
    filter(['slices', 'fill_with'], (v, [n, fill]) => {
      const arr = list(v, 'slice');
      const slices = intArg(n, 1, 1, 10_000, 'slice() slices');
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
    filter(['reverse', 'case_sensitive', 'attribute'], (v, [rev, cs, attr]) => {
      const arr = list(v, 'sort').slice();
      const get = attr === undefined || attr === null ? (x: unknown) => x : attrGetter(attr, 'sort');
      const sign = truthy(rev) ? -1 : 1;
      const caseSensitive = truthy(cs);
      return arr.sort(
        (a, b) => sign * orderOf(sortKey(get(a), caseSensitive), sortKey(get(b), caseSensitive), 'sort'),
      );
    }),
  ],
  ['string', filter([], (v) => toText(v, 'The string filter'))],
  [
    'striptags',
    filter(['preserve_linebreaks'], (v, [keep]) => {
      const s = text(v, 'striptags')
        .replace(/<\/?([a-z][a-z0-9]*)\b[^>]*>|<!--[\s\S]*?-->/gi, '')
        .trim();
      if (!truthy(keep)) return s.replace(/\s+/g, ' ');
      return s
        .replace(/^ +| +$/gm, '')
        .replace(/ +/g, ' ')
        .replace(/\r\n/g, '\n')
        .replace(/\n\n\n+/g, '\n\n');
    }),
  ],
  [
    'sum',
    filter(['attribute', 'start'], (v, [attr, start]) => {
      let arr = list(v, 'sum');
      if (attr !== undefined && attr !== null) arr = arr.map(attrGetter(attr, 'sum'));
      let total = start === undefined ? 0 : num(start, 'sum');
      for (const el of arr) total += num(el, 'sum');
      return total;
    }),
  ],
  ['title', filter([], (v) => text(v, 'title').split(' ').map(capitalizeWord).join(' '))],
  ['trim', filter([], (v) => text(v, 'trim').trim())],
  [
    'truncate',
    filter(['length', 'killwords', 'end'], (v, [l, kill, end]) => {
      let s = text(v, 'truncate');
      const length = intArg(l, 255, 0, Number.MAX_SAFE_INTEGER, 'truncate() length');
      if (s.length <= length) return s;
      if (truthy(kill)) s = s.slice(0, length);
      else {
        const idx = s.lastIndexOf(' ', length);
        s = s.slice(0, idx === -1 ? length : idx);
      }
      return s + (end === undefined || end === null ? '...' : text(end, 'truncate'));
    }),
  ],
  ['upper', filter([], (v) => text(v, 'upper').toUpperCase())],
  [
    'urlencode',
    filter([], (v) => {
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') {
        return encodeURIComponent(toText(v, 'urlencode'));
      }
      let pairs: unknown[];
      if (isPlainObject(v)) pairs = Object.keys(v).map((k) => [k, v[k]]);
      else if (Array.isArray(v)) pairs = v;
      else
        throw fail(
          'TEMPLATE_RUNTIME',
          `The urlencode filter expects text, an object or a list of pairs, got ${describeValue(v)}.`,
        );
      return pairs
        .map((p) => {
          if (!Array.isArray(p) || p.length !== 2)
            throw fail('TEMPLATE_RUNTIME', 'urlencode() expects [key, value] pairs.');
          return `${encodeURIComponent(toText(p[0], 'urlencode'))}=${encodeURIComponent(toText(p[1], 'urlencode'))}`;
        })
        .join('&');
    }),
  ],
  [
    'urlize',
    filter(['trim_url_limit', 'nofollow'], (v, [limit, nofollow]) => {
      const max =
        limit === undefined || limit === null
          ? Infinity
          : intArg(limit, 0, 0, Number.MAX_SAFE_INTEGER, 'urlize() limit');
      const rel = nofollow === true ? ' rel="nofollow"' : '';
      return text(v, 'urlize')
        .split(/(\s+)/)
        .filter((w) => w.length > 0)
        .map((word) => {
          const m = /^(?:\(|<|&lt;)?(.*?)(?:\.|,|\)|\n|&gt;)?$/.exec(word);
          const url = m ? (m[1] ?? word) : word;
          const short = url.slice(0, max);
          if (/^https?:\/\/.*$/.test(url)) return `<a href="${url}"${rel}>${short}</a>`;
          if (/^www\./.test(url)) return `<a href="http://${url}"${rel}>${short}</a>`;
          if (/^[\w.!#$%&'*+\-/=?^`{|}~]+@[a-z\d-]+(\.[a-z\d-]+)+$/i.test(url))
            return `<a href="mailto:${url}">${url}</a>`;
          if (/\.(?:org|net|com)(?::|\/|$)/.test(url)) return `<a href="http://${url}"${rel}>${short}</a>`;
          return word;
        })
        .join('');
    }),
  ],
  ['wordcount', filter([], (v) => (text(v, 'wordcount').match(/\w+/g) ?? []).length)],
];

export const FILTERS: ReadonlyMap<string, FilterSpec> = new Map(filterEntries);

/** Filters that exist in nunjucks but are refused here, with the reason. */
export const FORBIDDEN_FILTERS: ReadonlyMap<string, string> = new Map([
  ['random', 'it is not deterministic (a node must render the same params on every retry and replay)'],
]);
