// Branch conditions of list-form conditional nodes (SPEC §1, conditional form 2).
//
// A condition compares the value of the node's condition_field:
// * starting with an operator it is `value <condition>`:
//     "> 100", "<= 5", ">= 2.5", "== 'rgb'", "!= null", "in ['a', 'b']", "not in ['x']"
//   (also accepted, from the original system: "not_in [...]", "contains 'x'", "starts_with 'x'",
//   "ends_with 'x'");
// * otherwise it is a boolean expression (Jinja syntax) over `value` and `output` (the upstream node's
//   output): "value > 10 and value < 20", "output.count > 0", "is_not_null(value)";
// * a single "{{ expr }}" template is accepted too, evaluated over the same two names.
// Literals: 'text' or "text", numbers, true/false/null and Python's True/False/None, [lists].
// Semantics: == and != compare deeply without coercion (1 != '1'; null == missing); <, >, <=, >= need two
// numbers or two strings — anything else (e.g. a string with a number, or null) is an ERROR result, not a
// silent false; `in` finds an element of a list, a substring of a string or a key of an object.
// The result is Jinja truthiness of the expression. A condition that cannot be evaluated returns
// { ok: false } with a message; it never quietly counts as false.
import { BoundedCache } from './template/boundedCache';
import { type Compiled, compileSource } from './template/compileSource';
import { isTemplateString } from './template/compileTemplate';
import { type Dialect } from './template/dialect';
import { evaluate } from './template/evaluate';
import { quoteTemplate } from './template/parseTemplate';
import { State } from './template/state';
import {
  SafeFunction,
  TEMPLATE_FUNCTIONS,
  compareOrder,
  describeValue,
  fail,
  inOperator,
  truthy,
  valuesEqual,
} from './template/templateEnvironment';
import { copyError, toTemplateError } from './template/toTemplateError';
import { TemplateBudget } from './templateBudget';
import { type TemplateError, type TemplateResult } from './templateTypes';

const isNull = (x: unknown): boolean => x === null || x === undefined;

const CONDITION_DIALECT: Dialect = {
  kind: 'condition',
  roots: new Set(['value', 'output']),
  functions: new Map<string, SafeFunction>([
    ...TEMPLATE_FUNCTIONS,
    ['is_null', new SafeFunction('is_null', ['x'], ([x]) => isNull(x))],
    ['is_not_null', new SafeFunction('is_not_null', ['x'], ([x]) => !isNull(x))],
  ]),
  knownNames:
    "Conditions can use value (the condition_field value), output (the upstream node's output), literals ('text', 10, 2.5, true/false/null, True/False/None, [lists]) and is_null(x) / is_not_null(x).",
};

type LeadingOp =
  '==' | '!=' | '<' | '>' | '<=' | '>=' | 'in' | 'not in' | 'contains' | 'starts_with' | 'ends_with';

const W = '(?![A-Za-z0-9_])';
const LEADING_OP = new RegExp(
  `^(===|!==|==|!=|<=|>=|<|>|not\\s+in${W}|not_in${W}|in${W}|contains${W}|starts_with${W}|ends_with${W})`,
);

function normalizeOp(raw: string): LeadingOp {
  if (raw === '===') return '==';
  if (raw === '!==') return '!=';
  if (raw === 'not_in' || /^not\s+in$/.test(raw)) return 'not in';
  return raw as LeadingOp;
}

interface CompiledCondition {
  errors: TemplateError[];
  /** Operator form: the operator and the compiled right-hand side. Expression form: op is null. */
  op: LeadingOp | null;
  compiled: Compiled | null;
}

const cache = new BoundedCache<CompiledCondition>(5_000);

function syntaxError(condition: string, message: string): CompiledCondition {
  return {
    errors: [
      {
        code: 'TEMPLATE_SYNTAX',
        message: `Condition ${quoteTemplate(condition)}: ${message}`,
        template: condition,
      },
    ],
    op: null,
    compiled: null,
  };
}

const EXAMPLES = `write e.g. "> 100", "== 'rgb'", "in ['a', 'b']" or "value > 10 and value < 20"`;

