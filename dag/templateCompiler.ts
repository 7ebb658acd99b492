// Compiles a template (its nunjucks AST) into closures, once per template string, and checks it on the way:
// syntax, forbidden constructs, unknown variables, and the variable references the validator needs.
// See templateEnvironment.ts for the sandbox this relies on.
import { TemplateBudget } from './templateBudget';
import {
  CONSTANTS,
  FORBIDDEN_NAMES,
  FORBIDDEN_PROPERTIES,
  type NjNode,
  SafeFunction,
  TEMPLATE_FUNCTIONS,
  TemplateFailure,
  compareOrder,
  describeValue,
  fail,
  functionValue,
  inOperator,
  isPlainObject,
  memberLookup,
  nonFinite,
  parseTemplate,
  position,
  quoteTemplate,
  toText,
  truthy,
  valuesEqual,
} from './templateEnvironment';
import { FILTERS, FORBIDDEN_FILTERS, type FilterSpec, TESTS } from './templateFilters';
import { type TemplateError, type TemplateErrorCode, type TemplateReference } from './templateTypes';

// ---------------------------------------------------------------------------------------------------------
// Runtime state

const NOT_FOUND: unique symbol = Symbol('not found');

/** Variables bound by {% for %} and {% set %} (nunjucks scoping: a set inside a loop updates an outer one). */
export class Frame {
  private readonly vars = new Map<string, unknown>();
  constructor(readonly parent: Frame | null) {}

  lookup(name: string): unknown {
    if (this.vars.has(name)) return this.vars.get(name);
    return this.parent === null ? NOT_FOUND : this.parent.lookup(name);
  }

  bind(name: string, value: unknown): void {
    this.vars.set(name, value);
  }

  /** {% set %}: updates the nearest frame that has the name, else binds it here. */
  assign(name: string, value: unknown): void {
    if (!this.assignExisting(name, value)) this.vars.set(name, value);
  }

  private assignExisting(name: string, value: unknown): boolean {
    if (this.vars.has(name)) {
      this.vars.set(name, value);
      return true;
    }
    return this.parent !== null && this.parent.assignExisting(name, value);
  }
}

/**
 * One evaluation: the root variables (the template context, or {value, output}), the output buffer,
 * and the budget every operation is charged to (shared by all the templates of a node).
 */
export class State {
  buf = '';
  frame: Frame | null = null;
  constructor(
    public roots: Readonly<Record<string, unknown>>,
    public readonly b: TemplateBudget = new TemplateBudget(),
  ) {}

  reset(): void {
    this.buf = '';
    this.frame = null;
  }
}

export type Ev = (s: State) => unknown;
type St = (s: State) => void;

// ---------------------------------------------------------------------------------------------------------
// Dialects: which names exist at the top level

export interface Dialect {
  readonly kind: 'template' | 'condition';
  readonly roots: ReadonlySet<string>;
  readonly functions: ReadonlyMap<string, SafeFunction>;
  /** Appended to "Unknown variable" messages. */
  readonly knownNames: string;
}

export interface Compiled {
  readonly source: string;
  /** Load-time problems: syntax, forbidden constructs, unknown variables. A template with errors never renders. */
  readonly errors: readonly TemplateError[];
  readonly references: readonly TemplateReference[];
  /** Set for a template that is exactly one `{{ expr }}` (whitespace around allowed): yields the native value. */
  readonly native: Ev | null;
  /** Set for every other template: renders text into State.buf. */
  readonly body: St | null;
}

export interface CompileOptions {
  /** The text shown in errors (a condition is compiled as `{{ condition }}` but reported as written). */
  display?: string;
  /** Added to columns on the first line when reporting positions (for `display`). */
  columnShift?: number;
}

// ---------------------------------------------------------------------------------------------------------
// Expression text (for messages)

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

function literalText(v: unknown): string {
  if (typeof v === 'string') return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (v === null) return 'none';
  return String(v);
}

function exprText(n: NjNode | undefined | null): string {
  if (!n) return '';
  const c = n.children ?? [];
  switch (n.typename) {
    case 'Symbol':
      return String(n.value);
    case 'Literal':
      return literalText(n.value);
    case 'LookupVal': {
      const v = n.val;
      if (v && v.typename === 'Literal' && typeof v.value === 'string' && IDENT.test(v.value)) {
        return `${exprText(n.target)}.${v.value}`;
      }
      return `${exprText(n.target)}[${exprText(v)}]`;
    }
    case 'FunCall':
      return `${exprText(n.name)}(${(n.args?.children ?? []).map(exprText).join(', ')})`;
    case 'Filter': {
      const [first, ...rest] = n.args?.children ?? [];
      return `${exprText(first)} | ${exprText(n.name)}${rest.length ? `(${rest.map(exprText).join(', ')})` : ''}`;
    }
    case 'KeywordArgs':
      return c.map((p) => `${exprText(p.key)}=${exprText(p.value as NjNode)}`).join(', ');
    case 'Group':
      return `(${c.map(exprText).join(', ')})`;
    case 'Array':
      return `[${c.map(exprText).join(', ')}]`;
    case 'Dict':
      return `{${c.map((p) => `${exprText(p.key)}: ${exprText(p.value as NjNode)}`).join(', ')}}`;
    case 'Not':
      return `not ${exprText(n.target)}`;
    case 'Neg':
      return `-${exprText(n.target)}`;
    case 'Pos':
      return `+${exprText(n.target)}`;
    case 'Compare':
      return [exprText(n.expr), ...(n.ops ?? []).map((o) => `${o.type ?? ''} ${exprText(o.expr)}`)].join(' ');
    case 'InlineIf':
      return `${exprText(n.body)} if ${exprText(n.cond)}${n.else_ ? ` else ${exprText(n.else_)}` : ''}`;
    case 'Capture':
      return '(block)';
    default: {
      const op = BINARY_OPS[n.typename];
      if (op) return `${exprText(n.left)} ${op} ${exprText(n.right)}`;
      return '…';
    }
  }
}

