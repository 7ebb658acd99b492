// A parser for the subset of Bicep that infra/ uses (no Bicep compiler can be installed here), and a
// reader of the generated resource-type listings in infra/api-specs/. Enough to check, in CI, every
// resource type@apiVersion and every property the templates set (test/infra/bicep.test.ts).
//
// Supported: comments, targetScope, param / var / resource (existing, for, if) / module / output
// declarations with decorators, object and array literals (newline- or comma-separated), for-expressions
// (`[for x in xs: ...]`, `[for (x, i) in xs: ...]`), `if (cond) {...}` bodies, single-quoted strings with
// ${} interpolation, '''multi-line''' strings, and any expression: its text is kept, and the object and
// array literals inside it are parsed (ternaries, function arguments) so their properties can be checked.

export type Value =
  | { kind: 'object'; props: Prop[]; line: number }
  | { kind: 'array'; items: Value[]; line: number }
  | { kind: 'for'; variable: string; source: Value; body: Value; line: number }
  | { kind: 'if'; condition: string; body: Value; line: number }
  | { kind: 'string'; value: string; interpolated: boolean; line: number }
  | { kind: 'number'; value: number; line: number }
  | { kind: 'bool'; value: boolean; line: number }
  | { kind: 'null'; line: number }
  | { kind: 'expr'; text: string; identifiers: string[]; parts: Value[]; line: number };

export interface Prop {
  key: string;
  value: Value;
  line: number;
}

export interface Decorator {
  name: string;
  args: Value[];
}

export interface Declaration {
  kind: 'targetScope' | 'param' | 'var' | 'resource' | 'module' | 'output';
  name: string;
  /** param/output: the type; resource: 'Type@version'; module: the path. */
  type?: string;
  value?: Value;
  existing?: boolean;
  decorators: Decorator[];
  line: number;
}

interface Token {
  kind: 'ident' | 'string' | 'number' | 'punct' | 'newline' | 'eof';
  value: string;
  line: number;
  interpolated?: boolean;
}

export class BicepSyntaxError extends Error {}

const PUNCT = ['==', '!=', '<=', '>=', '&&', '||', '??', '.?', '=>', '::', ...'{}[]():,.?!=<>+-*/%@'];

function tokenize(src: string, file: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let line = 1;
  const fail = (m: string) => {
    throw new BicepSyntaxError(`${file}:${line}: ${m}`);
  };
  while (i < src.length) {
    const c = src[i]!;
    if (c === '\n') {
      out.push({ kind: 'newline', value: '\n', line });
      line++;
      i++;
    } else if (c === ' ' || c === '\t' || c === '\r') i++;
    else if (src.startsWith('//', i)) while (i < src.length && src[i] !== '\n') i++;
    else if (src.startsWith('/*', i)) {
      const end = src.indexOf('*/', i + 2);
      if (end < 0) fail('unterminated comment');
      line += src.slice(i, end).split('\n').length - 1;
      i = end + 2;
    } else if (src.startsWith("'''", i)) {
      const end = src.indexOf("'''", i + 3);
      if (end < 0) fail('unterminated multi-line string');
      const text = src.slice(i + 3, end);
      out.push({ kind: 'string', value: text, line });
      line += text.split('\n').length - 1;
      i = end + 3;
    } else if (c === "'") {
      // A string; ${...} interpolations may nest braces and strings.
      let j = i + 1;
      let value = '';
      let interpolated = false;
      for (;;) {
        if (j >= src.length || src[j] === '\n') fail('unterminated string');
        const d = src[j]!;
        if (d === '\\') {
          value += src[j + 1];
          j += 2;
        } else if (d === "'") {
          j++;
          break;
        } else if (d === '$' && src[j + 1] === '{') {
          interpolated = true;
          let depth = 0;
          const start = j;
          for (; j < src.length; j++) {
            if (src[j] === '{') depth++;
            else if (src[j] === '}' && --depth === 0) break;
            else if (src[j] === "'") {
              // a string inside the interpolation
              j++;
              while (j < src.length && src[j] !== "'") j += src[j] === '\\' ? 2 : 1;
            }
          }
          value += src.slice(start, j + 1);
          j++;
        } else {
          value += d;
          j++;
        }
      }
      out.push({ kind: 'string', value, line, interpolated });
      i = j;
    } else if (/[0-9]/.test(c)) {
      const m = /^[0-9]+(\.[0-9]+)?/.exec(src.slice(i))!;
      out.push({ kind: 'number', value: m[0], line });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i))!;
      out.push({ kind: 'ident', value: m[0], line });
      i += m[0].length;
    } else {
      const p = PUNCT.find((x) => src.startsWith(x, i));
      if (!p) fail(`unexpected character ${JSON.stringify(c)}`);
      out.push({ kind: 'punct', value: p!, line });
      i += p!.length;
    }
  }
  out.push({ kind: 'eof', value: '', line });
  return out;
}

