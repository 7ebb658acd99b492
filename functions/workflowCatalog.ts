// Loads the workflows of DAG_WORKFLOWS_DIR (*.yaml, *.yml). An invalid file is reported and does
// not stop the others from loading (SPEC §1); two files with the same workflow_id are a problem of
// the second one.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { loadWorkflow, type LoadedWorkflow } from '../dag/loadWorkflow';
import type { ValidateOptions } from '../dag/validateWorkflow';

export interface WorkflowCatalog {
  /** Valid workflows by id. */
  workflows: Map<string, LoadedWorkflow>;
  /** Every file that was read, valid or not. */
  files: LoadedWorkflow[];
}

export function listWorkflowFiles(target: string): string[] {
  const st = statSync(target);
  if (!st.isDirectory()) return [target];
  return readdirSync(target)
    .filter((f) => /\.ya?ml$/i.test(f))
    .sort()
    .map((f) => path.join(target, f));
}

export function loadWorkflowFiles(files: readonly string[], options: ValidateOptions): WorkflowCatalog {
  const workflows = new Map<string, LoadedWorkflow>();
  const loaded: LoadedWorkflow[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      loaded.push({
        file,
        issues: [
          {
            code: 'unreadable',
            path: [],
            file,
            line: 1,
            col: 1,
            message: `cannot read the file: ${(err as Error).message}`,
          },
        ],
      });
      continue;
    }
    const lw = loadWorkflow(text, file, options);
    const id = lw.workflow?.workflow_id;
    if (id !== undefined && workflows.has(id)) {
      lw.issues.push({
        code: 'duplicate_workflow_id',
        path: ['workflow_id'],
        file,
        line: 1,
        col: 1,
        message: `workflow_id "${id}" is already defined in ${workflows.get(id)!.file}`,
        hint: 'give each workflow file its own workflow_id',
      });
      delete lw.plan;
    }
    loaded.push(lw);
    if (id !== undefined && lw.plan) workflows.set(id, lw);
  }
  return { workflows, files: loaded };
}

export function loadWorkflowDirectory(dir: string, options: ValidateOptions): WorkflowCatalog {
  let files: string[];
  try {
    files = listWorkflowFiles(dir);
  } catch (err) {
    return {
      workflows: new Map(),
      files: [
        {
          file: dir,
          issues: [
            {
              code: 'unreadable',
              path: [],
              file: dir,
              line: 1,
              col: 1,
              message: `cannot read the workflows directory: ${(err as Error).message}`,
            },
          ],
        },
      ],
    };
  }
  return loadWorkflowFiles(files, options);
}