const BINARY_OPS: Record<string, string> = {
  Or: 'or',
  And: 'and',
  In: 'in',
  Is: 'is',
  Add: '+',
  Concat: '~',
  Sub: '-',
  Mul: '*',
  Div: '/',
  FloorDiv: '//',
  Mod: '%',
  Pow: '**',
};

const STATEMENT_NAMES: Record<string, string> = {
  Include: '{% include %}',
  Import: '{% import %}',
  FromImport: '{% from ... import %}',
  Extends: '{% extends %}',
  Block: '{% block %}',
  Super: 'super()',
  Macro: '{% macro %}',
  Caller: '{% call %}',
  CallExtension: 'extension tags',
  CallExtensionAsync: 'extension tags',
  FilterAsync: 'async filters',
};

function editDistance(a: string, b: string): number {
  const d: number[] = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0] ?? 0;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j] ?? 0;
      d[j] = Math.min((d[j] ?? 0) + 1, (d[j - 1] ?? 0) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return d[b.length] ?? 0;
}

function didYouMean(name: string, candidates: Iterable<string>): string {
  let best = '';
  let bestD = Infinity;
  for (const c of candidates) {
    const dist = editDistance(name.toLowerCase(), c.toLowerCase());
    if (dist < bestD) {
      bestD = dist;
      best = c;
    }
  }
  return bestD <= Math.max(1, Math.floor(name.length / 3)) ? ` Did you mean "${best}"?` : '';
}

// ---------------------------------------------------------------------------------------------------------
// Operators

function arithmetic(op: string, l: unknown, r: unknown, where: string): number {
  if (typeof l !== 'number' || typeof r !== 'number') {
    const hint =
      op === '+' && (typeof l === 'string' || typeof r === 'string')
        ? ' use ~ to join text (e.g. "a" ~ 1), or | int / | float to turn text into a number.'
        : ' both sides must be numbers (use | int or | float to convert text).';
    throw fail(
      'TEMPLATE_RUNTIME',
      `Cannot apply "${op}" to ${describeValue(l)} and ${describeValue(r)} in ${where}:${hint}`,
    );
  }
  let v: number;
  switch (op) {
    case '+':
      v = l + r;
      break;
    case '-':
      v = l - r;
      break;
    case '*':
      v = l * r;
      break;
    case '/':
      if (r === 0) throw fail('TEMPLATE_RUNTIME', `Division by zero in ${where}.`);
      v = l / r;
      break;
    case '//':
      if (r === 0) throw fail('TEMPLATE_RUNTIME', `Division by zero in ${where}.`);
      v = Math.floor(l / r);
      break;
    case '%':
      if (r === 0) throw fail('TEMPLATE_RUNTIME', `Modulo by zero in ${where}.`);
      v = l - r * Math.floor(l / r);
      break;
    default:
      v = l ** r;
  }
  if (!Number.isFinite(v)) throw nonFinite(where);
  return v;
}

function add(l: unknown, r: unknown, where: string, b: TemplateBudget): unknown {
  if (typeof l === 'string' && typeof r === 'string') {
    b.concat(l.length + r.length, Math.min(l.length, r.length), where);
    return l + r;
  }
  if (Array.isArray(l) && Array.isArray(r)) {
    b.list(l.length + r.length, where);
    return l.concat(r);
  }
  return arithmetic('+', l, r, where);
}

/** `a ~ b`: both sides as text, joined. */
function concatText(l: unknown, r: unknown, where: string, b: TemplateBudget): string {
  const ls = toText(l, where, b);
  const rs = toText(r, where, b);
  b.concat(ls.length + rs.length, Math.min(ls.length, rs.length), where);
  return ls + rs;
}

/** Appends text to the output buffer, charged like `~`. */
function write(s: State, text: string, where: string): void {
  const total = s.buf.length + text.length;
  s.b.concat(total, Math.min(s.buf.length, text.length), where);
  s.buf += text;
}

function notAFunction(v: unknown, where: string): void {
  if (v instanceof SafeFunction) throw functionValue(v, where);
}

/** The value a single-expression template yields: undefined becomes null; functions/NaN are errors. */
function finalizeNative(v: unknown, where: string): unknown {
  if (v === undefined) return null;
  if (typeof v === 'number' && !Number.isFinite(v)) throw nonFinite(where);
  if (v instanceof SafeFunction) throw functionValue(v, where);
  return v;
}

function wrapForeign(e: unknown, where: string): TemplateFailure {
  if (e instanceof TemplateFailure) return e;
  if (e instanceof RangeError)
    return fail('TEMPLATE_RUNTIME', `${where} failed: the data is nested too deeply or is too large.`);
  const msg = e instanceof Error ? e.message : String(e);
  return fail('TEMPLATE_RUNTIME', `${where} failed: ${msg}`);
}

// ---------------------------------------------------------------------------------------------------------
// The compiler

const undef: Ev = () => undefined;
const noop: St = () => {};

/** Work units of one loop iteration (binding the loop variables and `loop`), besides its body. */
const LOOP_ITERATION_COST = 8;

class Compiler {
  readonly errors: TemplateError[] = [];
  /** Expression nodes compiled so far: the work units a statement is charged each time it runs. */
  private exprCount = 0;
  private readonly refs = new Map<string, TemplateReference>();
  private readonly scopes: Array<Set<string>> = [new Set()];

  constructor(
    private readonly src: string,
    private readonly dialect: Dialect,
    private readonly display: string,
    private readonly columnShift: number,
  ) {}

  references(): TemplateReference[] {
    return [...this.refs.values()];
  }

  // ---- diagnostics -------------------------------------------------------------------------------------

  private report(code: TemplateErrorCode, what: string, n: NjNode | undefined): void {
    const line = n ? n.lineno + 1 : undefined;
    let column = n ? n.colno + 1 : undefined;
    if (column !== undefined && line === 1) column += this.columnShift;
    const noun = this.dialect.kind === 'condition' ? 'Condition' : 'Template';
    const err: TemplateError = {
      code,
      message: `${noun} ${quoteTemplate(this.display)}${position(this.display, line, column)}: ${what}`,
      template: this.display,
    };
    if (line !== undefined) err.line = line;
    if (column !== undefined) err.column = column;
    this.errors.push(err);
  }