class Parser {
  private i = 0;
  constructor(
    private readonly t: Token[],
    private readonly file: string,
  ) {}

  private get cur(): Token {
    return this.t[this.i]!;
  }
  private peek(k = 1): Token {
    return this.t[Math.min(this.i + k, this.t.length - 1)]!;
  }
  private fail(m: string): never {
    throw new BicepSyntaxError(`${this.file}:${this.cur.line}: ${m} (at ${JSON.stringify(this.cur.value)})`);
  }
  private is(v: string): boolean {
    return (this.cur.kind === 'punct' || this.cur.kind === 'ident') && this.cur.value === v;
  }
  private expect(v: string): Token {
    if (!this.is(v)) this.fail(`expected ${JSON.stringify(v)}`);
    return this.t[this.i++]!;
  }
  private skipNewlines(): void {
    while (this.cur.kind === 'newline') this.i++;
  }
  private nextSignificant(): Token {
    let k = this.i;
    while (this.t[k]!.kind === 'newline') k++;
    return this.t[k]!;
  }

  parseFile(): Declaration[] {
    const out: Declaration[] = [];
    let decorators: Decorator[] = [];
    for (;;) {
      this.skipNewlines();
      if (this.cur.kind === 'eof') break;
      if (this.is('@')) {
        this.i++;
        const name = this.ident();
        const args: Value[] = [];
        this.expect('(');
        this.skipNewlines();
        while (!this.is(')')) {
          args.push(this.value());
          this.skipNewlines();
          if (this.is(',')) this.i++;
          this.skipNewlines();
        }
        this.i++;
        decorators.push({ name, args });
        continue;
      }
      const line = this.cur.line;
      const kw = this.ident();
      let d: Declaration;
      if (kw === 'targetScope') {
        this.expect('=');
        d = { kind: 'targetScope', name: 'targetScope', value: this.value(), decorators, line };
      } else if (kw === 'param') {
        const name = this.ident();
        const type = this.typeName();
        let value: Value | undefined;
        if (this.is('=')) {
          this.i++;
          value = this.value();
        }
        d = { kind: 'param', name, type, ...(value ? { value } : {}), decorators, line };
      } else if (kw === 'var') {
        const name = this.ident();
        this.expect('=');
        d = { kind: 'var', name, value: this.value(), decorators, line };
      } else if (kw === 'output') {
        const name = this.ident();
        const type = this.typeName();
        this.expect('=');
        d = { kind: 'output', name, type, value: this.value(), decorators, line };
      } else if (kw === 'resource' || kw === 'module') {
        const name = this.ident();
        if (this.cur.kind !== 'string') this.fail(`expected the ${kw} type string`);
        const type = this.t[this.i++]!.value;
        let existing = false;
        if (this.is('existing')) {
          existing = true;
          this.i++;
        }
        this.expect('=');
        d = { kind: kw, name, type, value: this.body(), existing, decorators, line };
      } else this.fail(`unsupported declaration "${kw}"`);
      out.push(d);
      decorators = [];
    }
    return out;
  }

  private ident(): string {
    if (this.cur.kind !== 'ident') this.fail('expected a name');
    return this.t[this.i++]!.value;
  }

  private typeName(): string {
    let t = this.ident();
    if (this.is('[') && this.peek().value === ']') {
      this.i += 2;
      t += '[]';
    }
    return t;
  }

