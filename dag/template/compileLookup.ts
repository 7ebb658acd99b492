// Compiling variable reads: a top-level name (template roots, constants, functions, loop/set variables)
// and `a.b[c].d` chains. Here the validator's references are recorded: the root and the static path up
// to the first computed key.
import { type NjNode } from './parseTemplate';
import { compileExpression } from './compileExpression';
import { type TemplateCompiler, didYouMean } from './compiler';
import { IDENT, exprText, literalText } from './exprText';
import { type Ev, NOT_FOUND, undef } from './state';
import {
  CONSTANTS,
  FORBIDDEN_NAMES,
  FORBIDDEN_PROPERTIES,
  type TemplateFailure,
  fail,
  memberLookup,
} from './templateEnvironment';

/** A top-level name. `withRef` is false when the caller records a longer reference itself. */
export function compileSymbol(tc: TemplateCompiler, n: NjNode, withRef: boolean): Ev {
  const name = String(n.value);
  if (FORBIDDEN_NAMES.has(name)) {
    tc.report(
      'TEMPLATE_FORBIDDEN',
      `"${name}" is not available: templates cannot reach the JavaScript runtime. ${tc.dialect.knownNames}`,
      n,
    );
    return undef;
  }
  const isLocal = tc.declared(name);
  let fallback: Ev;
  if (tc.dialect.roots.has(name)) {
    if (!isLocal && withRef) tc.addRef(name, [], false);
    fallback = (s) => s.roots[name];
  } else if (CONSTANTS.has(name)) {
    const c = CONSTANTS.get(name);
    fallback = () => c;
  } else if (tc.dialect.functions.has(name)) {
    const f = tc.dialect.functions.get(name);
    fallback = () => f;
  } else if (isLocal) {
    fallback = undef;
  } else {
    const hint =
      tc.dialect.kind === 'condition' && IDENT.test(name)
        ? ` For a field of the upstream output write output.${name}; for text, quote it: '${name}'.`
        : didYouMean(name, [...tc.dialect.roots, ...tc.dialect.functions.keys()]);
    tc.report('TEMPLATE_UNDEFINED', `unknown variable "${name}".${hint} ${tc.dialect.knownNames}`, n);
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
export function compileLookup(tc: TemplateCompiler, n: NjNode): Ev {
  const segs: NjNode[] = [];
  let root: NjNode = n;
  while (root.typename === 'LookupVal') {
    if (!root.val) {
      tc.report('TEMPLATE_SYNTAX', 'an index is missing inside "[]".', root);
      return undef;
    }
    if (!root.target) {
      // nunjucks accepts e.g. "{{ ,.x }}" and builds a lookup without a target.
      tc.report(
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
    if (tc.dialect.roots.has(name) && !tc.declared(name)) rootName = name;
    rootEv = compileSymbol(tc, root, false);
  } else {
    rootEv = compileExpression(tc, root);
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
    tc.addRef(rootName, prefix, dynamic);
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
        tc.report(
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
      dyn[i] = compileExpression(tc, seg);
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
