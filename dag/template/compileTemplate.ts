// Workflow templates (params, outputs, env): compiled once per distinct string.
import { BoundedCache } from './boundedCache';
import { type Compiled, compileSource } from './compileSource';
import { TEMPLATE_DIALECT } from './dialect';

/** True when a string holds template syntax (`{{` or `{%`); other strings are plain data. */
export function isTemplateString(s: string): boolean {
  return typeof s === 'string' && (s.includes('{{') || s.includes('{%'));
}

const templateCache = new BoundedCache<Compiled>(10_000);

/** The compiled form of a workflow template, compiled once per distinct string. */
export function compileTemplate(src: string): Compiled {
  let c = templateCache.get(src);
  if (c === undefined) {
    c = compileSource(src, TEMPLATE_DIALECT);
    templateCache.set(src, c);
  }
  return c;
}
