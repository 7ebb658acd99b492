// Running a compiled template.
import { type Compiled } from './compileSource';
import { type State } from './state';

/** Runs a compiled template against a state. Throws TemplateFailure (callers convert it). */
export function evaluate(c: Compiled, s: State): unknown {
  s.reset();
  if (c.native !== null) return c.native(s);
  if (c.body !== null) {
    c.body(s);
    const out = s.buf;
    s.buf = '';
    return out;
  }
  return null;
}
