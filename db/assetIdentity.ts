// The identity of a geospatial asset (docs/domain.md "Identity"): the same platform and references give
// the same asset whatever the key order; the version is not part of it. Byte-compatible with the
// original system: sha256(f"{platform_id}|{json.dumps(refs, sort_keys=True, separators=(',', ':'))}")[:32]
// with Python's default ensure_ascii escaping, so asset ids computed there and here agree.
import { createHash } from 'node:crypto';

/** A reference value: a string, a safe integer or a boolean (floats print differently in Python and JS). */
export type RefValue = string | number | boolean;

export function assetIdFor(platformId: string, refs: Record<string, RefValue>): string {
  return createHash('sha256')
    .update(`${platformId}|${canonicalRefsJson(refs)}`, 'utf8')
    .digest('hex')
    .slice(0, 32);
}

/** JSON with keys sorted by code point, no spaces, non-ASCII escaped as \\uXXXX (Python's json.dumps). */
export function canonicalRefsJson(refs: Record<string, RefValue>): string {
  const keys = Object.keys(refs).sort(byCodePoint);
  return `{${keys.map((k) => `${pyString(k)}:${pyScalar(refs[k]!)}`).join(',')}}`;
}

function pyScalar(v: RefValue): string {
  if (typeof v === 'string') return pyString(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (!Number.isSafeInteger(v)) throw new RangeError(`reference value ${v} is not a safe integer`);
  return String(v);
}

const SHORT: Record<string, string> = {
  '"': '\\"',
  '\\': '\\\\',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\b': '\\b',
  '\f': '\\f',
};

/** Python's ensure_ascii string encoding: printable ASCII as is, the rest as lowercase \\uXXXX (UTF-16 units). */
function pyString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    const code = s.charCodeAt(i);
    if (SHORT[ch] !== undefined) out += SHORT[ch];
    else if (code >= 0x20 && code <= 0x7e) out += ch;
    else out += `\\u${code.toString(16).padStart(4, '0')}`;
  }
  return `${out}"`;
}

function byCodePoint(a: string, b: string): number {
  const x = [...a].map((c) => c.codePointAt(0)!);
  const y = [...b].map((c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}
