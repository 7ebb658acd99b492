// The dashboard's overview pages (docs/dashboard.md): the overview (job counts, recent outcomes, queue
// depths), the workflows and a workflow's graph, the nodes running and failed, and health.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { HttpRequest, InvocationContext } from '@azure/functions';
import { AppError } from './appError';
import { formatIssue } from '../dag/workflowIssue';
import { jobCountsByStatus, listJobs, listMonitoredNodes, recentOutcomes } from '../db';
import { param } from './http';
import { health } from './httpProbes';
import { services } from './services';
import { jsonWithEtag, render, UI_BASE, type UiSession } from './uiSupport';
import { snapshotNodes, workflowEdges } from './workflowEdges';

async function queueDepths(): Promise<Array<{ name: string; depth: number | null; poison: number | null }>> {
  const s = services();
  const names = [
    ...new Set([s.config.DAG_CONTAINER_QUEUE, s.config.DAG_RESULT_QUEUE, ...s.config.DAG_ACTIVITY_QUEUES]),
  ];
  const depth = async (q: string): Promise<number | null> => {
    try {
      const p = await s.queueClient(q).getProperties({ abortSignal: AbortSignal.timeout(3000) });
      return p.approximateMessagesCount ?? 0;
    } catch {
      return null;
    }
  };
  return Promise.all(
    names.map(async (name) => ({ name, depth: await depth(name), poison: await depth(`${name}-poison`) })),
  );
}

export function workflowSummaries() {
  return services()
    .catalog()
    .files.map((f) => ({
      workflow_id: f.workflow?.workflow_id ?? null,
      name: f.workflow?.name ?? null,
      version: f.workflow?.version ?? null,
      file: f.file ? path.basename(f.file) : null,
      valid: !!f.plan,
      node_count: f.workflow ? Object.keys(f.workflow.nodes).length : 0,
      problems: f.issues.length,
    }));
}

export async function overview(_req: HttpRequest, _ctx: InvocationContext, sess: UiSession) {
  const s = services();
  const [counts, lastHour, recent, queues] = await Promise.all([
    jobCountsByStatus(s.pool, s.schema),
    recentOutcomes(s.pool, s.schema, 3600),
    listJobs(s.pool, s.schema, { limit: 15 }),
    queueDepths(),
  ]);
  return render(
    'overview.njk',
    {
      title: 'Overview',
      nav: 'overview',
      counts,
      lastHour,
      recent: recent.items,
      queues,
      workflows: workflowSummaries(),
    },
    sess,
  );
}

export async function workflowsPage(_req: HttpRequest, _ctx: InvocationContext, sess: UiSession) {
  return render(
    'workflows.njk',
    { title: 'Workflows', nav: 'workflows', workflows: workflowSummaries() },
    sess,
  );
}

function findWorkflow(id: string) {
  const catalog = services().catalog();
  const f = catalog.workflows.get(id) ?? catalog.files.find((x) => x.workflow?.workflow_id === id);
  if (!f) throw new AppError('NOT_FOUND', `Workflow "${id}" does not exist.`);
  return f;
}

export async function workflowPage(req: HttpRequest, _ctx: InvocationContext, sess: UiSession) {
  const id = param(req, 'id');
  const f = findWorkflow(id);
  let source = '';
  try {
    source = f.file ? readFileSync(f.file, 'utf8') : '';
  } catch {
    source = '(the file cannot be read)';
  }
  return render(
    'workflow.njk',
    {
      title: `Workflow ${id}`,
      nav: 'workflows',
      wf: f.workflow,
      file: f.file ? path.basename(f.file) : null,
      valid: !!f.plan,
      problems: f.issues.map((i) => formatIssue({ ...i, file: f.file ? path.basename(f.file) : undefined })),
      warnings: (f.warnings ?? []).map((i) =>
        formatIssue({ ...i, file: f.file ? path.basename(f.file) : undefined }),
      ),
      inputs: Object.entries(f.workflow?.inputs ?? {}),
      source,
      stateUrl: `${UI_BASE}/workflows/${encodeURIComponent(id)}/graph`,
    },
    sess,
  );
}

export async function workflowGraph(req: HttpRequest) {
  const id = param(req, 'id');
  const f = findWorkflow(id);
  const nodes = snapshotNodes(f.workflow);
  return jsonWithEtag(req, {
    job: { job_id: id, status: 'pending', error_message: null, cancel_requested: false },
    nodes: Object.entries(nodes).map(([nid, n]) => ({
      id: nid,
      type: n.type ?? 'task',
      status: 'pending',
      skip_reason: null,
      attempt: 0,
      error: null,
    })),
    edges: workflowEdges(nodes),
    summary: {},
  });
}

export async function nodesPage(_req: HttpRequest, _ctx: InvocationContext, sess: UiSession) {
  const s = services();
  const [running, failed] = await Promise.all([
    listMonitoredNodes(s.pool, s.schema, 'running', 100),
    listMonitoredNodes(s.pool, s.schema, 'failed', 100),
  ]);
  return render('nodes.njk', { title: 'Nodes', nav: 'nodes', running, failed, now: new Date() }, sess);
}

export async function healthPage(_req: HttpRequest, _ctx: InvocationContext, sess: UiSession) {
  const r = await health();
  const body = r.jsonBody as { status: string; version: unknown; checks: Record<string, { status: string }> };
  const checks = Object.entries(body.checks).map(([name, c]) => {
    const { status, ...details } = c;
    return { name, status, details };
  });
  return render(
    'health.njk',
    {
      title: 'Health',
      nav: 'health',
      status: body.status,
      version: body.version,
      checks,
      queues: await queueDepths(),
    },
    sess,
  );
}
