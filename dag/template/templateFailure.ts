// The failure thrown inside a template evaluation; converted to a TemplateResult at the API boundary
// (renderTemplate.ts, evaluateCondition.ts), so nothing throws across the template API.
import { type TemplateErrorCode, type TemplateLimitName } from '../templateTypes';

export class TemplateFailure extends Error {
  readonly code: TemplateErrorCode;
  /** Path segments (keys/indices) from the renderValue root to the failing string, filled while unwinding. */
  readonly segments: Array<string | number> = [];
  /** The template being evaluated, filled in by the renderer. */
  template?: string;
  line?: number;
  column?: number;
  /** For TEMPLATE_TOO_EXPENSIVE: the limit that stopped the render. */
  limit?: TemplateLimitName;

  constructor(code: TemplateErrorCode, message: string, line?: number, column?: number) {
    super(message);
    this.code = code;
    if (line !== undefined) this.line = line;
    if (column !== undefined) this.column = column;
  }
}

export function fail(code: TemplateErrorCode, message: string): TemplateFailure {
  return new TemplateFailure(code, message);
}
