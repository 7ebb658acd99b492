// List and object filters: selecting, sorting, grouping, slicing, joining, summing.
import { sortKey, orderOf, codePointCount, reverseText } from './textScanners';
import {
  type FilterSpec,
  OCCURRENCE_COST,
  text,
  list,
  num,
  intArg,
  attrGetter,
  defineKey,
  filter,
} from './filterArguments';
import { describeValue, fail, isPlainObject, toText, truthy } from './templateEnvironment';
import { TESTS, testByName } from './templateTests';

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

export const LIST_FILTERS: ReadonlyArray<[string, FilterSpec]> = [
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
    'first',
    filter([], (v) => {
      if (Array.isArray(v)) return v[0];
      if (typeof v === 'string') return v.length ? v.charAt(0) : undefined;
      throw fail('TEMPLATE_RUNTIME', `The first filter expects a list or text, got ${describeValue(v)}.`);
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
  ['reject', selectFilter(false, 'reject')],
  ['rejectattr', selectAttrFilter(false, 'rejectattr')],
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
];