  private declared(name: string): boolean {
    for (let i = this.scopes.length - 1; i >= 0; i--) if (this.scopes[i]?.has(name)) return true;
    return false;
  }

  private declare(name: string): void {
    this.scopes[this.scopes.length - 1]?.add(name);
  }

  private addRef(root: string, path: string[], dynamic: boolean): void {
    const key = `${root}\u0000${path.join('\u0000')}\u0000${dynamic ? 1 : 0}`;
    if (!this.refs.has(key)) this.refs.set(key, { root, path, dynamic });
  }

  private bindingName(n: NjNode | undefined, what: string): string | null {
    if (!n || n.typename !== 'Symbol' || typeof n.value !== 'string') {
      this.report('TEMPLATE_SYNTAX', `${what} must be a plain name.`, n);
      return null;
    }
    const name = n.value;
    if (FORBIDDEN_NAMES.has(name) || FORBIDDEN_PROPERTIES.has(name)) {
      this.report('TEMPLATE_FORBIDDEN', `"${name}" cannot be used as a variable name in templates.`, n);
      return null;
    }
    return name;
  }

  // ---- top level -----------------------------------------------------------------------------------------

  compileRoot(root: NjNode): { native: Ev | null; body: St | null } {
    const single = this.singleExpression(root);
    if (single) {
      const [ev, weight] = this.weighed(single);
      const where = `The template ${quoteTemplate(this.display)}`;
      const what = `{{ ${exprText(single)} }}`;
      return {
        native: (s) => {
          s.b.spend(weight, what);
          return finalizeNative(ev(s), where);
        },
        body: null,
      };
    }
    return { native: null, body: this.stmt(root) };
  }

  /** Compiles an expression and counts its nodes (its weight: the work units of one evaluation). */
  private weighed(n: NjNode | null | undefined): [Ev, number] {
    const before = this.exprCount;
    const ev = this.expr(n);
    return [ev, Math.max(1, this.exprCount - before)];
  }

  /** The expression of a template that is exactly one `{{ expr }}` with only whitespace around it. */
  private singleExpression(root: NjNode): NjNode | null {
    let found: NjNode | null = null;
    for (const out of root.children ?? []) {
      if (out.typename !== 'Output') return null;
      for (const c of out.children ?? []) {
        if (c.typename === 'TemplateData') {
          if (/\S/.test(String(c.value))) return null;
        } else {
          const isFilterBlock = c.typename === 'Filter' && c.args?.children?.[0]?.typename === 'Capture';
          if (found || isFilterBlock) return null;
          found = c;
        }
      }
    }
    return found;
  }

  // ---- statements ----------------------------------------------------------------------------------------

  private stmts(list: NjNode[]): St {
    const parts = list.map((n) => this.stmt(n)).filter((p) => p !== noop);
    if (parts.length === 0) return noop;
    if (parts.length === 1) return parts[0] ?? noop;
    return (s) => {
      for (const p of parts) p(s);
    };
  }

  private stmt(n: NjNode | null | undefined): St {
    if (!n) return noop;
    switch (n.typename) {
      case 'Root':
      case 'NodeList':
        return this.stmts(n.children ?? []);
      case 'Output':
        return this.output(n);
      case 'If':
      case 'IfAsync': {
        const [cond, weight] = this.weighed(n.cond);
        const what = `{% if ${exprText(n.cond)} %}`;
        const body = this.stmt(n.body);
        const other = this.stmt(n.else_);
        return (s) => {
          s.b.spend(weight, what);
          return truthy(cond(s)) ? body(s) : other(s);
        };
      }
      case 'For':
      case 'AsyncEach':
      case 'AsyncAll':
        return this.forLoop(n);
      case 'Set':
        return this.set(n);
      case 'Switch':
        return this.switchStmt(n);
      default: {
        const forbidden = STATEMENT_NAMES[n.typename];
        if (forbidden) {
          this.report(
            'TEMPLATE_FORBIDDEN',
            `${forbidden} is not allowed in workflow templates (no includes, imports, macros or template inheritance).`,
            n,
          );
        } else {
          this.report('TEMPLATE_SYNTAX', `unsupported construct "${n.typename}".`, n);
        }
        return noop;
      }
    }
  }

  private output(n: NjNode): St {
    const parts: St[] = [];
    for (const c of n.children ?? []) {
      if (c.typename === 'TemplateData') {
        const text = String(c.value ?? '');
        if (text !== '') parts.push((s) => write(s, text, 'The template text'));
        continue;
      }
      const [ev, weight] = this.weighed(c);
      const where = `{{ ${exprText(c)} }}`;
      parts.push((s) => {
        s.b.spend(weight, where);
        write(s, toText(ev(s), where, s.b), where);
      });
    }
    if (parts.length === 0) return noop;
    if (parts.length === 1) return parts[0] ?? noop;
    return (s) => {
      for (const p of parts) p(s);
    };
  }

