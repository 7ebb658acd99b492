// Load-time inspection of workflow templates: syntax errors, forbidden constructs (TEMPLATE_FORBIDDEN),
// unknown variables (TEMPLATE_UNDEFINED) and every variable reference with its static path, so the
// validator can check inputs are declared, nodes are upstream, and item/index appear only in fan-out params.
import { compileTemplate, isTemplateString as isTemplate } from './template/compileTemplate';
import { isPlainObject } from './template/templateEnvironment';
import { copyError } from './template/toTemplateError';
import { joinPath } from './renderTemplate';
import { type TemplateError, type TemplateReference } from './templateTypes';

/** True when a string contains `{{` or `{%`, i.e. is rendered as a template. */
export function isTemplateString(s: string): boolean {
  return isTemplate(s);
}

/**
 * Problems and references of one template. A string that is not a template has neither. References are
 * de-duplicated, in order of appearance; names bound by {% for %} / {% set %} are not references.
 */
export function inspectTemplate(template: string): {
  errors: TemplateError[];
  references: TemplateReference[];
} {
  if (!isTemplate(template)) return { errors: [], references: [] };
  const c = compileTemplate(template);
  return {
    errors: c.errors.map(copyError),
    references: c.references.map((r) => ({ root: r.root, path: [...r.path], dynamic: r.dynamic })),
  };
}

/**
 * Every template string inside nested params, with its JSON path (same format as renderValue's error
 * paths: `a.b[0]["key.with.dots"]`, prefixed by `path` when given; "" for a template at the root).
 * Object keys are never templates.
 */
export function collectTemplates(value: unknown, path?: string): Array<{ path: string; template: string }> {
  const out: Array<{ path: string; template: string }> = [];
  const visit = (v: unknown, segs: Array<string | number>): void => {
    if (typeof v === 'string') {
      if (isTemplate(v)) out.push({ path: joinPath(path, segs) ?? '', template: v });
    } else if (Array.isArray(v)) {
      v.forEach((el: unknown, i) => visit(el, [...segs, i]));
    } else if (isPlainObject(v)) {
      for (const k of Object.keys(v)) visit(v[k], [...segs, k]);
    }
  };
  visit(value, []);
  return out;
}
