// Linear-time scanners over text for the text filters (escape, case mapping, striptags, whitespace,
// urlencode/urlize) and the ordering used by sort/dictsort: no regular expression that could backtrack.
import { WORD_COST, OCCURRENCE_COST } from './filterArguments';
import { compareOrder, valuesEqual } from './templateEnvironment';
import { type TemplateBudget } from '../templateBudget';

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
export function escapeHtml(s: string, b: TemplateBudget, where: string): string {
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
export function caseMapped(s: string, map: (t: string) => string, b: TemplateBudget, where: string): string {
  b.loop(s.length, where); // non-ASCII text is mapped character by character
  b.text(s.length, where);
  const r = map(s);
  if (r.length > s.length) b.text(r.length - s.length, where);
  b.checkLength(r.length, where);
  return r;
}

export function capitalizeWord(s: string): string {
  const lower = s.toLowerCase();
  return lower.charAt(0).toUpperCase() + lower.slice(1);
}

/**
 * Upper-cases the first character of every word (words are separated by single spaces) of lower-cased
 * text, in place in a buffer; when a character's upper case is longer (e.g. "ŉ"), word by word.
 */
export function capitalizeWords(lower: string, b: TemplateBudget, where: string): string {
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

export function sortKey(v: unknown, caseSensitive: boolean, b: TemplateBudget, where: string): unknown {
  if (caseSensitive || typeof v !== 'string') return v;
  b.text(v.length, where);
  return v.toLowerCase();
}

/** Work units of one comparison of a sort, besides comparing the values. */
const COMPARE_COST = 8;

export function orderOf(a: unknown, c: unknown, where: string, b: TemplateBudget): number {
  b.spend(COMPARE_COST, where);
  if (valuesEqual(a, c, b, where)) return 0;
  return compareOrder('<', a, c, where, b) ? -1 : 1;
}

/** The integer a string spells in `base`, or undefined. Linear: no regular expression that backtracks. */
export function parseIntStrict(s: string, base: number): number | undefined {
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
export const isWordChar = (c: number): boolean => isAlnum(c) || c === 0x5f;
const isLineBreak = (c: number): boolean => c === 0x0a || c === 0x0d || c === 0x2028 || c === 0x2029;

/**
 * Removes HTML tags and comments: what s.replace(/<\/?([a-z][a-z0-9]*)\b[^>]*>|<!--[\s\S]*?-->/gi, '')
 * removes, in one left-to-right pass. The regex tries, at every "<", a scan to the next ">" (or "-->"),
 * which is quadratic on "<a<a<a…" and "<!--<!--…" without one; here the next ">" and the next "-->"
 * are found once and reused until the scan passes them.
 */
export function removeTags(s: string, b: TemplateBudget, where: string): string {
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
export function isSpace(c: number): boolean {
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
export function normalizeSpace(s: string, keep: boolean): string {
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
export function codePointCount(s: string): number {
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
export function reverseText(s: string): string {
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
export function encodedLength(s: string): number {
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
export function countChar(s: string, code: number): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) === code) n++;
  return n;
}

/** One word of urlize (nunjucks' rules). */
export function urlizeWord(word: string, max: number, rel: string): string {
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