  private forLoop(n: NjNode): St {
    const [seqEv, weight] = this.weighed(n.arr);
    const names: string[] = [];
    if (n.name?.typename === 'Array') {
      for (const c of n.name.children ?? []) {
        const nm = this.bindingName(c, 'A loop variable');
        if (nm !== null) names.push(nm);
      }
    } else {
      const nm = this.bindingName(n.name, 'A loop variable');
      if (nm !== null) names.push(nm);
    }
    this.scopes.push(new Set([...names, 'loop']));
    const body = this.stmt(n.body);
    this.scopes.pop();
    this.scopes.push(new Set());
    const otherwise = n.else_ ? this.stmt(n.else_) : null;
    this.scopes.pop();
    const where = `{% for ... in ${exprText(n.arr)} %}`;
    const first = names[0] ?? '';
    const second = names[1];
    const multi = names.length > 1;

    return (s) => {
      s.b.spend(weight, where);
      const seq = seqEv(s);
      const outer = s.frame;
      const frame = new Frame(outer);
      s.frame = frame;
      try {
        let len = 0;
        const step = (i: number): void => {
          s.b.spend(LOOP_ITERATION_COST, where);
          frame.bind('loop', {
            index: i + 1,
            index0: i,
            revindex: len - i,
            revindex0: len - i - 1,
            first: i === 0,
            last: i === len - 1,
            length: len,
          });
          body(s);
        };
        if (Array.isArray(seq) || typeof seq === 'string') {
          const arr: ArrayLike<unknown> = seq;
          len = arr.length;
          for (let i = 0; i < len; i++) {
            const el = typeof seq === 'string' ? seq.charAt(i) : (arr[i] as unknown);
            if (multi) names.forEach((nm, u) => frame.bind(nm, memberLookup(el, u)));
            else frame.bind(first, el);
            step(i);
          }
        } else if (isPlainObject(seq)) {
          const keys = Object.keys(seq);
          len = keys.length;
          s.b.elements(len, where);
          for (let i = 0; i < len; i++) {
            const k = keys[i] ?? '';
            frame.bind(first, k);
            if (second !== undefined) frame.bind(second, seq[k]);
            step(i);
          }
        } else if (seq !== null && seq !== undefined) {
          throw fail(
            'TEMPLATE_RUNTIME',
            `Cannot loop over ${describeValue(seq)} in ${where}: expected a list, an object or text.`,
          );
        }
        if (len === 0 && otherwise) otherwise(s);
      } finally {
        s.frame = outer;
      }
    };
  }

  private set(n: NjNode): St {
    const [valueEv, weight] = n.value ? this.weighed(n.value as NjNode) : [this.capture(n.body), 1];
    const what = n.value ? `{% set ... = ${exprText(n.value as NjNode)} %}` : '{% set %}';
    const names: string[] = [];
    for (const t of n.targets ?? []) {
      const nm = this.bindingName(t, 'The target of {% set %}');
      if (nm !== null) names.push(nm);
    }
    for (const nm of names) this.declare(nm);
    return (s) => {
      s.b.spend(weight, what);
      const v = valueEv(s);
      if (s.frame === null) s.frame = new Frame(null);
      for (const nm of names) s.frame.assign(nm, v);
    };
  }

  private switchStmt(n: NjNode): St {
    const [subject, weight] = this.weighed(n.expr);
    const where = `{% switch ${exprText(n.expr)} %}`;
    const cases = (n.cases ?? []).map((c) => {
      const [cond, w] = this.weighed(c.cond);
      return { cond, w, body: this.stmt(c.body), empty: (c.body?.children ?? []).length === 0 };
    });
    const dflt = n.default ? this.stmt(n.default) : null;
    return (s) => {
      s.b.spend(weight, where);
      const v = subject(s);
      let matched = false;
      for (const c of cases) {
        if (!matched) s.b.spend(c.w, where);
        if (!matched && valuesEqual(v, c.cond(s), s.b, where)) matched = true;
        if (matched) {
          c.body(s);
          if (!c.empty) return;
        }
      }
      if (!matched && dflt) dflt(s);
    };
  }

  private capture(n: NjNode | null | undefined): Ev {
    const body = n && n.typename === 'Capture' ? this.stmt(n.body) : this.stmt(n);
    return (s) => {
      const saved = s.buf;
      s.buf = '';
      body(s);
      const out = s.buf;
      s.buf = saved;
      return out;
    };
  }

  // ---- expressions ---------------------------------------------------------------------------------------

  expr(n: NjNode | null | undefined): Ev {
    if (!n) return undef;
    this.exprCount++;
    switch (n.typename) {
      case 'Literal':
        return this.literal(n);
      case 'Symbol':
        return this.symbol(n, true);
      case 'LookupVal':
        return this.lookup(n);
      case 'Group':
        return this.group(n);
      case 'Array':
        return this.listLiteral(n.children ?? []);
      case 'Dict':
        return this.dict(n);
      case 'InlineIf': {
        const cond = this.expr(n.cond);
        const yes = this.expr(n.body);
        const no = n.else_ ? this.expr(n.else_) : undef;
        return (s) => (truthy(cond(s)) ? yes(s) : no(s));
      }
      case 'Or': {
        const l = this.expr(n.left);
        const r = this.expr(n.right);
        return (s) => {
          const v = l(s);
          return truthy(v) ? v : r(s);
        };
      }
      case 'And': {
        const l = this.expr(n.left);
        const r = this.expr(n.right);
        return (s) => {
          const v = l(s);
          return truthy(v) ? r(s) : v;
        };
      }
      case 'Not': {
        const t = this.expr(n.target);
        return (s) => !truthy(t(s));
      }
      case 'In': {
        const l = this.expr(n.left);
        const r = this.expr(n.right);
        const where = exprText(n);
        return (s) => inOperator(l(s), r(s), where, s.b);
      }
      case 'Is':
        return this.isTest(n);
      case 'Add': {
        const l = this.expr(n.left);
        const r = this.expr(n.right);
        const where = exprText(n);
        return (s) => add(l(s), r(s), where, s.b);
      }
      case 'Concat': {
        const l = this.expr(n.left);
        const r = this.expr(n.right);
        const where = exprText(n);
        return (s) => concatText(l(s), r(s), where, s.b);
      }
      case 'Sub':
      case 'Mul':
      case 'Div':
      case 'FloorDiv':
      case 'Mod':
      case 'Pow': {
        const l = this.expr(n.left);
        const r = this.expr(n.right);
        const op = BINARY_OPS[n.typename] ?? '?';
        const where = exprText(n);
        return (s) => arithmetic(op, l(s), r(s), where);
      }
      case 'Neg':
      case 'Pos': {
        const t = this.expr(n.target);
        const neg = n.typename === 'Neg';
        const where = exprText(n);
        return (s) => {
          const v = t(s);
          if (typeof v !== 'number') {
            throw fail(
              'TEMPLATE_RUNTIME',
              `Cannot apply unary "${neg ? '-' : '+'}" to ${describeValue(v)} in ${where}.`,
            );
          }
          return neg ? -v : v;
        };
      }
      case 'Compare':
        return this.compare(n);
      case 'Filter':
        return this.filter(n);
      case 'FunCall':
        return this.call(n);
      case 'Capture':
        return this.capture(n);
      default: {
        const forbidden = STATEMENT_NAMES[n.typename];
        if (forbidden)
          this.report('TEMPLATE_FORBIDDEN', `${forbidden} is not allowed in workflow templates.`, n);
        else this.report('TEMPLATE_SYNTAX', `unsupported expression "${n.typename}".`, n);
        return undef;
      }
    }
  }

