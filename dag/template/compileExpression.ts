// Compiling expressions: literals, lists and objects, logic, arithmetic and comparisons. Variable lookups
// (and the references they record) are compileLookup.ts; filters, tests and calls are compileCall.ts.
import { type NjNode } from './parseTemplate';
import { compileCall, compileFilter, compileIsTest } from './compileCall';
import { compileLookup, compileSymbol } from './compileLookup';
import { compileCapture } from './compileStatement';
import { type TemplateCompiler } from './compiler';
import { BINARY_OPS, STATEMENT_NAMES, exprText } from './exprText';
import { add, arithmetic, concatText, nullify } from './operators';
import { type Ev, undef } from './state';
import {
  FORBIDDEN_PROPERTIES,
  compareOrder,
  describeValue,
  fail,
  inOperator,
  truthy,
  valuesEqual,
} from './templateEnvironment';

/** Compiles an expression and counts its nodes (its weight: the work units of one evaluation). */
export function weighed(tc: TemplateCompiler, n: NjNode | null | undefined): [Ev, number] {
  const before = tc.exprCount;
  const ev = compileExpression(tc, n);
  return [ev, Math.max(1, tc.exprCount - before)];
}

export function compileExpression(tc: TemplateCompiler, n: NjNode | null | undefined): Ev {
  if (!n) return undef;
  tc.exprCount++;
  switch (n.typename) {
    case 'Literal':
      return literal(tc, n);
    case 'Symbol':
      return compileSymbol(tc, n, true);
    case 'LookupVal':
      return compileLookup(tc, n);
    case 'Group':
      return group(tc, n);
    case 'Array':
      return listLiteral(tc, n.children ?? []);
    case 'Dict':
      return dict(tc, n);
    case 'InlineIf': {
      const cond = compileExpression(tc, n.cond);
      const yes = compileExpression(tc, n.body);
      const no = n.else_ ? compileExpression(tc, n.else_) : undef;
      return (s) => (truthy(cond(s)) ? yes(s) : no(s));
    }
    case 'Or': {
      const l = compileExpression(tc, n.left);
      const r = compileExpression(tc, n.right);
      return (s) => {
        const v = l(s);
        return truthy(v) ? v : r(s);
      };
    }
    case 'And': {
      const l = compileExpression(tc, n.left);
      const r = compileExpression(tc, n.right);
      return (s) => {
        const v = l(s);
        return truthy(v) ? r(s) : v;
      };
    }
    case 'Not': {
      const t = compileExpression(tc, n.target);
      return (s) => !truthy(t(s));
    }
    case 'In': {
      const l = compileExpression(tc, n.left);
      const r = compileExpression(tc, n.right);
      const where = exprText(n);
      return (s) => inOperator(l(s), r(s), where, s.b);
    }
    case 'Is':
      return compileIsTest(tc, n);
    case 'Add': {
      const l = compileExpression(tc, n.left);
      const r = compileExpression(tc, n.right);
      const where = exprText(n);
      return (s) => add(l(s), r(s), where, s.b);
    }
    case 'Concat': {
      const l = compileExpression(tc, n.left);
      const r = compileExpression(tc, n.right);
      const where = exprText(n);
      return (s) => concatText(l(s), r(s), where, s.b);
    }
    case 'Sub':
    case 'Mul':
    case 'Div':
    case 'FloorDiv':
    case 'Mod':
    case 'Pow': {
      const l = compileExpression(tc, n.left);
      const r = compileExpression(tc, n.right);
      const op = BINARY_OPS[n.typename] ?? '?';
      const where = exprText(n);
      return (s) => arithmetic(op, l(s), r(s), where);
    }
    case 'Neg':
    case 'Pos': {
      const t = compileExpression(tc, n.target);
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
      return compare(tc, n);
    case 'Filter':
      return compileFilter(tc, n);
    case 'FunCall':
      return compileCall(tc, n);
    case 'Capture':
      return compileCapture(tc, n);
    default: {
      const forbidden = STATEMENT_NAMES[n.typename];
      if (forbidden) tc.report('TEMPLATE_FORBIDDEN', `${forbidden} is not allowed in workflow templates.`, n);
      else tc.report('TEMPLATE_SYNTAX', `unsupported expression "${n.typename}".`, n);
      return undef;
    }
  }
}

function literal(tc: TemplateCompiler, n: NjNode): Ev {
  const v = n.value;
  if (v instanceof RegExp) {
    tc.report(
      'TEMPLATE_FORBIDDEN',
      'regular expression literals (r/.../) are not allowed; use the replace filter with plain text.',
      n,
    );
    return undef;
  }
  return () => v;
}

function group(tc: TemplateCompiler, n: NjNode): Ev {
  const c = n.children ?? [];
  if (c.length === 1) return compileExpression(tc, c[0]);
  return listLiteral(tc, c);
}

/** `[a, b]` (and tuples): charged as a list of its length. */
function listLiteral(tc: TemplateCompiler, nodes: NjNode[]): Ev {
  const els = nodes.map((x) => compileExpression(tc, x));
  const where = `[${nodes.map(exprText).join(', ')}]`;
  return (s) => {
    s.b.list(els.length, where);
    return els.map((e) => nullify(e(s)));
  };
}

function dict(tc: TemplateCompiler, n: NjNode): Ev {
  const entries: Array<[string, Ev]> = [];
  for (const p of n.children ?? []) {
    const k = p.key;
    let key: string | null = null;
    if (k?.typename === 'Symbol' || (k?.typename === 'Literal' && typeof k.value === 'string'))
      key = String(k.value);
    else tc.report('TEMPLATE_SYNTAX', 'object keys must be names or quoted strings.', k ?? p);
    if (key !== null && FORBIDDEN_PROPERTIES.has(key)) {
      tc.report('TEMPLATE_FORBIDDEN', `"${key}" cannot be used as an object key in a template.`, k);
      key = null;
    }
    const ev = compileExpression(tc, p.value as NjNode);
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

function compare(tc: TemplateCompiler, n: NjNode): Ev {
  const first = compileExpression(tc, n.expr);
  const where = exprText(n);
  const ops = (n.ops ?? []).map((o) => ({ type: o.type ?? '==', ev: compileExpression(tc, o.expr) }));
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
