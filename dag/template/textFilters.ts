// Text filters: case, escaping, whitespace, replacing, truncating, URLs.
import {
  escapeHtml,
  caseMapped,
  capitalizeWord,
  capitalizeWords,
  isWordChar,
  removeTags,
  isSpace,
  normalizeSpace,
  codePointCount,
  encodedLength,
  countChar,
  urlizeWord,
} from './textScanners';
import { type FilterSpec, WORD_COST, OCCURRENCE_COST, text, intArg, filter } from './filterArguments';
import { describeValue, fail, isPlainObject, toText, truthy } from './templateEnvironment';

const escapeFilter = filter([], (v, _, b, w) => escapeHtml(text(v, 'escape', b), b, w));

export const TEXT_FILTERS: ReadonlyArray<[string, FilterSpec]> = [
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
  ['escape', escapeFilter],
  ['e', escapeFilter],
  ['forceescape', escapeFilter],
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
  ['safe', filter([], (v, _, b) => text(v, 'safe', b))],
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