function compileCondition(condition: string): CompiledCondition {
  if (typeof condition !== 'string')
    return syntaxError(String(condition), `a condition must be text; ${EXAMPLES}.`);
  const trimmed = condition.trim();
  const lead = condition.length - condition.trimStart().length;
  if (trimmed === '') return syntaxError(condition, `the condition is empty; ${EXAMPLES}.`);

  let op: LeadingOp | null = null;
  let compiled: Compiled;
  if (isTemplateString(condition)) {
    compiled = compileSource(condition, CONDITION_DIALECT);
    if (compiled.errors.length === 0 && compiled.native === null) {
      return syntaxError(condition, 'a condition written as a template must be a single {{ expression }}.');
    }
  } else {
    const m = LEADING_OP.exec(trimmed);
    let expr = trimmed;
    let shift = lead - 3;
    if (m) {
      op = normalizeOp(m[1] ?? '');
      expr = trimmed.slice(m[0].length);
      shift = lead + m[0].length - 3;
      if (expr.trim() === '') {
        return syntaxError(condition, `"${m[1]}" needs something to compare with, e.g. "${m[1]} 100".`);
      }
    } else if (/^=[^=]/.test(trimmed) || /^=>/.test(trimmed) || /^=<$/.test(trimmed)) {
      return syntaxError(condition, 'to compare, write "==" (equal), ">=" or "<=", not a single "=".');
    }
    compiled = compileSource(`{{ ${expr} }}`, CONDITION_DIALECT, { display: condition, columnShift: shift });
    if (compiled.errors.length === 0 && compiled.native === null) {
      return syntaxError(condition, `it must be one expression; ${EXAMPLES}.`);
    }
  }
  return { errors: [...compiled.errors], op, compiled };
}

function getCondition(condition: string): CompiledCondition {
  const key = typeof condition === 'string' ? condition : String(condition);
  let c = cache.get(key);
  if (c === undefined) {
    c = compileCondition(condition);
    cache.set(key, c);
  }
  return c;
}

function applyOp(op: LeadingOp, left: unknown, right: unknown, where: string, b: TemplateBudget): boolean {
  switch (op) {
    case '==':
      return valuesEqual(left, right, b, where);
    case '!=':
      return !valuesEqual(left, right, b, where);
    case '<':
    case '>':
    case '<=':
    case '>=':
      return compareOrder(op, left, right, where, b);
    case 'in':
      return inOperator(left, right, where, b);
    case 'not in':
      return !inOperator(left, right, where, b);
    case 'contains':
      return inOperator(right, left, where, b);
    case 'starts_with':
    case 'ends_with':
      if (typeof left !== 'string' || typeof right !== 'string') {
        throw fail(
          'TEMPLATE_RUNTIME',
          `${op} needs text on both sides in ${where}, got ${describeValue(left)} and ${describeValue(right)}.`,
        );
      }
      b.scan(right.length, where);
      return op === 'starts_with' ? left.startsWith(right) : left.endsWith(right);
  }
}

/**
 * Evaluates a branch condition against the condition_field `value` (and the upstream `output`).
 * `{ ok: true, value: boolean }`, or `{ ok: false }` when the condition is invalid or cannot be evaluated.
 * The work is charged to `budget` (the node's: TEMPLATE_TOO_EXPENSIVE when it runs out).
 */
export function evaluateCondition(
  condition: string,
  value: unknown,
  output?: unknown,
  budget: TemplateBudget = new TemplateBudget(),
): TemplateResult<boolean> {
  const c = getCondition(condition);
  const first = c.errors[0];
  if (first !== undefined || c.compiled === null) {
    return {
      ok: false,
      error: first
        ? copyError(first)
        : { code: 'TEMPLATE_SYNTAX', message: 'Invalid condition.', template: String(condition) },
    };
  }
  const v = value === undefined ? null : value;
  const state = new State({ value: v, output }, budget);
  try {
    const result = evaluate(c.compiled, state);
    if (c.op === null) return { ok: true, value: truthy(result) };
    return {
      ok: true,
      value: applyOp(c.op, v, result, `condition ${quoteTemplate(condition)}`, budget),
    };
  } catch (e) {
    const err = toTemplateError(e, condition);
    err.template = condition;
    if (!err.message.includes(quoteTemplate(condition)))
      err.message = `Condition ${quoteTemplate(condition)}: ${err.message}`;
    return { ok: false, error: err };
  }
}

/** Load-time check of a branch condition: syntax, forbidden constructs, unknown names. */
export function checkCondition(condition: string): TemplateError[] {
  return getCondition(condition).errors.map(copyError);
}
