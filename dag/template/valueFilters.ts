// Value filters: defaults, numbers and JSON.
import { parseIntStrict } from './textScanners';
import { type FilterSpec, num, intArg, noFunctions, filter } from './filterArguments';
import { fail, truthy } from './templateEnvironment';
import { jsonText } from './templateJson';

const defaultFilter = filter(['default_value', 'boolean'], (v, [d, bool]) => {
  if (truthy(bool)) return truthy(v) ? v : d === undefined ? '' : d;
  return v === undefined || v === null ? (d === undefined ? '' : d) : v;
});

export const VALUE_FILTERS: ReadonlyArray<[string, FilterSpec]> = [
  ['abs', filter([], (v) => Math.abs(num(v, 'abs')))],
  ['default', defaultFilter],
  ['d', defaultFilter],
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
];
