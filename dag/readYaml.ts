// The one YAML reader of the project: js-yaml with the YAML 1.2 core schema (what the original's
// files need: PyYAML wrote no 1.1-only forms into them). It reads a 1,000-node workflow ~20x
// faster than the `yaml` library's syntax tree (12 ms against 230 ms on 333 KB), which is what
// keeps validation under its 200 ms target; positions for problems come from yamlLocator.
import jsYaml from 'js-yaml';
import { positionAt, type SourcePosition } from './yamlLocator';

/** Aliases may not grow a document past what an alias-free workflow of the size limit could hold. */
export const MAX_EXPANDED_VALUES = 200_000;

export type YamlRead =
  | { ok: true; value: unknown }
  | ({ ok: false; code: 'yaml_syntax' | 'too_deep'; message: string; hint?: string } & SourcePosition);

// An alias is "*name" where a node can start: the only way a document can share a value.
const ALIAS = /(^|[\s[{,:-])\*/m;

export function readYaml(text: string): YamlRead {
  let value: unknown;
  try {
    value = jsYaml.load(text, { schema: jsYaml.CORE_SCHEMA }) ?? null;
  } catch (err) {
    if (err instanceof RangeError)
      return {
        ok: false,
        code: 'too_deep',
        message: 'the YAML is nested too deeply to be a workflow',
        line: 1,
        col: 1,
      };
    if (err instanceof jsYaml.YAMLException) return syntaxError(text, err);
    throw err;
  }
  if (!ALIAS.test(text)) return { ok: true, value };
  // js-yaml shares one object between an anchor and its aliases, and lets an alias point into its
  // own anchor. Downstream code walks and copies values as trees: expand them into one, bounded.
  const expanded = expandAliases(value);
  if (typeof expanded === 'string')
    return {
      ok: false,
      code: 'yaml_syntax',
      message: `the YAML could not be read: ${expanded}`,
      hint: 'check aliases (*name) and anchors (&name)',
      line: 1,
      col: 1,
    };
  return { ok: true, value: expanded.value };
}

function syntaxError(text: string, err: jsYaml.YAMLException): YamlRead {
  // js-yaml finds a missing closing quote at the end of the text; point at where the quote opens.
  const quote = /within a (double|single) quoted scalar/.exec(err.reason)?.[1];
  const opened = quote ? unterminatedQuote(text) : undefined;
  const at =
    opened !== undefined
      ? positionAt(text, opened)
      : { line: (err.mark?.line ?? 0) + 1, col: (err.mark?.column ?? 0) + 1 };
  return {
    ok: false,
    code: 'yaml_syntax',
    message: `YAML syntax error: ${opened !== undefined ? `the ${quote} quote opened here is never closed` : err.reason}`,
    hint: 'fix the YAML syntax (indentation, quotes, colons)',
    ...at,
  };
}

/** A tree copy of a value whose objects may be shared or cyclic; a message when it cannot be one. */
function expandAliases(root: unknown): { value: unknown } | string {
  let count = 0;
  const onPath = new Set<object>();
  const copy = (v: unknown): unknown => {
    if (++count > MAX_EXPANDED_VALUES)
      throw new AliasProblem(`its aliases expand to more than ${MAX_EXPANDED_VALUES} values`);
    if (v === null || typeof v !== 'object') return v;
    if (onPath.has(v)) throw new AliasProblem('an alias refers to a node that contains it (a cycle)');
    onPath.add(v);
    try {
      if (Array.isArray(v)) return v.map(copy);
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v))
        Object.defineProperty(out, k, {
          value: copy(x),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      return out;
    } finally {
      onPath.delete(v);
    }
  };
  try {
    return { value: copy(root) };
  } catch (err) {
    if (err instanceof AliasProblem) return err.message;
    throw err;
  }
}

class AliasProblem extends Error {}

/**
 * The offset of a quoted scalar that runs to the end of the text, if any: a small scanner that knows
 * comments, the escapes of double-quoted ("\"") and single-quoted ('') scalars, and that a quote
 * opens a scalar only where a value can start.
 */
export function unterminatedQuote(text: string): number | undefined {
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '#' && (i === 0 || /\s/.test(text[i - 1]!))) {
      const nl = text.indexOf('\n', i);
      if (nl < 0) return undefined;
      i = nl + 1;
      continue;
    }
    if ((c === '"' || c === "'") && (i === 0 || /[\s:\-[{,]/.test(text[i - 1]!))) {
      const start = i;
      i++;
      for (;;) {
        if (i >= text.length) return start;
        const d = text[i]!;
        if (c === '"' && d === '\\') i += 2;
        else if (d === c && c === "'" && text[i + 1] === "'") i += 2;
        else if (d === c) break;
        else i++;
      }
    }
    i++;
  }
  return undefined;
}
