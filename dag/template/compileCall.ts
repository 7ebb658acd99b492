// Compiling filters (`x | name(args)`), tests (`x is name(args)`) and function calls (`range(3)`): names and
// literal arguments are checked at load time; at render time arguments are evaluated, checked and charged.
import { type NjNode } from './parseTemplate';
import { compileExpression } from './compileExpression';
import { compileSymbol } from './compileLookup';
import { compileCapture } from './compileStatement';
import { type TemplateCompiler, didYouMean } from './compiler';
import { exprText } from './exprText';
import { notAFunction, wrapForeign } from './operators';
import { type Ev, undef } from './state';
import { FORBIDDEN_PROPERTIES, SafeFunction, describeValue, fail } from './templateEnvironment';
import { type FilterSpec } from './filterArguments';
import { FILTERS, FORBIDDEN_FILTERS } from './templateFilters';
import { TESTS } from './templateTests';

/** Splits call arguments into positional evaluators and keyword evaluators (by name). */
function callArgs(
  tc: TemplateCompiler,
  nodes: NjNode[],
  what: string,
): { pos: Ev[]; kw: Array<[string, Ev]> } {
  const pos: Ev[] = [];
  const kw: Array<[string, Ev]> = [];
  for (const a of nodes) {
    if (a.typename === 'KeywordArgs') {
      for (const p of a.children ?? []) {
        const value = p.value as NjNode | undefined;
        if (value?.typename === 'Caller') {
          tc.report('TEMPLATE_FORBIDDEN', '{% call %} is not allowed in workflow templates.', value);
          continue;
        }
        if (p.key?.typename !== 'Symbol') {
          tc.report(
            'TEMPLATE_SYNTAX',
            `keyword arguments of ${what} must be written name=value.`,
            p.key ?? p,
          );
          continue;
        }
        kw.push([String(p.key.value), compileExpression(tc, value)]);
      }
    } else {
      pos.push(compileExpression(tc, a));
    }
  }
  return { pos, kw };
}

export function compileFilter(tc: TemplateCompiler, n: NjNode): Ev {
  const name = String(n.name?.value ?? '');
  const [valueNode, ...rest] = n.args?.children ?? [];
  const spec: FilterSpec | undefined = FILTERS.get(name);
  if (!spec) {
    const why = FORBIDDEN_FILTERS.get(name);
    if (why) tc.report('TEMPLATE_FORBIDDEN', `the "${name}" filter is not available: ${why}.`, n.name ?? n);
    else
      tc.report(
        'TEMPLATE_SYNTAX',
        `unknown filter "${name}".${didYouMean(name, FILTERS.keys())}`,
        n.name ?? n,
      );
    return undef;
  }
  const valueEv =
    valueNode?.typename === 'Capture' ? compileCapture(tc, valueNode) : compileExpression(tc, valueNode);
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
    tc.report(
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
    tc.report(
      'TEMPLATE_FORBIDDEN',
      `"${badAttr}" cannot be read in a template (it would reach the JavaScript runtime).`,
      attrNode,
    );
  }
  const { pos, kw } = callArgs(tc, rest, what);
  const nParams = spec.params.length;
  if (pos.length > nParams) {
    tc.report(
      'TEMPLATE_SYNTAX',
      `${what} takes at most ${nParams} argument(s), got ${pos.length}.`,
      n.name ?? n,
    );
  }
  const kwIdx: Array<[number, Ev]> = [];
  for (const [k, e] of kw) {
    const i = spec.params.indexOf(k);
    if (i < 0) {
      tc.report(
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

export function compileIsTest(tc: TemplateCompiler, n: NjNode): Ev {
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
  const left = compileExpression(tc, n.left);
  if (name === null) {
    tc.report(
      'TEMPLATE_SYNTAX',
      `"is" must be followed by a test name (e.g. "is defined", "is none").`,
      right ?? n,
    );
    return undef;
  }
  const spec = TESTS.get(name);
  if (!spec) {
    tc.report('TEMPLATE_SYNTAX', `unknown test "${name}".${didYouMean(name, TESTS.keys())}`, right ?? n);
    return undef;
  }
  const what = `the ${name} test`;
  const { pos, kw } = callArgs(tc, argNodes, what);
  if (pos.length > spec.params.length) {
    tc.report('TEMPLATE_SYNTAX', `${what} takes at most ${spec.params.length} argument(s).`, right ?? n);
  }
  const kwIdx: Array<[number, Ev]> = [];
  for (const [k, e] of kw) {
    const i = spec.params.indexOf(k);
    if (i < 0) tc.report('TEMPLATE_SYNTAX', `${what} has no argument named "${k}".`, right ?? n);
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

export function compileCall(tc: TemplateCompiler, n: NjNode): Ev {
  const callee = n.name;
  const argNodes = n.args?.children ?? [];
  const isCallBlock = argNodes.some(
    (a) =>
      a.typename === 'KeywordArgs' &&
      (a.children ?? []).some((p) => (p.value as NjNode | undefined)?.typename === 'Caller'),
  );
  if (!callee) {
    tc.report('TEMPLATE_SYNTAX', 'a function name is missing before "(".', n);
    return undef;
  }
  if (isCallBlock) {
    tc.report('TEMPLATE_FORBIDDEN', '{% call %} is not allowed in workflow templates (no macros).', n);
    return undef;
  }
  if (callee?.typename !== 'Symbol') {
    // Method calls (x.upper(), x.items(), range.constructor(...)()) do not exist: data has no methods.
    // Compile the callee anyway so that its own problems (e.g. "constructor") are reported first.
    compileExpression(tc, callee);
    tc.report(
      'TEMPLATE_FORBIDDEN',
      `"${exprText(n)}" calls a method, and templates can only call ${[...tc.dialect.functions.keys()].map((f) => `${f}()`).join(', ')}: data has no methods. Use a filter instead, e.g. {{ x | upper }}.`,
      n,
    );
    // Still walk the arguments so their own problems are reported.
    callArgs(tc, argNodes, 'the call');
    return undef;
  }
  const name = String(callee.value);
  const fn = compileSymbol(tc, callee, true);
  const { pos, kw } = callArgs(tc, argNodes, `${name}()`);
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
