// Compiles a template (its nunjucks AST) into closures, once per template string, and checks it on the way:
// syntax, forbidden constructs, unknown variables, and the variable references the validator needs.
// See templateEnvironment.ts for the sandbox this relies on.
import { type TemplateError, type TemplateReference } from '../templateTypes';
import { compileRoot } from './compileStatement';
import { TemplateCompiler } from './compiler';
import { type Dialect } from './dialect';
import { parseTemplate, quoteTemplate } from './parseTemplate';
import { type Ev, type St } from './state';

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
  const c = new TemplateCompiler(dialect, display, options.columnShift ?? 0);
  try {
    const { native, body } = compileRoot(c, parsed.root);
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
