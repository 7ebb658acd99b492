// Compiling statements: the template body, {{ output }}, {% if %}, {% for %}, {% set %}, {% switch %}, and
// captured blocks. Includes, imports, macros and inheritance are refused here.
import { type NjNode, quoteTemplate } from './parseTemplate';
import { weighed } from './compileExpression';
import { type TemplateCompiler } from './compiler';
import { STATEMENT_NAMES, exprText } from './exprText';
import { finalizeNative, write } from './operators';
import { type Ev, Frame, type St } from './state';
import {
  describeValue,
  fail,
  isPlainObject,
  memberLookup,
  toText,
  truthy,
  valuesEqual,
} from './templateEnvironment';

const noop: St = () => {};

/** Work units of one loop iteration (binding the loop variables and `loop`), besides its body. */
const LOOP_ITERATION_COST = 8;

export function compileRoot(tc: TemplateCompiler, root: NjNode): { native: Ev | null; body: St | null } {
  const single = singleExpression(root);
  if (single) {
    const [ev, weight] = weighed(tc, single);
    const where = `The template ${quoteTemplate(tc.display)}`;
    const what = `{{ ${exprText(single)} }}`;
    return {
      native: (s) => {
        s.b.spend(weight, what);
        return finalizeNative(ev(s), where);
      },
      body: null,
    };
  }
  return { native: null, body: compileStatement(tc, root) };
}

/** The expression of a template that is exactly one `{{ expr }}` with only whitespace around it. */
function singleExpression(root: NjNode): NjNode | null {
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

function stmts(tc: TemplateCompiler, list: NjNode[]): St {
  const parts = list.map((n) => compileStatement(tc, n)).filter((p) => p !== noop);
  if (parts.length === 0) return noop;
  if (parts.length === 1) return parts[0] ?? noop;
  return (s) => {
    for (const p of parts) p(s);
  };
}

export function compileStatement(tc: TemplateCompiler, n: NjNode | null | undefined): St {
  if (!n) return noop;
  switch (n.typename) {
    case 'Root':
    case 'NodeList':
      return stmts(tc, n.children ?? []);
    case 'Output':
      return output(tc, n);
    case 'If':
    case 'IfAsync': {
      const [cond, weight] = weighed(tc, n.cond);
      const what = `{% if ${exprText(n.cond)} %}`;
      const body = compileStatement(tc, n.body);
      const other = compileStatement(tc, n.else_);
      return (s) => {
        s.b.spend(weight, what);
        return truthy(cond(s)) ? body(s) : other(s);
      };
    }
    case 'For':
    case 'AsyncEach':
    case 'AsyncAll':
      return forLoop(tc, n);
    case 'Set':
      return set(tc, n);
    case 'Switch':
      return switchStmt(tc, n);
    default: {
      const forbidden = STATEMENT_NAMES[n.typename];
      if (forbidden) {
        tc.report(
          'TEMPLATE_FORBIDDEN',
          `${forbidden} is not allowed in workflow templates (no includes, imports, macros or template inheritance).`,
          n,
        );
      } else {
        tc.report('TEMPLATE_SYNTAX', `unsupported construct "${n.typename}".`, n);
      }
      return noop;
    }
  }
}

function output(tc: TemplateCompiler, n: NjNode): St {
  const parts: St[] = [];
  for (const c of n.children ?? []) {
    if (c.typename === 'TemplateData') {
      const text = String(c.value ?? '');
      if (text !== '') parts.push((s) => write(s, text, 'The template text'));
      continue;
    }
    const [ev, weight] = weighed(tc, c);
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

function forLoop(tc: TemplateCompiler, n: NjNode): St {
  const [seqEv, weight] = weighed(tc, n.arr);
  const names: string[] = [];
  if (n.name?.typename === 'Array') {
    for (const c of n.name.children ?? []) {
      const nm = tc.bindingName(c, 'A loop variable');
      if (nm !== null) names.push(nm);
    }
  } else {
    const nm = tc.bindingName(n.name, 'A loop variable');
    if (nm !== null) names.push(nm);
  }
  tc.scopes.push(new Set([...names, 'loop']));
  const body = compileStatement(tc, n.body);
  tc.scopes.pop();
  tc.scopes.push(new Set());
  const otherwise = n.else_ ? compileStatement(tc, n.else_) : null;
  tc.scopes.pop();
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

function set(tc: TemplateCompiler, n: NjNode): St {
  const [valueEv, weight] = n.value ? weighed(tc, n.value as NjNode) : [compileCapture(tc, n.body), 1];
  const what = n.value ? `{% set ... = ${exprText(n.value as NjNode)} %}` : '{% set %}';
  const names: string[] = [];
  for (const t of n.targets ?? []) {
    const nm = tc.bindingName(t, 'The target of {% set %}');
    if (nm !== null) names.push(nm);
  }
  for (const nm of names) tc.declare(nm);
  return (s) => {
    s.b.spend(weight, what);
    const v = valueEv(s);
    if (s.frame === null) s.frame = new Frame(null);
    for (const nm of names) s.frame.assign(nm, v);
  };
}

function switchStmt(tc: TemplateCompiler, n: NjNode): St {
  const [subject, weight] = weighed(tc, n.expr);
  const where = `{% switch ${exprText(n.expr)} %}`;
  const cases = (n.cases ?? []).map((c) => {
    const [cond, w] = weighed(tc, c.cond);
    return { cond, w, body: compileStatement(tc, c.body), empty: (c.body?.children ?? []).length === 0 };
  });
  const dflt = n.default ? compileStatement(tc, n.default) : null;
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

export function compileCapture(tc: TemplateCompiler, n: NjNode | null | undefined): Ev {
  const body = n && n.typename === 'Capture' ? compileStatement(tc, n.body) : compileStatement(tc, n);
  return (s) => {
    const saved = s.buf;
    s.buf = '';
    body(s);
    const out = s.buf;
    s.buf = saved;
    return out;
  };
}
