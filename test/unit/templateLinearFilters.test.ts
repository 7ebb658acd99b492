// Issue 20: the filters that used backtracking regular expressions (striptags, the number syntax of
// int, trailing spaces) or a list per character/word (wordcount, reverse, title, list, urlize...)
// are linear scanners now. Two things must hold:
// 1. they give exactly what the former definitions gave (copied below as REFERENCE, regex and all),
//    checked on random text built from the characters that matter to them;
// 2. they run in linear time on the inputs that made the former ones quadratic (generous bounds:
//    the quadratic versions take minutes on these sizes).
// Also: jsonLength/jsonText (the measured JSON of template values) agree with JSON.stringify.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { renderString } from '../../dag/renderTemplate';
import { TemplateBudget } from '../../dag/templateBudget';
import { jsonLength, jsonText } from '../../dag/template/templateJson';

// ---------------------------------------------------------------------------------------------------------
// The definitions before issue 20 (dag/templateFilters.ts at 2f10273), for comparison.

function refCapitalize(s: string): string {
  const lower = s.toLowerCase();
  return lower.charAt(0).toUpperCase() + lower.slice(1);
}

const REFERENCE: Record<string, (s: string) => unknown> = {
  striptags: (s) =>
    s
      .replace(/<\/?([a-z][a-z0-9]*)\b[^>]*>|<!--[\s\S]*?-->/gi, '')
      .trim()
      .replace(/\s+/g, ' '),
  'striptags(true)': (s) =>
    s
      .replace(/<\/?([a-z][a-z0-9]*)\b[^>]*>|<!--[\s\S]*?-->/gi, '')
      .trim()
      .replace(/^ +| +$/gm, '')
      .replace(/ +/g, ' ')
      .replace(/\r\n/g, '\n')
      .replace(/\n\n\n+/g, '\n\n'),
  wordcount: (s) => (s.match(/\w+/g) ?? []).length,
  title: (s) => s.split(' ').map(refCapitalize).join(' '),
  capitalize: refCapitalize,
  upper: (s) => s.toUpperCase(),
  reverse: (s) => [...s].reverse().join(''),
  'indent(2)': (s) =>
    s === ''
      ? ''
      : s
          .split('\n')
          .map((l, i) => (i === 0 ? l : '  ' + l))
          .join('\n'),
  'indent(3, true)': (s) =>
    s === ''
      ? ''
      : s
          .split('\n')
          .map((l) => '   ' + l)
          .join('\n'),
  escape: (s) =>
    s.replace(/[&"'<>\\]/g, (c) =>
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
    ),
  nl2br: (s) => s.replace(/\r\n|\n/g, '<br />\n'),
  "replace('a', 'x$&y')": (s) => s.split('a').join('x$&y'),
  "replace('ab', '', 2)": (s) => {
    let res = '';
    let pos = 0;
    let n = 0;
    let at = s.indexOf('ab');
    while (at >= 0 && n < 2) {
      res += s.slice(pos, at);
      pos = at + 2;
      n++;
      at = s.indexOf('ab', pos);
    }
    return res + s.slice(pos);
  },
  "replace('', '-')": (s) => '-' + [...s].join('-') + '-',
  list: (s) => [...s],
  'truncate(7)': (s) => {
    if (s.length <= 7) return s;
    const idx = s.lastIndexOf(' ', 7);
    return s.slice(0, idx === -1 ? 7 : idx) + '...';
  },
  urlize: (s) =>
    s
      .split(/(\s+)/)
      .filter((w) => w.length > 0)
      .map((word) => {
        const m = /^(?:\(|<|&lt;)?(.*?)(?:\.|,|\)|\n|&gt;)?$/.exec(word);
        const url = m ? (m[1] ?? word) : word;
        if (/^https?:\/\/.*$/.test(url)) return `<a href="${url}">${url}</a>`;
        if (/^www\./.test(url)) return `<a href="http://${url}">${url}</a>`;
        if (/^[\w.!#$%&'*+\-/=?^`{|}~]+@[a-z\d-]+(\.[a-z\d-]+)+$/i.test(url))
          return `<a href="mailto:${url}">${url}</a>`;
        if (/\.(?:org|net|com)(?::|\/|$)/.test(url)) return `<a href="http://${url}">${url}</a>`;
        return word;
      })
      .join(''),
  int: (s) => {
    const t = s.trim();
    if (/^[-+]?\d+$/.test(t)) return parseInt(t, 10);
    if (/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t)) return Math.trunc(Number(t));
    return 0;
  },
  float: (s) => {
    if (s.trim() === '') return 0;
    const n = Number(s.trim());
    return Number.isFinite(n) ? n : 0;
  },
};

// Characters that matter to these filters: tag and comment syntax, word and non-word characters,
// every kind of line break and space, case mappings that change length, surrogates (paired and lone),
// HTML specials, URL and e-mail pieces, digits and number syntax, "$" (replacement patterns).
const ALPHABET = [
  ...'<>/!-aAbz_09 \n\r\t\u2028\u2029\u00a0\u3000&"\'\\.,()@:wht$eE+',
  '<a',
  '</b>',
  '<!--',
  '-->',
  '<a_',
  'ab',
  '  ',
  '\r\n',
  '\n\n\n',
  'é',
  'ß',
  'İ',
  'Σ',
  'ŉ',
  '😀',
  '\ud800',
  '\udc00',
  'http://x.com',
  'www.',
  'a@b.com',
  '.org',
  '&lt;',
  '&gt;',
  '1.5',
  '1e3',
];
const text = fc.array(fc.constantFrom(...ALPHABET), { maxLength: 40 }).map((a) => a.join(''));

function render(template: string, s: string): unknown {
  const r = renderString(template, { inputs: { s }, nodes: {} });
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

describe('linear filters give what the former definitions gave', () => {
  it.each(Object.keys(REFERENCE))('%s', (filter) => {
    const ref = REFERENCE[filter]!;
    fc.assert(
      fc.property(text, (s) => {
        let expected: unknown;
        try {
          expected = ref(s);
        } catch {
          return; // e.g. encodeURIComponent on a lone surrogate: both fail (checked below)
        }
        expect(render(`{{ inputs.s | ${filter} }}`, s), JSON.stringify(s)).toEqual(expected);
      }),
      { numRuns: 1500, seed: 20 },
    );
  });

  it('urlencode agrees with encodeURIComponent, and fails on a lone surrogate as it did', () => {
    fc.assert(
      fc.property(text, (s) => {
        let expected: string;
        try {
          expected = encodeURIComponent(s);
        } catch {
          expect(renderString('{{ inputs.s | urlencode }}', { inputs: { s }, nodes: {} }).ok).toBe(false);
          return;
        }
        expect(render('{{ inputs.s | urlencode }}', s)).toBe(expected);
      }),
      { numRuns: 1500, seed: 21 },
    );
  });
});

describe('measured JSON agrees with JSON.stringify', () => {
  const gaps = ['', '  ', '\t', '----------'];
  it('jsonLength is the exact length and jsonText the exact text, for any JSON and indent', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.constantFrom(...gaps), (v, gap) => {
        const b = new TemplateBudget();
        const expected = JSON.stringify(v, null, gap);
        const n = jsonLength(v, b, 'test', gap, Infinity, () => {
          throw new Error('too long');
        });
        expect(n).toBe(expected.length);
        expect(jsonText(v, new TemplateBudget(), 'test', gap)).toBe(expected);
      }),
      { numRuns: 3000, seed: 22 },
    );
  });

  it('strings with every kind of escape, lone surrogates and undefined members', () => {
    const odd = ['\u0000\u0001\b\f\n\r\t"\\\u001f', '\ud800x', 'x\udc00', '😀', '\u2028'];
    for (const s of odd) {
      const v = { [s]: [s, undefined, null], u: undefined, n: -0, big: 1e21, f: 0.1 };
      for (const gap of gaps) {
        const n = jsonLength(v, new TemplateBudget(), 'test', gap, Infinity, () => {
          throw new Error('too long');
        });
        expect(n).toBe(JSON.stringify(v, null, gap).length);
      }
    }
  });
});

