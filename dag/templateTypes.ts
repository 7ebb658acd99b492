// Types shared by the template engine (SPEC §3) and the condition evaluator (SPEC §1, conditional form 2).
// Everything here is plain data: results and errors are values, never exceptions across the API.

/** The variables a workflow template can see. */
export interface TemplateContext {
  /** Job inputs after defaults were merged; declared optional inputs that were not given are `null`. */
  inputs: Record<string, unknown>;
  /** Only nodes that exist for this render (completed or skipped upstream). */
  nodes: Record<string, { output: unknown; status: string }>;
  /** `{{ env.NAME }}`: the settings the workflow references (DAG_NAME, else NAME, else null). */
  env?: Record<string, string | null>;
  /** Fan-out children only: the source array element (native JSON value). */
  item?: unknown;
  /** Fan-out children only: the element's position (a number). */
  index?: number;
}

export type TemplateErrorCode =
  | 'TEMPLATE_SYNTAX'
  | 'TEMPLATE_UNDEFINED'
  | 'TEMPLATE_FORBIDDEN'
  | 'TEMPLATE_RUNTIME'
  | 'TEMPLATE_TOO_EXPENSIVE';

/**
 * The limits of a render (docs/templates.md "Limits"): work units, memory, string and list sizes per
 * node are charged deterministically in dag/; `time` and `heap` are the wall-clock and heap bounds of
 * the worker thread that runs expensive renders (activities/), a backstop the budget should never reach.
 */
export type TemplateLimitName = 'work' | 'memory' | 'string' | 'list' | 'time' | 'heap';

export interface TemplateError {
  code: TemplateErrorCode;
  /** What went wrong, where, and what to do about it. */
  message: string;
  /** The template (or condition) source the error belongs to. */
  template: string;
  /** JSON path inside the params, e.g. "params.validation" (set by renderValue / collectTemplates callers). */
  path?: string;
  /** 1-based line inside `template`, when known (syntax errors, forbidden constructs, unknown variables). */
  line?: number;
  /** 1-based column inside that line, when known. */
  column?: number;
  /** TEMPLATE_TOO_EXPENSIVE only: the limit the render reached. */
  limit?: TemplateLimitName;
}

export type TemplateResult<T> = { ok: true; value: T } | { ok: false; error: TemplateError };

/**
 * A variable reference found in a template, e.g. `{{ nodes.prepare.output.echoed_params.item_list }}` gives
 * `{root:'nodes', path:['prepare','output','echoed_params','item_list'], dynamic:false}`.
 * `path` holds the static segments up to the first computed one (`x[expr]`); `dynamic` tells that the
 * chain went on with a computed key, so the path is only a prefix of what is read.
 */
export interface TemplateReference {
  root: string;
  path: string[];
  dynamic: boolean;
}
