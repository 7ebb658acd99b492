// YAML text → a validated workflow and its plan, or every problem with its file:line:col.
import { compilePlan, type Plan } from './compilePlan';
import { parseWorkflow } from './parseWorkflow';
import { queueWarnings } from './queueWarnings';
import { validateWorkflow, type ValidateOptions } from './validateWorkflow';
import { artifactsOf } from './workflowArtifacts';
import type { WorkflowIssue } from './workflowIssue';
import type { Workflow } from './workflowModel';

export interface LoadedWorkflow {
  file?: string;
  /** Present when the file parsed (even if semantic checks found problems). */
  workflow?: Workflow;
  /** Present only when there are no issues: the workflow can run. */
  plan?: Plan;
  issues: WorkflowIssue[];
  /** Problems that do not stop the workflow from running (e.g. a queue no worker consumes). */
  warnings?: WorkflowIssue[];
}

export function loadWorkflow(
  text: string,
  file: string | undefined,
  options: ValidateOptions = {},
): LoadedWorkflow {
  const parsed = parseWorkflow(text, file);
  if (!parsed.workflow) return { file, issues: sortIssues(parsed.issues) };
  // A built-in default becomes part of the workflow, so jobs pin it with their snapshot.
  const artifacts = artifactsOf(parsed.workflow);
  if (artifacts) parsed.workflow = { ...parsed.workflow, artifacts };
  const semantic = validateWorkflow(parsed.workflow, options).map((i) => ({
    ...i,
    file,
    ...parsed.locate(i.path, i.code === 'unknown_key'),
  }));
  const issues = sortIssues([...parsed.issues, ...semantic]);
  const warnings = sortIssues(
    [...queueWarnings(parsed.workflow, options), ...deprecationWarnings(parsed.workflow)].map((w) => ({
      ...w,
      file,
      ...parsed.locate(w.path, false),
    })),
  );
  const extra = warnings.length ? { warnings } : {};
  return issues.length
    ? { file, workflow: parsed.workflow, issues, ...extra }
    : { file, workflow: parsed.workflow, plan: compilePlan(parsed.workflow), issues, ...extra };
}

function sortIssues(issues: WorkflowIssue[]): WorkflowIssue[] {
  return [...issues].sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0));
}

/** Forms of the original that still work but have a better place now. */
function deprecationWarnings(workflow: Workflow): Array<Omit<WorkflowIssue, 'file' | 'line' | 'col'>> {
  const out: Array<Omit<WorkflowIssue, 'file' | 'line' | 'col'>> = [];
  for (const [id, n] of Object.entries(workflow.nodes)) {
    if (n.type !== 'fan_out' || n.retry === undefined) continue;
    out.push({
      code: 'deprecated',
      severity: 'warning',
      path: ['nodes', id, 'retry'],
      message: n.task.retry
        ? "retry on a fan_out node is deprecated and ignored here: task.retry sets the children's retry"
        : "retry on a fan_out node is deprecated: it sets the children's retry, as in the original system",
      hint: 'move it to task.retry',
    });
  }
  return out;
}