  /** A resource/module body: an object, `if (cond) {...}` or a for-expression. */
  private body(): Value {
    if (this.is('if')) return this.ifBody();
    return this.value();
  }

  private ifBody(): Value {
    const line = this.cur.line;
    this.expect('if');
    this.expect('(');
    const cond = this.expression([')']);
    this.expect(')');
    return {
      kind: 'if',
      condition: cond.kind === 'expr' ? cond.text : JSON.stringify(cond),
      body: this.value(),
      line,
    };
  }

  value(): Value {
    this.skipNewlines();
    if (this.is('{')) return this.object();
    if (this.is('[')) return this.array();
    return this.expression([]);
  }

  private object(): Value {
    const line = this.cur.line;
    this.expect('{');
    const props: Prop[] = [];
    for (;;) {
      while (this.cur.kind === 'newline' || this.is(',')) this.i++;
      if (this.is('}')) break;
      const pline = this.cur.line;
      let key: string;
      if (this.cur.kind === 'ident' || this.cur.kind === 'string') key = this.t[this.i++]!.value;
      else this.fail('expected a property name');
      this.expect(':');
      props.push({ key, value: this.value(), line: pline });
      const after: Token = this.t[this.i]!;
      if (!(after.kind === 'newline' || this.is(',') || this.is('}')))
        this.fail('expected a new line, "," or "}"');
    }
    this.i++;
    return { kind: 'object', props, line };
  }

  private array(): Value {
    const line = this.cur.line;
    this.expect('[');
    this.skipNewlines();
    if (this.is('for')) {
      this.i++;
      let variable: string;
      if (this.is('(')) {
        this.i++;
        const names: string[] = [];
        while (!this.is(')')) {
          names.push(this.ident());
          if (this.is(',')) this.i++;
        }
        this.i++;
        variable = names.join(',');
      } else variable = this.ident();
      this.expect('in');
      const source = this.is('[') ? this.array() : this.expression([':']);
      this.expect(':');
      this.skipNewlines();
      const body = this.is('if') ? this.ifBody() : this.value();
      this.skipNewlines();
      this.expect(']');
      return { kind: 'for', variable, source, body, line };
    }
    const items: Value[] = [];
    for (;;) {
      while (this.cur.kind === 'newline' || this.is(',')) this.i++;
      if (this.is(']')) break;
      items.push(this.value());
    }
    this.i++;
    return { kind: 'array', items, line };
  }

  /**
   * Any expression up to a terminator at depth 0 (a new line, "," "}" "]" ")" or one of `stop`; ":" only
   * when it does not close a "?"). Object and array literals inside are parsed into `parts`.
   */
  private expression(stop: string[]): Value {
    const line = this.cur.line;
    const start = this.i;
    const parts: Value[] = [];
    const identifiers: string[] = [];
    let text = '';
    let depth = 0;
    let pendingTernary = 0;
    for (;;) {
      const tk = this.cur;
      if (tk.kind === 'eof') break;
      if (tk.kind === 'newline') {
        if (depth > 0) {
          this.i++;
          continue;
        }
        // A ternary may continue on the next line: `cond\n ? a\n : b`.
        const next = this.nextSignificant();
        if (next.kind === 'punct' && (next.value === '?' || (next.value === ':' && pendingTernary > 0))) {
          this.skipNewlines();
          continue;
        }
        break;
      }
      if (tk.kind === 'punct') {
        if (depth === 0 && (stop.includes(tk.value) || [',', '}', ']', ')'].includes(tk.value))) {
          if (!(tk.value === ':' && pendingTernary > 0)) break;
        }
        if (depth === 0 && tk.value === ':' && pendingTernary === 0) break;
        if (tk.value === '{' || tk.value === '[') {
          const v = tk.value === '{' ? this.object() : this.array();
          parts.push(v);
          text += tk.value === '{' ? '{…}' : '[…]';
          continue;
        }
        if (tk.value === '(') depth++;
        if (tk.value === ')') depth--;
        if (tk.value === '?' && depth === 0) pendingTernary++;
        if (tk.value === ':' && depth === 0) pendingTernary--;
      }
      if (tk.kind === 'ident') identifiers.push(tk.value);
      text += tk.kind === 'string' ? `'${tk.value}'` : tk.value;
      if (tk.kind === 'ident' && this.peek().kind === 'ident') text += ' ';
      this.i++;
    }
    if (this.i === start) this.fail('expected a value');
    const tokens = this.t.slice(start, this.i).filter((x) => x.kind !== 'newline');
    if (tokens.length === 1 && parts.length === 0) {
      const only = tokens[0]!;
      if (only.kind === 'string')
        return { kind: 'string', value: only.value, interpolated: only.interpolated === true, line };
      if (only.kind === 'number') return { kind: 'number', value: Number(only.value), line };
      if (only.kind === 'ident' && (only.value === 'true' || only.value === 'false'))
        return { kind: 'bool', value: only.value === 'true', line };
      if (only.kind === 'ident' && only.value === 'null') return { kind: 'null', line };
    }
    return { kind: 'expr', text, identifiers, parts, line };
  }
}

