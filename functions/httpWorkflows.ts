// /api/workflows: every workflow file with its validation status, and one definition by id.
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { AppError } from './appError';
import type { LoadedWorkflow } from '../dag/loadWorkflow';
import { didYouMean } from '../dag/suggest';
import { formatIssue, type WorkflowIssue } from '../dag/workflowIssue';
import { json, param } from './http';
import { services } from './services';
import path from 'node:path';

function located(i: WorkflowIssue) {
  const file = i.file ? path.basename(i.file) : undefined;
  return { ...i, file, text: formatIssue({ ...i, file }) };
}

function summary(f: LoadedWorkflow) {
  const wf = f.workflow;
  return {
    workflow_id: wf?.workflow_id ?? null,
    name: wf?.name ?? null,
    version: wf?.version ?? null,
    description: wf?.description ?? null,
    file: f.file ? path.basename(f.file) : null,
    valid: !!f.plan,
    node_count: wf ? Object.keys(wf.nodes).length : 0,
    problems: f.issues.map(located),
    warnings: (f.warnings ?? []).map(located),
  };
}

export async function getWorkflows(): Promise<HttpResponseInit> {
  const catalog = services().catalog();
  const workflows = catalog.files.map(summary);
  return json(200, {
    workflows,
    valid: workflows.filter((w) => w.valid).length,
    invalid: workflows.filter((w) => !w.valid).length,
  });
}

export async function getWorkflow(req: HttpRequest): Promise<HttpResponseInit> {
  const id = param(req, 'id');
  const catalog = services().catalog();
  const f = catalog.workflows.get(id) ?? catalog.files.find((x) => x.workflow?.workflow_id === id);
  if (!f) {
    const hint = didYouMean(id, catalog.workflows.keys());
    throw new AppError('NOT_FOUND', `Workflow "${id}" does not exist${hint ? ` (${hint})` : ''}.`);
  }
  return json(200, { ...summary(f), definition: f.workflow ?? null });
}