  private literal(n: NjNode): Ev {
    const v = n.value;
    if (v instanceof RegExp) {
      this.report(
        'TEMPLATE_FORBIDDEN',
        'regular expression literals (r/.../) are not allowed; use the replace filter with plain text.',
        n,
      );
      return undef;
    }
    return () => v;
  }

  /** A top-level name. `withRef` is false when the caller records a longer reference itself. */
  private symbol(n: NjNode, withRef: boolean): Ev {
    const name = String(n.value);
    if (FORBIDDEN_NAMES.has(name)) {
      this.report(
        'TEMPLATE_FORBIDDEN',
        `"${name}" is not available: templates cannot reach the JavaScript runtime. ${this.dialect.knownNames}`,
        n,
      );
      return undef;
    }
    const isLocal = this.declared(name);
    let fallback: Ev;
    if (this.dialect.roots.has(name)) {
      if (!isLocal && withRef) this.addRef(name, [], false);
      fallback = (s) => s.roots[name];
    } else if (CONSTANTS.has(name)) {
      const c = CONSTANTS.get(name);
      fallback = () => c;
    } else if (this.dialect.functions.has(name)) {
      const f = this.dialect.functions.get(name);
      fallback = () => f;
    } else if (isLocal) {
      fallback = undef;
    } else {
      const hint =
        this.dialect.kind === 'condition' && IDENT.test(name)
          ? ` For a field of the upstream output write output.${name}; for text, quote it: '${name}'.`
          : didYouMean(name, [...this.dialect.roots, ...this.dialect.functions.keys()]);
      this.report('TEMPLATE_UNDEFINED', `unknown variable "${name}".${hint} ${this.dialect.knownNames}`, n);
      return undef;
    }
    return (s) => {
      if (s.frame !== null) {
        const v = s.frame.lookup(name);
        if (v !== NOT_FOUND) return v;
      }
      return fallback(s);
    };
  }

  /** `a.b[c].d`: compiled as one chain so that a failure names the whole expression and its cause. */
  private lookup(n: NjNode): Ev {
    const segs: NjNode[] = [];
    let root: NjNode = n;
    while (root.typename === 'LookupVal') {
      if (!root.val) {
        this.report('TEMPLATE_SYNTAX', 'an index is missing inside "[]".', root);
        return undef;
      }
      if (!root.target) {
        // nunjucks accepts e.g. "{{ ,.x }}" and builds a lookup without a target.
        this.report(
          'TEMPLATE_SYNTAX',
          `"${exprText(root.val)}" is read from nothing: a value is missing before it.`,
          root,
        );
        return undef;
      }
      segs.push(root.val);
      root = root.target;
    }
    segs.reverse();

    // The root, and the reference the validator needs (static path up to the first computed key).
    let rootName: string | null = null;
    let rootEv: Ev;
    if (root.typename === 'Symbol') {
      const name = String(root.value);
      if (this.dialect.roots.has(name) && !this.declared(name)) rootName = name;
      rootEv = this.symbol(root, false);
    } else {
      rootEv = this.expr(root);
    }

    if (rootName !== null) {
      // Recorded before the computed keys are compiled, so references come in order of appearance.
      const prefix: string[] = [];
      let dynamic = false;
      for (const seg of segs) {
        if (seg.typename === 'Literal' && (typeof seg.value === 'string' || typeof seg.value === 'number')) {
          prefix.push(String(seg.value));
        } else {
          dynamic = true;
          break;
        }
      }
      this.addRef(rootName, prefix, dynamic);
    }

    const count = segs.length;
    const statics: unknown[] = new Array<unknown>(count);
    const dyn: Array<Ev | null> = new Array<Ev | null>(count);
    const keyTexts: string[] = [];
    const texts: string[] = [exprText(root)];
    const staticPath: string[] = [];
    let allStatic = true;
    for (let i = 0; i < count; i++) {
      const seg = segs[i] as NjNode;
      const isStatic =
        seg.typename === 'Literal' && (typeof seg.value === 'string' || typeof seg.value === 'number');
      if (isStatic) {
        const key = seg.value as string | number;
        if (typeof key === 'string' && FORBIDDEN_PROPERTIES.has(key)) {
          this.report(
            'TEMPLATE_FORBIDDEN',
            `"${key}" cannot be read in a template (it would reach the JavaScript runtime).`,
            seg,
          );
        }
        statics[i] = key;
        dyn[i] = null;
        if (allStatic) staticPath.push(String(key));
        keyTexts.push(typeof key === 'string' ? `"${key}"` : `[${key}]`);
        const prev = texts[i] ?? '';
        texts.push(
          typeof key === 'string' && IDENT.test(key) ? `${prev}.${key}` : `${prev}[${literalText(key)}]`,
        );
      } else {
        allStatic = false;
        dyn[i] = this.expr(seg);
        keyTexts.push(`[${exprText(seg)}]`);
        texts.push(`${texts[i] ?? ''}[${exprText(seg)}]`);
      }
    }

    const hint = (i: number, isNull: boolean): string => {
      const p = staticPath;
      const staticUpTo = p.length >= i;
      if (rootName === 'nodes' && staticUpTo) {
        if (i === 1 && !isNull) return ` (node "${p[0]}" has not completed or is not upstream of this node)`;
        if (i === 2 && p[1] === 'output') return ` (node "${p[0]}" has no output)`;
      }
      if (rootName === 'inputs' && staticUpTo && i === 1) {
        return isNull ? ` (input "${p[0]}" was not given)` : ` (no input "${p[0]}" is declared)`;
      }
      if ((rootName === 'item' || rootName === 'index') && i === 0)
        return ' (item and index exist only in the params of fan-out tasks)';
      if (rootName === 'output' && i === 0) return ' (the upstream node has no output)';
      if (rootName === 'value' && i === 0) return ' (the condition field has no value)';
      if (i >= 1 && !isNull && staticUpTo) return ` (key "${p[i - 1]}" does not exist in ${texts[i - 1]})`;
      return '';
    };
    const lastKey = keyTexts[count - 1] ?? '';
    const parent = texts[count - 1] ?? '';
    const missing = (i: number, v: null | undefined): TemplateFailure => {
      const isNull = v === null;
      const culprit = texts[i] ?? '';
      return fail(
        'TEMPLATE_UNDEFINED',
        `Cannot read ${lastKey} of ${parent}: ${culprit} is ${isNull ? 'null' : 'undefined'}${hint(i, isNull)}. ` +
          `Check the name, or guard the access with {% if ${culprit} %}...{% endif %}.`,
      );
    };

    if (count === 1 && dyn[0] === null) {
      const k = statics[0];
      return (s) => {
        const v = rootEv(s);
        if (v === undefined || v === null) throw missing(0, v);
        return memberLookup(v, k);
      };
    }
    const where = exprText(n);
    return (s) => {
      let v = rootEv(s);
      for (let i = 0; i < count; i++) {
        if (v === undefined || v === null) throw missing(i, v);
        const d = dyn[i];
        let key = statics[i];
        if (d !== null && d !== undefined) {
          key = d(s);
          // A computed key is hashed (and checked for digits): charged by its length.
          if (typeof key === 'string') s.b.scan(key.length, where);
        }
        v = memberLookup(v, key);
      }
      return v;
    };
  }