export function parseBicep(src: string, file = 'main.bicep'): Declaration[] {
  return new Parser(tokenize(src, file), file).parseFile();
}

// ---------------------------------------------------------------- infra/api-specs/*.md

export type TypeRef =
  | { kind: 'ref'; name: string; array: boolean }
  | { kind: 'primitive'; name: string; array: boolean }
  | { kind: 'enum'; values: string[]; open: boolean; array: boolean };

export interface PropertySpec {
  type: TypeRef;
  flags: string[];
}

export interface TypeDef {
  name: string;
  properties: Map<string, PropertySpec>;
  additional?: TypeRef;
}

export interface TypeListing {
  resources: Map<string, TypeDef>;
  definitions: Map<string, TypeDef>;
}

function parseTypeRef(text: string): TypeRef {
  const t = text.trim();
  const ref = /^\[(\w+)\]\(#\w+\)(\[\])?$/.exec(t);
  if (ref) return { kind: 'ref', name: ref[1]!, array: ref[2] === '[]' };
  if (t.includes("'")) {
    const values = [...t.matchAll(/'([^']*)'/g)].map((m) => m[1]!);
    return { kind: 'enum', values, open: /\|\s*string\b/.test(t), array: false };
  }
  const prim = /^(\w+)(\[\])?/.exec(t);
  return { kind: 'primitive', name: prim?.[1] ?? 'any', array: prim?.[2] === '[]' };
}

/** Reads the generated types listing format (`## Resource T@v`, `## Def`, `* **name**: type {..} (Flags)`). */
export function parseTypeListing(src: string): TypeListing {
  const resources = new Map<string, TypeDef>();
  const definitions = new Map<string, TypeDef>();
  let current: TypeDef | undefined;
  let additional = false;
  for (const raw of src.split('\n')) {
    const line = raw.trimEnd();
    const res = /^## Resource (\S+)/.exec(line);
    const def = /^## (\w+)$/.exec(line);
    if (res) {
      current = { name: res[1]!, properties: new Map() };
      resources.set(res[1]!, current);
      additional = false;
    } else if (def) {
      current = definitions.get(def[1]!) ?? { name: def[1]!, properties: new Map() };
      definitions.set(def[1]!, current);
      additional = false;
    } else if (line === '### Additional Properties') additional = true;
    else if (current && line.startsWith('* **')) {
      const m = /^\* \*\*([^*]+)\*\*: (.*)$/.exec(line);
      if (!m) continue;
      let rest = m[2]!;
      const flags = /\(([A-Za-z, ]+)\)\s*$/.exec(rest);
      if (flags) rest = rest.slice(0, flags.index);
      rest = rest.replace(/\{[^}]*\}/g, '').trim();
      const type = parseTypeRef(rest);
      if (additional && m[1] === 'Additional Properties Type') current.additional = type;
      else
        current.properties.set(m[1]!, {
          type,
          flags: flags ? flags[1]!.split(',').map((f) => f.trim()) : [],
        });
    }
  }
  return { resources, definitions };
}