describe('linear time on the inputs that made the former definitions quadratic', () => {
  // Each input is 2-4 million characters. Quadratic matching (the former regexes) needs ~10^13 steps
  // here; linear scanners need ~10^7. Generous bound, as the issue asks: 5 s each.
  const big = (seed: string, chars: number) => seed.repeat(Math.ceil(chars / seed.length));
  const cases: Array<[string, string, string]> = [
    ['striptags on "<a" runs', '{{ inputs.s | striptags | length }}', big('<a', 2_000_000)],
    ['striptags on "<!--" runs', '{{ inputs.s | striptags | length }}', big('<!--', 2_000_000)],
    ['striptags on "</a" and "<a_" runs', '{{ inputs.s | striptags | length }}', big('</a<a_', 2_000_000)],
    [
      'striptags(true) on long runs of spaces',
      '{{ inputs.s | striptags(true) | length }}',
      `x${big(' ', 2_000_000)}x`,
    ],
    ['int on a long run of digits', '{{ inputs.s | int }}', `${big('1', 2_000_000)}x`],
    ['wordcount on many words', '{{ inputs.s | wordcount }}', big('a ', 4_000_000)],
    ['urlize on one long word', '{{ inputs.s | urlize | length }}', big('a', 2_000_000)],
    [
      'urlize on a long word with "@"',
      '{{ inputs.s | urlize | length }}',
      `${big('a.', 1_000_000)}@${big('b', 1_000_000)}!`,
    ],
    ['title on many words', '{{ inputs.s | title | length }}', big('a ', 2_000_000)],
    ['reverse', '{{ inputs.s | reverse | length }}', big('a😀', 2_000_000)],
  ];
  it.each(cases)('%s', (_, template, s) => {
    const t0 = performance.now();
    const r = renderString(template, { inputs: { s }, nodes: {} });
    const ms = performance.now() - t0;
    expect(r.ok, JSON.stringify(r).slice(0, 300)).toBe(true);
    expect(ms).toBeLessThan(5000);
  });

  it('the work charged grows linearly with the input (4x the input, about 4x the units)', () => {
    for (const [, template, s] of cases) {
      const units = (input: string) => {
        const b = new TemplateBudget();
        renderString(template, { inputs: { s: input }, nodes: {} }, b);
        return b.work;
      };
      const quarter = s.slice(0, s.length / 4);
      const ratio = units(s) / units(quarter);
      expect(ratio, template).toBeGreaterThan(3);
      expect(ratio, template).toBeLessThan(5);
    }
  });
});