  private group(n: NjNode): Ev {
    const c = n.children ?? [];
    if (c.length === 1) return this.expr(c[0]);
    return this.listLiteral(c);
  }

  /** `[a, b]` (and tuples): charged as a list of its length. */
  private listLiteral(nodes: NjNode[]): Ev {
    const els = nodes.map((x) => this.expr(x));
    const where = `[${nodes.map(exprText).join(', ')}]`;
    return (s) => {
      s.b.list(els.length, where);
      return els.map((e) => nullify(e(s)));
    };
  }

  private dict(n: NjNode): Ev {
    const entries: Array<[string, Ev]> = [];
    for (const p of n.children ?? []) {
      const k = p.key;
      let key: string | null = null;
      if (k?.typename === 'Symbol' || (k?.typename === 'Literal' && typeof k.value === 'string'))
        key = String(k.value);
      else this.report('TEMPLATE_SYNTAX', 'object keys must be names or quoted strings.', k ?? p);
      if (key !== null && FORBIDDEN_PROPERTIES.has(key)) {
        this.report('TEMPLATE_FORBIDDEN', `"${key}" cannot be used as an object key in a template.`, k);
        key = null;
      }
      const ev = this.expr(p.value as NjNode);
      if (key !== null) entries.push([key, ev]);
    }
    const where = exprText(n);
    return (s) => {
      s.b.object(entries.length, where);
      const o: Record<string, unknown> = {};
      for (const [k, e] of entries) o[k] = nullify(e(s));
      return o;
    };
  }

  private compare(n: NjNode): Ev {
    const first = this.expr(n.expr);
    const where = exprText(n);
    const ops = (n.ops ?? []).map((o) => ({ type: o.type ?? '==', ev: this.expr(o.expr) }));
    return (s) => {
      let left = first(s);
      for (const op of ops) {
        const right = op.ev(s);
        let ok: boolean;
        switch (op.type) {
          case '==':
          case '===':
            ok = valuesEqual(left, right, s.b, where);
            break;
          case '!=':
          case '!==':
            ok = !valuesEqual(left, right, s.b, where);
            break;
          case '<':
          case '>':
          case '<=':
          case '>=':
            ok = compareOrder(op.type, left, right, where, s.b);
            break;
          default:
            throw fail('TEMPLATE_RUNTIME', `Unknown comparison "${op.type}" in ${where}.`);
        }
        if (!ok) return false;
        left = right;
      }
      return true;
    };
  }

  /** Splits call arguments into positional evaluators and keyword evaluators (by name). */
  private callArgs(nodes: NjNode[], what: string): { pos: Ev[]; kw: Array<[string, Ev]> } {
    const pos: Ev[] = [];
    const kw: Array<[string, Ev]> = [];
    for (const a of nodes) {
      if (a.typename === 'KeywordArgs') {
        for (const p of a.children ?? []) {
          const value = p.value as NjNode | undefined;
          if (value?.typename === 'Caller') {
            this.report('TEMPLATE_FORBIDDEN', '{% call %} is not allowed in workflow templates.', value);
            continue;
          }
          if (p.key?.typename !== 'Symbol') {
            this.report(
              'TEMPLATE_SYNTAX',
              `keyword arguments of ${what} must be written name=value.`,
              p.key ?? p,
            );
            continue;
          }
          kw.push([String(p.key.value), this.expr(value)]);
        }
      } else {
        pos.push(this.expr(a));
      }
    }
    return { pos, kw };
  }

