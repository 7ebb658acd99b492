// ASP.NET-style route templates as used by httpTrigger `route`: literal segments (case-insensitive),
// {name}, {name?}, {name:constraint(...)}, {*catchAll}, and parameters mixed with literals inside a
// segment ("files/{name}.{ext}"). Routes are ordered like ASP.NET: per segment, literals before
// constrained parameters before plain ones before optional ones before catch-alls.
import { DevHostError } from './devHostError';

export interface CompiledRoute {
  template: string;
  /** Sort key: lower is more specific. */
  precedence: number[];
  match(path: string): Record<string, string> | undefined;
}

interface Param {
  name: string;
  optional: boolean;
  catchAll: boolean;
  checks: ((v: string) => boolean)[];
}

const guid = /^[{(]?[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}[)}]?$/i;

function constraint(spec: string, template: string): (v: string) => boolean {
  const m = /^(\w+)(?:\((.*)\))?$/s.exec(spec);
  if (!m) throw new DevHostError('config', `Route "${template}": cannot parse constraint "${spec}"`);
  const [, name, arg] = m;
  const nums = (arg ?? '').split(',').map((x) => Number(x.trim()));
  const num = (v: string) => /^-?\d+(\.\d+)?$/.test(v);
  switch (name!.toLowerCase()) {
    case 'int':
      return (v) => /^-?\d+$/.test(v) && Math.abs(Number(v)) <= 2 ** 31;
    case 'long':
      return (v) => /^-?\d+$/.test(v);
    case 'bool':
      return (v) => /^(true|false)$/i.test(v);
    case 'guid':
      return (v) => guid.test(v);
    case 'alpha':
      return (v) => /^[a-z]+$/i.test(v);
    case 'double':
    case 'float':
    case 'decimal':
      return (v) => /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(v);
    case 'datetime':
      return (v) => !Number.isNaN(Date.parse(v));
    case 'minlength':
      return (v) => v.length >= nums[0]!;
    case 'maxlength':
      return (v) => v.length <= nums[0]!;
    case 'length':
      return nums.length === 2
        ? (v) => v.length >= nums[0]! && v.length <= nums[1]!
        : (v) => v.length === nums[0]!;
    case 'min':
      return (v) => num(v) && Number(v) >= nums[0]!;
    case 'max':
      return (v) => num(v) && Number(v) <= nums[0]!;
    case 'range':
      return (v) => num(v) && Number(v) >= nums[0]! && Number(v) <= nums[1]!;
    case 'regex': {
      const rx = new RegExp(arg ?? '', 'i');
      return (v) => rx.test(v);
    }
    default:
      throw new DevHostError('config', `Route "${template}": unknown route constraint "${name}"`);
  }
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function compileRoute(template: string): CompiledRoute {
  const clean = template.replace(/^\/+|\/+$/g, '');
  const segments = clean === '' ? [] : clean.split('/');
  const params: Param[] = [];
  const precedence: number[] = [];
  let source = '^';
  segments.forEach((seg, index) => {
    const tokens = tokenize(seg, template);
    const isLast = index === segments.length - 1;
    if (tokens.length === 1 && tokens[0]!.param !== undefined) {
      const p = parseParam(tokens[0]!.param, template);
      params.push(p);
      if (p.catchAll) {
        if (!isLast)
          throw new DevHostError('config', `Route "${template}": a catch-all parameter must be last`);
        source += index === 0 ? '(.*)' : '(?:/(.*))?';
        precedence.push(4);
      } else if (p.optional) {
        source += index === 0 ? '([^/]*)' : '(?:/([^/]+))?';
        precedence.push(3);
      } else {
        source += (index === 0 ? '' : '/') + '([^/]+)';
        precedence.push(p.checks.length ? 1 : 2);
      }
      return;
    }
    source += index === 0 ? '' : '/';
    let complex = false;
    for (const t of tokens) {
      if (t.param !== undefined) {
        const p = parseParam(t.param, template);
        if (p.catchAll)
          throw new DevHostError('config', `Route "${template}": a catch-all must be a whole segment`);
        params.push(p);
        source += '([^/]+?)';
        complex = true;
      } else {
        source += escape(t.literal ?? '');
      }
    }
    precedence.push(complex ? 1 : 0);
  });
  source += '/?$';
  const rx = new RegExp(source, 'i');
  return {
    template,
    precedence,
    match(path: string) {
      const m = rx.exec(path.replace(/^\/+/, ''));
      if (!m) return undefined;
      const values: Record<string, string> = {};
      for (let i = 0; i < params.length; i++) {
        const p = params[i]!;
        const raw = m[i + 1];
        if (raw === undefined || raw === '') {
          if (!p.optional && !p.catchAll) return undefined;
          continue;
        }
        let v: string;
        try {
          v = p.catchAll ? raw.split('/').map(decodeURIComponent).join('/') : decodeURIComponent(raw);
        } catch {
          return undefined;
        }
        if (!p.checks.every((c) => c(v))) return undefined;
        values[p.name] = v;
      }
      return values;
    },
  };
}

/** Splits a segment into literals and {parameters}; "{{" and "}}" are escaped braces (ASP.NET). */
function tokenize(seg: string, template: string): { literal?: string; param?: string }[] {
  const out: { literal?: string; param?: string }[] = [];
  let lit = '';
  let i = 0;
  while (i < seg.length) {
    const ch = seg[i]!;
    const next = seg[i + 1];
    if ((ch === '{' && next === '{') || (ch === '}' && next === '}')) {
      lit += ch;
      i += 2;
    } else if (ch === '{') {
      if (lit) out.push({ literal: lit });
      lit = '';
      let body = '';
      let j = i + 1;
      for (;;) {
        if (j >= seg.length)
          throw new DevHostError('config', `Route "${template}": unclosed "{" in "${seg}"`);
        if ((seg[j] === '{' && seg[j + 1] === '{') || (seg[j] === '}' && seg[j + 1] === '}')) {
          body += seg[j];
          j += 2;
        } else if (seg[j] === '}') break;
        else body += seg[j++];
      }
      out.push({ param: body });
      i = j + 1;
    } else {
      lit += ch;
      i++;
    }
  }
  if (lit) out.push({ literal: lit });
  return out;
}

function parseParam(token: string, template: string): Param {
  let body = token;
  let catchAll = false;
  if (body.startsWith('**')) {
    catchAll = true;
    body = body.slice(2);
  } else if (body.startsWith('*')) {
    catchAll = true;
    body = body.slice(1);
  }
  let optional = false;
  if (body.endsWith('?')) {
    optional = true;
    body = body.slice(0, -1);
  }
  const eq = body.indexOf('=');
  if (eq >= 0) {
    optional = true; // a default value makes the parameter optional; the default itself is ignored
    body = body.slice(0, eq);
  }
  const [name, ...specs] = splitConstraints(body);
  if (!name || !/^\w+$/.test(name))
    throw new DevHostError('config', `Route "${template}": bad parameter "{${token}}"`);
  return { name, optional, catchAll, checks: specs.map((s) => constraint(s, template)) };
}

/** "id:int:min(1)" → ["id", "int", "min(1)"], keeping ':' inside parentheses (regex constraints). */
function splitConstraints(body: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of body) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ':' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

/** Orders routes most specific first. */
export function compareRoutes(a: CompiledRoute, b: CompiledRoute): number {
  const n = Math.max(a.precedence.length, b.precedence.length);
  for (let i = 0; i < n; i++) {
    const x = a.precedence[i] ?? -1;
    const y = b.precedence[i] ?? -1;
    if (x !== y) return x - y;
  }
  return 0;
}
