// One problem found in a workflow file, with where it is and how to fix it. Validation collects all
// of them at once (a user fixing a file should see every problem in one run).

export type IssuePath = ReadonlyArray<string | number>;

export interface WorkflowIssue {
  /** A short machine-readable code, e.g. `unknown_key`, `cycle`, `unknown_handler`. */
  code: string;
  /** The YAML path of the offending value, e.g. `['nodes', 'echo', 'handler']`. */
  path: IssuePath;
  message: string;
  /** What to do about it. */
  hint?: string;
  /** A warning does not stop the workflow from running (default: an error). */
  severity?: 'warning';
  file?: string;
  /** 1-based line and column of the offending value in the file, when known. */
  line?: number;
  col?: number;
}

export function formatPath(path: IssuePath): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(p)) out += out ? `.${p}` : p;
    else out += `[${JSON.stringify(p)}]`;
  }
  return out || '(document)';
}

/** `file:line:col: path: message (hint)` — the format editors and CI annotate. */
export function formatIssue(issue: WorkflowIssue): string {
  const where = `${issue.file ?? '<workflow>'}:${issue.line ?? 1}:${issue.col ?? 1}`;
  const hint = issue.hint ? ` (${issue.hint})` : '';
  const level = issue.severity === 'warning' ? 'warning: ' : '';
  return `${where}: ${level}${formatPath(issue.path)}: ${issue.message}${hint}`;
}