  private filter(n: NjNode): Ev {
    const name = String(n.name?.value ?? '');
    const [valueNode, ...rest] = n.args?.children ?? [];
    const spec: FilterSpec | undefined = FILTERS.get(name);
    if (!spec) {
      const why = FORBIDDEN_FILTERS.get(name);
      if (why)
        this.report('TEMPLATE_FORBIDDEN', `the "${name}" filter is not available: ${why}.`, n.name ?? n);
      else
        this.report(
          'TEMPLATE_SYNTAX',
          `unknown filter "${name}".${didYouMean(name, FILTERS.keys())}`,
          n.name ?? n,
        );
      return undef;
    }
    const valueEv = valueNode?.typename === 'Capture' ? this.capture(valueNode) : this.expr(valueNode);
    const what = `the ${name} filter`;
    // Literal arguments are checked at load time: a test name must exist, and an attribute path naming a
    // runtime property (`| sum('constructor')`) is refused (at render time the sandboxed attribute lookup
    // would give undefined anyway).
    const literalArg = (param: string): NjNode | undefined => {
      const idx = spec.params.indexOf(param);
      if (idx < 0) return undefined;
      const kwNode = rest
        .filter((a) => a.typename === 'KeywordArgs')
        .flatMap((a) => a.children ?? [])
        .find((p) => p.key?.value === param)?.value as NjNode | undefined;
      const node = kwNode ?? rest.filter((a) => a.typename !== 'KeywordArgs')[idx];
      return node?.typename === 'Literal' && typeof node.value === 'string' ? node : undefined;
    };
    const testNode = literalArg('test');
    const testName = String(testNode?.value ?? '');
    if (testNode && !TESTS.has(testName)) {
      this.report(
        'TEMPLATE_SYNTAX',
        `unknown test "${testName}".${didYouMean(testName, TESTS.keys())}`,
        testNode,
      );
    }
    const attrNode = literalArg('attribute');
    const badAttr = String(attrNode?.value ?? '')
      .split('.')
      .find((seg) => FORBIDDEN_PROPERTIES.has(seg));
    if (attrNode && badAttr !== undefined) {
      this.report(
        'TEMPLATE_FORBIDDEN',
        `"${badAttr}" cannot be read in a template (it would reach the JavaScript runtime).`,
        attrNode,
      );
    }
    const { pos, kw } = this.callArgs(rest, what);
    const nParams = spec.params.length;
    if (pos.length > nParams) {
      this.report(
        'TEMPLATE_SYNTAX',
        `${what} takes at most ${nParams} argument(s), got ${pos.length}.`,
        n.name ?? n,
      );
    }
    const kwIdx: Array<[number, Ev]> = [];
    for (const [k, e] of kw) {
      const i = spec.params.indexOf(k);
      if (i < 0) {
        this.report(
          'TEMPLATE_SYNTAX',
          `${what} has no argument named "${k}"${nParams ? ` (it takes ${spec.params.join(', ')})` : ''}.`,
          n.name ?? n,
        );
      } else kwIdx.push([i, e]);
    }
    const where = `The ${name} filter`;
    const expression = exprText(n);
    return (s) => {
      const v = valueEv(s);
      if (v instanceof SafeFunction)
        throw fail('TEMPLATE_RUNTIME', `A function cannot be passed to the ${name} filter.`);
      const args = new Array<unknown>(nParams);
      for (let i = 0; i < pos.length && i < nParams; i++) args[i] = (pos[i] as Ev)(s);
      for (const [i, e] of kwIdx) args[i] = e(s);
      for (const a of args) notAFunction(a, `An argument of the ${name} filter`);
      s.b.spend(1, expression);
      try {
        return spec.apply(v, args, s.b, expression);
      } catch (e) {
        throw wrapForeign(e, where);
      }
    };
  }

  private isTest(n: NjNode): Ev {
    const right = n.right;
    let name: string | null = null;
    let argNodes: NjNode[] = [];
    if (right?.typename === 'Symbol') name = String(right.value);
    else if (right?.typename === 'FunCall' && right.name?.typename === 'Symbol') {
      name = String(right.name.value);
      argNodes = right.args?.children ?? [];
    } else if (right?.typename === 'Literal') {
      if (right.value === null) name = 'none';
      else if (right.value === true || right.value === false) name = String(right.value);
    }
    const left = this.expr(n.left);
    if (name === null) {
      this.report(
        'TEMPLATE_SYNTAX',
        `"is" must be followed by a test name (e.g. "is defined", "is none").`,
        right ?? n,
      );
      return undef;
    }
    const spec = TESTS.get(name);
    if (!spec) {
      this.report('TEMPLATE_SYNTAX', `unknown test "${name}".${didYouMean(name, TESTS.keys())}`, right ?? n);
      return undef;
    }
    const what = `the ${name} test`;
    const { pos, kw } = this.callArgs(argNodes, what);
    if (pos.length > spec.params.length) {
      this.report('TEMPLATE_SYNTAX', `${what} takes at most ${spec.params.length} argument(s).`, right ?? n);
    }
    const kwIdx: Array<[number, Ev]> = [];
    for (const [k, e] of kw) {
      const i = spec.params.indexOf(k);
      if (i < 0) this.report('TEMPLATE_SYNTAX', `${what} has no argument named "${k}".`, right ?? n);
      else kwIdx.push([i, e]);
    }
    const where = `The ${name} test`;
    const expression = exprText(n);
    return (s) => {
      const v = left(s);
      const args = new Array<unknown>(spec.params.length);
      for (let i = 0; i < pos.length && i < args.length; i++) args[i] = (pos[i] as Ev)(s);
      for (const [i, e] of kwIdx) args[i] = e(s);
      try {
        return spec.apply(v, args, s.b, expression);
      } catch (e) {
        throw wrapForeign(e, where);
      }
    };
  }

