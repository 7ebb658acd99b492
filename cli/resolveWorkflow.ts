// `run`'s target: a workflow file, or a workflow id looked up in DAG_WORKFLOWS_DIR. Every way it can
// be wrong says what is wrong with it (a file that does not exist is not "no valid workflow").
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type { LoadedWorkflow } from '../dag/loadWorkflow';
import { didYouMean } from '../dag/suggest';
import type { ValidateOptions } from '../dag/validateWorkflow';
import type { WorkflowIssue } from '../dag/workflowIssue';
import { listWorkflowFiles, loadWorkflowFiles } from '../functions/workflowCatalog';

export type ResolvedWorkflow =
  | { ok: true; workflowId: string; loaded: LoadedWorkflow; file?: string }
  | { ok: false; message: string; issues: WorkflowIssue[] };

const looksLikeFile = (t: string) => t.includes('/') || t.includes(path.sep) || /\.ya?ml$/i.test(t);

export function resolveWorkflow(
  target: string,
  workflowsDir: string,
  options: ValidateOptions,
): ResolvedWorkflow {
  if (existsSync(target)) {
    const st = statSync(target);
    if (st.isDirectory()) {
      return {
        ok: false,
        message: `${target} is a directory: name one workflow file in it, or a workflow id (dagmaster validate checks a whole directory)`,
        issues: [],
      };
    }
    const loaded = loadWorkflowFiles([target], options).files[0]!;
    if (!loaded.plan)
      return { ok: false, message: `${target} is not a valid workflow`, issues: loaded.issues };
    return { ok: true, workflowId: loaded.workflow!.workflow_id, loaded, file: target };
  }
  if (looksLikeFile(target)) {
    return { ok: false, message: `the workflow file ${target} does not exist`, issues: [] };
  }
  if (!existsSync(workflowsDir)) {
    return {
      ok: false,
      message: `"${target}" is not a file, and the workflows directory ${workflowsDir} (DAG_WORKFLOWS_DIR) does not exist`,
      issues: [],
    };
  }
  const catalog = loadWorkflowFiles(listWorkflowFiles(workflowsDir), options);
  const loaded = catalog.workflows.get(target);
  if (loaded) return { ok: true, workflowId: target, loaded };
  const invalid = catalog.files.find((x) => x.workflow?.workflow_id === target);
  if (invalid) {
    return {
      ok: false,
      message: `workflow "${target}" (${invalid.file}) is not valid`,
      issues: invalid.issues,
    };
  }
  const hint = didYouMean(target, catalog.workflows.keys());
  return {
    ok: false,
    message: `there is no workflow "${target}" in ${workflowsDir}${hint ? ` (${hint})` : ''}, and no file of that name`,
    issues: [],
  };
}
