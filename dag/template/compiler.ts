// The state of compiling one template: the problems found, the variable references the validator needs,
// the names bound by {% for %} / {% set %} in scope, and the expression count statements are charged by.
// The compile*.ts files walk the nunjucks AST and report through it.
import { suggest } from '../suggest';
import { type TemplateError, type TemplateErrorCode, type TemplateReference } from '../templateTypes';
import { type Dialect } from './dialect';
import { type NjNode, position, quoteTemplate } from './parseTemplate';
import { FORBIDDEN_NAMES, FORBIDDEN_PROPERTIES } from './templateEnvironment';

export class TemplateCompiler {
  readonly errors: TemplateError[] = [];
  /** Expression nodes compiled so far: the work units a statement is charged each time it runs. */
  exprCount = 0;
  private readonly refs = new Map<string, TemplateReference>();
  readonly scopes: Array<Set<string>> = [new Set()];

  constructor(
    readonly dialect: Dialect,
    readonly display: string,
    private readonly columnShift: number,
  ) {}

  references(): TemplateReference[] {
    return [...this.refs.values()];
  }

  // ---- diagnostics -------------------------------------------------------------------------------------

  report(code: TemplateErrorCode, what: string, n: NjNode | undefined): void {
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

  /** True when {% for %} or {% set %} bound the name in an enclosing scope. */
  declared(name: string): boolean {
    for (let i = this.scopes.length - 1; i >= 0; i--) if (this.scopes[i]?.has(name)) return true;
    return false;
  }

  declare(name: string): void {
    this.scopes[this.scopes.length - 1]?.add(name);
  }

  /** Records a variable reference once (root, static path, whether a computed key follows). */
  addRef(root: string, path: string[], dynamic: boolean): void {
    const key = `${root}\u0000${path.join('\u0000')}\u0000${dynamic ? 1 : 0}`;
    if (!this.refs.has(key)) this.refs.set(key, { root, path, dynamic });
  }

  /** The name a {% for %} / {% set %} binds, or null (reported) when it is not a plain, allowed name. */
  bindingName(n: NjNode | undefined, what: string): string | null {
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
}

/** ` Did you mean "x"?` for a misspelt name, or ''. The same suggestion YAML keys get (suggest.ts). */
export function didYouMean(name: string, candidates: Iterable<string>): string {
  const best = suggest(name, candidates);
  return best === undefined ? '' : ` Did you mean "${best}"?`;
}
