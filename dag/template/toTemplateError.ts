// Template errors handed out to callers: copies of cached load-time errors, and runtime failures converted.
import { type TemplateError } from '../templateTypes';
import { quoteTemplate } from './parseTemplate';
import { TemplateFailure } from './templateEnvironment';

/** A copy of a (cached) error, safe to hand out. */
export function copyError(e: TemplateError): TemplateError {
  return { ...e };
}

/** Converts whatever an evaluation threw into a TemplateError. */
export function toTemplateError(e: unknown, template: string): TemplateError {
  if (e instanceof TemplateFailure) {
    const err: TemplateError = { code: e.code, message: e.message, template: e.template ?? template };
    if (e.line !== undefined) err.line = e.line;
    if (e.column !== undefined) err.column = e.column;
    if (e.limit !== undefined) err.limit = e.limit;
    return err;
  }
  const msg =
    e instanceof RangeError
      ? 'the data is nested too deeply or is too large'
      : e instanceof Error
        ? e.message
        : String(e);
  return {
    code: 'TEMPLATE_RUNTIME',
    message: `Template ${quoteTemplate(template)} failed: ${msg}.`,
    template,
  };
}