  private call(n: NjNode): Ev {
    const callee = n.name;
    const argNodes = n.args?.children ?? [];
    const isCallBlock = argNodes.some(
      (a) =>
        a.typename === 'KeywordArgs' &&
        (a.children ?? []).some((p) => (p.value as NjNode | undefined)?.typename === 'Caller'),
    );
    if (!callee) {
      this.report('TEMPLATE_SYNTAX', 'a function name is missing before "(".', n);
      return undef;
    }
    if (isCallBlock) {
      this.report('TEMPLATE_FORBIDDEN', '{% call %} is not allowed in workflow templates (no macros).', n);
      return undef;
    }
    if (callee?.typename !== 'Symbol') {
      // Method calls (x.upper(), x.items(), range.constructor(...)()) do not exist: data has no methods.
      // Compile the callee anyway so that its own problems (e.g. "constructor") are reported first.
      this.expr(callee);
      this.report(
        'TEMPLATE_FORBIDDEN',
        `"${exprText(n)}" calls a method, and templates can only call ${[...this.dialect.functions.keys()].map((f) => `${f}()`).join(', ')}: data has no methods. Use a filter instead, e.g. {{ x | upper }}.`,
        n,
      );
      // Still walk the arguments so their own problems are reported.
      this.callArgs(argNodes, 'the call');
      return undef;
    }
    const name = String(callee.value);
    const fn = this.symbol(callee, true);
    const { pos, kw } = this.callArgs(argNodes, `${name}()`);
    const where = `${name}()`;
    return (s) => {
      const f = fn(s);
      if (!(f instanceof SafeFunction)) {
        throw fail(
          'TEMPLATE_RUNTIME',
          `"${name}" is not a function (it is ${describeValue(f)}), so ${exprText(n)} cannot be called.`,
        );
      }
      const args = pos.map((e) => e(s));
      let kwargs: Map<string, unknown> | null = null;
      if (kw.length) {
        kwargs = new Map();
        for (const [k, e] of kw) kwargs.set(k, e(s));
      }
      s.b.spend(1, where);
      try {
        return f.call(args, kwargs, s.b);
      } catch (e) {
        throw wrapForeign(e, where);
      }
    };
  }
}

/** An element of a list/object built by the template: undefined becomes null; functions cannot be stored. */
function nullify(v: unknown): unknown {
  if (v === undefined) return null;
  if (v instanceof SafeFunction) throw functionValue(v, 'A list or object element');
  return v;
}

// ---------------------------------------------------------------------------------------------------------
// Entry points

/** Compiles a template source. Never throws: problems are in `errors`. */
export function compileSource(src: string, dialect: Dialect, options: CompileOptions = {}): Compiled {
  const display = options.display ?? src;
  const parsed = parseTemplate(src, display, options.columnShift ?? 0);
  if (!parsed.ok) {
    const err: TemplateError = { code: parsed.code, message: parsed.message, template: display };
    if (parsed.line !== undefined) err.line = parsed.line;
    if (parsed.column !== undefined) err.column = parsed.column;
    return { source: display, errors: [err], references: [], native: null, body: null };
  }
  const c = new Compiler(src, dialect, display, options.columnShift ?? 0);
  try {
    const { native, body } = c.compileRoot(parsed.root);
    return { source: display, errors: c.errors, references: c.references(), native, body };
  } catch (e) {
    // Only a pathological AST (e.g. nesting deep enough to exhaust the stack) gets here.
    const msg =
      e instanceof RangeError ? 'it is nested too deeply' : e instanceof Error ? e.message : String(e);
    return {
      source: display,
      errors: [
        {
          code: 'TEMPLATE_SYNTAX',
          message: `Template ${quoteTemplate(display)} cannot be compiled: ${msg}.`,
          template: display,
        },
      ],
      references: [],
      native: null,
      body: null,
    };
  }
}

/** A Map with a size bound (oldest entry evicted first): compile once per template string. */
export class BoundedCache<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly max: number) {}

  get(key: string): V | undefined {
    return this.map.get(key);
  }

  set(key: string, value: V): void {
    if (this.map.size >= this.max) {
      const oldest = this.map.keys().next();
      if (!oldest.done) this.map.delete(oldest.value);
    }
    this.map.set(key, value);
  }
}

export const TEMPLATE_DIALECT: Dialect = {
  kind: 'template',
  roots: new Set(['inputs', 'nodes', 'item', 'index', 'env']),
  functions: TEMPLATE_FUNCTIONS,
  knownNames:
    'Templates can use inputs, nodes.<id>.output, nodes.<id>.status, env.<NAME>, and item/index in fan-out task params.',
};

/** True when a string holds template syntax (`{{` or `{%`); other strings are plain data. */
export function isTemplateString(s: string): boolean {
  return typeof s === 'string' && (s.includes('{{') || s.includes('{%'));
}

const templateCache = new BoundedCache<Compiled>(10_000);

/** The compiled form of a workflow template, compiled once per distinct string. */
export function compileTemplate(src: string): Compiled {
  let c = templateCache.get(src);
  if (c === undefined) {
    c = compileSource(src, TEMPLATE_DIALECT);
    templateCache.set(src, c);
  }
  return c;
}

/** A copy of a (cached) error, safe to hand out. */
export function copyError(e: TemplateError): TemplateError {
  return { ...e };
}

/** Converts whatever an evaluation threw into a TemplateError. */
export function toTemplateError(e: unknown, template: string): TemplateError {
  if (e instanceof TemplateFailure) {
    const err: TemplateError = { code: e.code, message: e.message, template: e.template ?? template };
    if (e.line !== undefined) err.line = e.line;
    if (e.column !== undefined) err.column = e.column;
    if (e.limit !== undefined) err.limit = e.limit;
    return err;
  }
  const msg =
    e instanceof RangeError
      ? 'the data is nested too deeply or is too large'
      : e instanceof Error
        ? e.message
        : String(e);
  return {
    code: 'TEMPLATE_RUNTIME',
    message: `Template ${quoteTemplate(template)} failed: ${msg}.`,
    template,
  };
}

/** Runs a compiled template against a state. Throws TemplateFailure (callers convert it). */
export function evaluate(c: Compiled, s: State): unknown {
  s.reset();
  if (c.native !== null) return c.native(s);
  if (c.body !== null) {
    c.body(s);
    const out = s.buf;
    s.buf = '';
    return out;
  }
  return null;
}
