// Parsing a template with nunjucks' lexer and parser (only its parser: see templateEnvironment.ts for why),
// and the syntax messages a workflow author can act on.
import nunjucks from 'nunjucks';
import { type TemplateErrorCode } from '../templateTypes';

/** The subset of the nunjucks AST node shape we read (see node_modules/nunjucks/src/nodes.js). */
export interface NjNode {
  typename: string;
  lineno: number;
  colno: number;
  value?: unknown;
  children?: NjNode[];
  target?: NjNode;
  val?: NjNode;
  left?: NjNode;
  right?: NjNode;
  cond?: NjNode;
  body?: NjNode;
  else_?: NjNode | null;
  arr?: NjNode;
  name?: NjNode;
  args?: NjNode;
  key?: NjNode;
  expr?: NjNode;
  ops?: NjNode[];
  type?: string;
  targets?: NjNode[];
  cases?: NjNode[];
  default?: NjNode | null;
}

interface NunjucksParserModule {
  parse(src: string, extensions?: unknown[], opts?: Record<string, unknown>): NjNode;
}

// The parser is exported by nunjucks' index.js but not declared by @types/nunjucks.
const parser = (nunjucks as unknown as { parser: NunjucksParserModule }).parser;

export type ParseResult =
  | { ok: true; root: NjNode }
  | { ok: false; code: TemplateErrorCode; message: string; line?: number; column?: number };

const TOKEN_NAMES: Record<string, string> = {
  'variable-end': '"}}"',
  'variable-start': '"{{"',
  'block-end': '"%}"',
  'block-start': '"{%"',
  'left-paren': '"("',
  'right-paren': '")"',
  'left-bracket': '"["',
  'right-bracket': '"]"',
  'left-curly': '"{"',
  'right-curly': '"}"',
  comma: '","',
  colon: '":"',
  pipe: '"|"',
  tilde: '"~"',
  operator: 'an operator',
  string: 'a string',
  int: 'a number',
  float: 'a number',
  boolean: 'true/false',
  none: 'none',
  symbol: 'a name',
  data: 'text',
};

function tokenName(t: string): string {
  return TOKEN_NAMES[t] ?? `"${t}"`;
}

/** Turns nunjucks' parser messages into ones a workflow author can act on. */
function friendlySyntaxMessage(raw: string, src: string, line?: number, column?: number): string {
  let m = raw.replace(/^parse\w*: /, '');
  let r: RegExpMatchArray | null;
  if ((r = /^expected (\S+), got (\S+)$/.exec(m))) {
    const before = line !== undefined && column !== undefined ? textBefore(src, line, column) : '';
    if (r[1] === 'symbol' && /\|\s*$/.test(before))
      m = `expected a filter name after "|", got ${tokenName(r[2] ?? '')}`;
    else m = `expected ${tokenName(r[1] ?? '')}, got ${tokenName(r[2] ?? '')}`;
  } else if (m === 'expected variable end') {
    m = 'expected "}}" to end the expression (is an operator, a quote or a bracket missing?)';
  } else if ((r = /^unexpected token: (.*)$/.exec(m))) {
    m = `unexpected "${r[1] ?? ''}" (is an operand missing?)`;
  } else if ((r = /^unknown block tag: (.*)$/.exec(m))) {
    m = `unknown tag {% ${r[1] ?? ''} %}`;
  } else if (m === 'expected comma after expression') {
    m = 'expected "," or a closing bracket';
  } else if (/^expected elif, else, or endif, got end of file$/.test(m)) {
    m = '{% if %} is not closed by {% endif %}';
  } else if (m === 'expected end of comment, got end of file') {
    m = 'comment "{#" is not closed by "#}"';
  } else if (/^Invalid regular expression/.test(raw)) {
    m = raw;
  }
  return m;
}

function textBefore(src: string, line: number, column: number): string {
  const lines = src.split('\n');
  return (lines[line - 1] ?? '').slice(0, column - 1);
}

export function quoteTemplate(src: string): string {
  const s = src.length > 120 ? `${src.slice(0, 120)}…` : src;
  return JSON.stringify(s);
}

export function position(src: string, line: number | undefined, column: number | undefined): string {
  if (line === undefined) return '';
  const multiline = src.includes('\n');
  if (column === undefined) return ` at line ${line}`;
  return multiline ? ` at line ${line}, column ${column}` : ` at column ${column}`;
}

/**
 * Parses a template with nunjucks. Never throws. `display` is the text errors quote (a condition is parsed
 * wrapped in `{{ }}` but reported as written) and `columnShift` corrects first-line columns for it.
 */
export function parseTemplate(src: string, display: string = src, columnShift = 0): ParseResult {
  try {
    return { ok: true, root: parser.parse(src) };
  } catch (e) {
    const err = e as { message?: unknown; lineno?: unknown; colno?: unknown };
    const raw = typeof err.message === 'string' ? err.message : String(e);
    const line = typeof err.lineno === 'number' ? err.lineno : undefined;
    let column = typeof err.colno === 'number' ? err.colno : undefined;
    const noun = display === src ? 'Template' : 'Condition';
    if (e instanceof RangeError) {
      return {
        ok: false,
        code: 'TEMPLATE_SYNTAX',
        message: `${noun} ${quoteTemplate(display)} is nested too deeply to be parsed. Simplify the expression.`,
      };
    }
    if (/^Invalid regular expression/.test(raw) || /^Invalid flags supplied to RegExp/.test(raw)) {
      return {
        ok: false,
        code: 'TEMPLATE_FORBIDDEN',
        message: `${noun} ${quoteTemplate(display)} uses a regular expression literal (r/.../), which is not allowed in workflow templates. Use the replace filter with plain text.`,
      };
    }
    const msg = friendlySyntaxMessage(raw, src, line, column);
    if (column !== undefined && line === 1) column = Math.max(1, column + columnShift);
    const out: ParseResult = {
      ok: false,
      code: 'TEMPLATE_SYNTAX',
      message: `${noun} syntax error in ${quoteTemplate(display)}${position(display, line, column)}: ${msg}. Check the Jinja syntax.`,
    };
    if (line !== undefined) out.line = line;
    if (column !== undefined) out.column = column;
    return out;
  }
}
