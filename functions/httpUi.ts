// The operator dashboard under /api/ui (docs/dashboard.md): server-rendered pages (nunjucks,
// autoescape) over the same repositories as the JSON API, a state document per job that the
// browser polls with If-None-Match, and the cancel/rerun actions (CSRF-checked forms).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { z } from 'zod';
import { AppError } from './appError';
import {
  childCountsByParent,
  encodeCursor,
  EVENT_TYPES,
  getLatestCheckpoint,
  getNode,
  jobCountsByStatus,
  JOB_STATUSES,
  listAttemptResults,
  listEvents,
  listJobs,
  lastEventId,
  listMonitoredNodes,
  listStaticAttemptResults,
  listNodes,
  nodeSummary,
  NODE_STATUSES,
  recentOutcomes,
  TERMINAL_JOB_STATUSES,
  type NodeRow,
  type TaskResultRow,
} from '../db';
import { formatIssue } from '../dag/workflowIssue';
import { limitParam, param, parseQuery } from './http';
import { cancelJob, getJobOrThrow, retryJob } from './jobService';
import { health } from './httpProbes';
import { services } from './services';
import {
  assets,
  forgetKey,
  jsonWithEtag,
  keyValid,
  loginCookie,
  logoutCookie,
  readCookies,
  readForm,
  redirect,
  render,
  securityHeaders,
  UI_BASE,
  uiRoute,
  type UiSession,
} from './uiSupport';

const opt = (max: number) =>
  z
    .string()
    .max(max)
    .optional()
    .transform((s) => (s === undefined || s.trim() === '' ? undefined : s.trim()));

// ------------------------------------------------------------------------------------------ graph

type SnapshotNode = {
  type?: string;
  next?: string | string[];
  depends_on?: string[] | { all_of?: string[]; any_of?: string[] };
  branches?:
    Record<string, string> | Array<{ name?: string; condition?: string; default?: boolean; next: string }>;
  default?: string;
  handler?: string;
  task?: { handler?: string };
  description?: string;
};

export interface Edge {
  from: string;
  to: string;
  label: string | null;
}

/** The edges of a workflow: next, depends_on and the branches of conditionals (labelled). */
export function workflowEdges(nodes: Record<string, SnapshotNode>): Edge[] {
  const edges = new Map<string, Edge>();
  const add = (from: string, to: string, label: string | null = null) => {
    const k = `${from}\u0000${to}`;
    const had = edges.get(k);
    if (!had || (label && !had.label)) edges.set(k, { from, to, label });
  };
  const list = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
  for (const [id, n] of Object.entries(nodes)) {
    for (const t of list(n.next)) add(id, t);
    const deps = n.depends_on;
    const upstream = Array.isArray(deps) ? deps : [...(deps?.all_of ?? []), ...(deps?.any_of ?? [])];
    for (const u of upstream) add(u, id);
    if (n.type === 'conditional') {
      if (Array.isArray(n.branches)) {
        n.branches.forEach((b, i) =>
          add(id, b.next, b.name ?? (b.default ? 'default' : (b.condition ?? `branch ${i + 1}`))),
        );
      } else if (n.branches) {
        for (const [k, t] of Object.entries(n.branches)) add(id, t, k);
      }
      if (n.default) add(id, n.default, 'default');
    }
  }
  return [...edges.values()].sort((a, b) => (a.from + a.to).localeCompare(b.from + b.to));
}

function snapshotNodes(snapshot: unknown): Record<string, SnapshotNode> {
  const nodes = (snapshot as { nodes?: Record<string, SnapshotNode> } | null)?.nodes;
  return nodes && typeof nodes === 'object' ? nodes : {};
}

const childrenUrl = (jobId: string, nodeId: string) =>
  `${UI_BASE}/jobs/${encodeURIComponent(jobId)}/children/${encodeURIComponent(nodeId)}`;

/** What the job page draws and polls: the static nodes, edges, fan-out progress, the job's status. */
async function jobState(jobId: string) {
  const s = services();
  const job = await getJobOrThrow(s, jobId);
  const [staticNodes, children, summary, lastEvent] = await Promise.all([
    listNodes(s.pool, s.schema, jobId, { parentNodeId: null, limit: 5000 }),
    childCountsByParent(s.pool, s.schema, jobId),
    nodeSummary(s.pool, s.schema, jobId),
    lastEventId(s.pool, s.schema, jobId),
  ]);
  const snap = snapshotNodes(job.workflow_snapshot);
  return {
    job: {
      job_id: job.job_id,
      status: job.status,
      error_message: job.error_message ?? null,
      cancel_requested: !!job.cancel_requested_at && !TERMINAL_JOB_STATUSES.includes(job.status),
      run_count: job.run_count,
    },
    nodes: staticNodes.items.map((n) => ({
      id: n.node_id,
      type: n.node_type,
      status: n.status,
      skip_reason: n.skip_reason ?? null,
      attempt: n.attempt,
      error: n.error_message ?? null,
      ...(n.node_type === 'fan_out'
        ? {
            fan_out: {
              total: children[n.node_id]?.total ?? 0,
              by_status: children[n.node_id] ?? {},
              children_url: childrenUrl(jobId, n.node_id),
            },
          }
        : {}),
    })),
    edges: workflowEdges(snap),
    summary,
    last_event_id: lastEvent,
  };
}

// ------------------------------------------------------------------------------------------ pages

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

function workflowSummaries() {
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

async function overview(_req: HttpRequest, _ctx: InvocationContext, sess: UiSession) {
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

/** A time from a datetime-local input (taken as UTC) or a full ISO 8601 instant; blank is none. */
const utcTime = z
  .string()
  .max(40)
  .optional()
  .transform((s, ctx) => {
    if (s === undefined || s.trim() === '') return undefined;
    const t = s.trim();
    const d = new Date(/(Z|[+-]\d\d:?\d\d)$/.test(t) ? t : `${t}Z`);
    if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(t) || Number.isNaN(d.getTime())) {
      ctx.addIssue({ code: 'custom', message: `"${t}" is not a time (YYYY-MM-DDTHH:MM, UTC)` });
      return z.NEVER;
    }
    return d;
  });

const JobsQuery = z.strictObject({
  status: z.enum(JOB_STATUSES).or(z.literal('')).optional(),
  workflow_id: opt(64),
  correlation_id: opt(64),
  from: utcTime,
  to: utcTime,
  cursor: opt(1000),
  limit: limitParam(200),
});

async function jobsPage(req: HttpRequest, _ctx: InvocationContext, sess: UiSession) {
  const q = parseQuery(req, JobsQuery);
  const s = services();
  const page = await listJobs(s.pool, s.schema, {
    ...(q.status ? { status: q.status } : {}),
    ...(q.workflow_id ? { workflowId: q.workflow_id } : {}),
    ...(q.correlation_id ? { correlationId: q.correlation_id } : {}),
    ...(q.from ? { createdAfter: q.from } : {}),
    ...(q.to ? { createdBefore: q.to } : {}),
    ...(q.cursor ? { cursor: q.cursor } : {}),
    limit: q.limit ?? 50,
  });
  const filters = {
    status: q.status ?? '',
    workflow_id: q.workflow_id ?? '',
    correlation_id: q.correlation_id ?? '',
    from: q.from ? q.from.toISOString().slice(0, 19) : '',
    to: q.to ? q.to.toISOString().slice(0, 19) : '',
    limit: q.limit ? String(q.limit) : '',
  };
  const params = (cursor: string) =>
    new URLSearchParams(Object.entries({ ...filters, cursor }).filter(([, v]) => v !== '')).toString();
  return render(
    'jobs.njk',
    {
      title: 'Jobs',
      nav: 'jobs',
      jobs: page.items,
      filters,
      statuses: JOB_STATUSES,
      workflowIds: workflowSummaries()
        .map((w) => w.workflow_id)
        .filter((x): x is string => !!x),
      nextUrl: page.nextCursor ? `${UI_BASE}/jobs?${params(page.nextCursor)}` : null,
      firstUrl: `${UI_BASE}/jobs?${params('')}`,
      paged: !!q.cursor,
    },
    sess,
  );
}

const JobQuery = z.strictObject({
  node: opt(140),
  ev_type: z.enum(EVENT_TYPES).or(z.literal('')).optional(),
  ev_node: opt(140),
  ev_cursor: opt(1000),
  flash: opt(200),
});

/**
 * The attempts view: one bar per recorded attempt of a static node (from its start, received_at minus
 * its duration, to its result), and one open bar per node running now; on the job's time axis.
 */
function gantt(nodes: NodeRow[], attempts: TaskResultRow[], start: Date, end: Date) {
  const t0 = start.getTime();
  const rows: Array<{ label: string; a: number; b: number; cls: string; title: string }> = [];
  for (const r of attempts) {
    const b = r.received_at.getTime();
    const a = b - (r.duration_ms ?? 0);
    const late = r.disposition !== 'applied';
    rows.push({
      label: `${r.node_id} #${r.attempt}`,
      a,
      b,
      cls: `attempt-${r.status}${late ? ' attempt-late' : ''}`,
      title: `${r.node_id} attempt ${r.attempt}: ${r.status}${late ? ` (${r.disposition.replace(/_/g, ' ')})` : ''}${r.worker_id ? ` on ${r.worker_id}` : ''}`,
    });
  }
  for (const n of nodes) {
    if (n.completed_at || !(n.started_at ?? n.dispatched_at) || !['dispatched', 'running'].includes(n.status))
      continue;
    rows.push({
      label: `${n.node_id} #${n.attempt}`,
      a: (n.started_at ?? n.dispatched_at)!.getTime(),
      b: end.getTime(),
      cls: 'attempt-open',
      title: `${n.node_id} attempt ${n.attempt}: ${n.status}${n.worker_id ? ` on ${n.worker_id}` : ''}`,
    });
  }
  rows.sort((x, y) => x.a - y.a);
  const span = Math.max(1, ...rows.map((r) => r.b - t0));
  const W = 600;
  return {
    width: W + 200,
    height: rows.length * 20 + 10,
    rows: rows.map((r, i) => ({
      ...r,
      y: i * 20 + 4,
      x: 190 + (W * Math.max(0, r.a - t0)) / span,
      w: Math.max(2, (W * (r.b - Math.max(r.a, t0))) / span),
      ms: r.b - r.a,
    })),
  };
}

async function jobPage(req: HttpRequest, _ctx: InvocationContext, sess: UiSession) {
  const jobId = param(req, 'id');
  const q = parseQuery(req, JobQuery);
  const s = services();
  const job = await getJobOrThrow(s, jobId);
  const [staticNodes, events, children, staticAttempts] = await Promise.all([
    listNodes(s.pool, s.schema, jobId, { parentNodeId: null, limit: 5000 }),
    listEvents(s.pool, s.schema, jobId, {
      ...(q.ev_type ? { type: q.ev_type } : {}),
      ...(q.ev_node ? { nodeId: q.ev_node } : {}),
      ...(q.ev_cursor ? { cursor: q.ev_cursor } : {}),
      limit: 200,
    }),
    childCountsByParent(s.pool, s.schema, jobId),
    listStaticAttemptResults(s.pool, s.schema, jobId),
  ]);
  let panel = null;
  if (q.node) {
    const node = await getNode(s.pool, s.schema, jobId, q.node);
    if (node) {
      const [attempts, checkpoint] = await Promise.all([
        listAttemptResults(s.pool, s.schema, jobId, q.node),
        getLatestCheckpoint(s.pool, s.schema, { jobId, nodeId: q.node }),
      ]);
      panel = {
        node,
        attempts,
        checkpoint,
        definition: snapshotNodes(job.workflow_snapshot)[node.parent_node_id ?? node.node_id] ?? null,
      };
    } else {
      panel = { missing: q.node };
    }
  }
  const evParams = (cursor: string | null) =>
    new URLSearchParams(
      Object.entries({ ev_type: q.ev_type ?? '', ev_node: q.ev_node ?? '', ev_cursor: cursor ?? '' }).filter(
        ([, v]) => v !== '',
      ),
    ).toString();
  return render(
    'job.njk',
    {
      title: `Job ${jobId}`,
      nav: 'jobs',
      job,
      nodes: staticNodes.items,
      children,
      childrenUrl: (n: string) => childrenUrl(jobId, n),
      events: events.items,
      eventsNext: events.nextCursor ? `?${evParams(events.nextCursor)}#timeline` : null,
      // The timeline follows the job live when it shows the last events (no later page).
      eventsLive: events.nextCursor
        ? null
        : {
            url: `${UI_BASE}/jobs/${encodeURIComponent(jobId)}/events`,
            after: Number(events.items[events.items.length - 1]?.event_id ?? (q.ev_cursor ? -1 : 0)),
            filters: new URLSearchParams(
              Object.entries({ ev_type: q.ev_type ?? '', ev_node: q.ev_node ?? '' }).filter(
                ([, v]) => v !== '',
              ),
            ).toString(),
          },
      evFilter: { type: q.ev_type ?? '', node: q.ev_node ?? '' },
      eventTypes: EVENT_TYPES,
      panel,
      gantt: gantt(
        staticNodes.items,
        staticAttempts,
        job.started_at ?? job.created_at,
        job.completed_at ?? new Date(),
      ),
      stateUrl: `${UI_BASE}/jobs/${encodeURIComponent(jobId)}/state`,
      canCancel: job.status === 'pending' || job.status === 'running',
      canRerun: job.status === 'failed',
      flash: q.flash ?? null,
    },
    sess,
  );
}

const EventsAfterQuery = z.strictObject({
  after: z.string().regex(/^\d{1,15}$/, 'must be an event id'),
  ev_type: z.enum(EVENT_TYPES).or(z.literal('')).optional(),
  ev_node: opt(140),
});

/** The live timeline: the job's events after an event id (with the page's filters), as JSON. */
async function jobEventsAfter(req: HttpRequest) {
  const jobId = param(req, 'id');
  const q = parseQuery(req, EventsAfterQuery);
  const s = services();
  await getJobOrThrow(s, jobId);
  const page = await listEvents(s.pool, s.schema, jobId, {
    ...(q.ev_type ? { type: q.ev_type } : {}),
    ...(q.ev_node ? { nodeId: q.ev_node } : {}),
    ...(Number(q.after) > 0 ? { cursor: encodeCursor({ e: Number(q.after) }) } : {}),
    limit: 200,
  });
  return jsonWithEtag(req, {
    events: page.items.map((e) => ({
      event_id: Number(e.event_id),
      created_at: e.created_at.toISOString(),
      event_type: e.event_type,
      node_id: e.node_id ?? null,
      event_status: e.event_status,
      duration_ms: e.duration_ms ?? null,
      error_message: e.error_message ?? null,
      detail:
        e.event_data && Object.keys(e.event_data).length ? JSON.stringify(e.event_data).slice(0, 200) : '',
    })),
    more: page.nextCursor !== null,
  });
}

async function jobStateRoute(req: HttpRequest) {
  return jsonWithEtag(req, await jobState(param(req, 'id')));
}

const ChildrenQuery = z.strictObject({
  status: z.enum(NODE_STATUSES).or(z.literal('')).optional(),
  index: z
    .string()
    .regex(/^\d{0,9}$/, 'must be a whole number')
    .optional()
    .transform((s) => (s ? Number(s) : undefined)),
  cursor: opt(1000),
});

async function childrenPage(req: HttpRequest, _ctx: InvocationContext, sess: UiSession) {
  const jobId = param(req, 'id');
  const nodeId = param(req, 'node', 140);
  const q = parseQuery(req, ChildrenQuery);
  const s = services();
  const job = await getJobOrThrow(s, jobId);
  const def = snapshotNodes(job.workflow_snapshot)[nodeId];
  if (!def || def.type !== 'fan_out') {
    throw new AppError('NOT_FOUND', `Job ${jobId} has no fan-out node "${nodeId}".`);
  }
  // "Jump to index N": a cursor just before N (children page by fan_out_index).
  const cursor =
    q.cursor ?? (q.index !== undefined && q.index > 0 ? encodeCursor({ i: q.index - 1 }) : undefined);
  const [page, counts] = await Promise.all([
    listNodes(s.pool, s.schema, jobId, {
      parentNodeId: nodeId,
      ...(q.status ? { status: q.status } : {}),
      ...(cursor ? { cursor } : {}),
      limit: 100,
    }),
    childCountsByParent(s.pool, s.schema, jobId),
  ]);
  const next = page.nextCursor
    ? `?${new URLSearchParams(Object.entries({ status: q.status ?? '', cursor: page.nextCursor }).filter(([, v]) => v !== '')).toString()}`
    : null;
  return render(
    'children.njk',
    {
      title: `Children of ${nodeId}`,
      nav: 'jobs',
      job,
      nodeId,
      children: page.items,
      counts: counts[nodeId] ?? { total: 0 },
      statuses: NODE_STATUSES,
      filter: { status: q.status ?? '', index: q.index ?? '' },
      next,
      jobUrl: `${UI_BASE}/jobs/${encodeURIComponent(jobId)}`,
    },
    sess,
  );
}

async function cancelAction(req: HttpRequest, ctx: InvocationContext, sess: UiSession) {
  const jobId = param(req, 'id');
  const form = await readForm(req, sess);
  const reason = (form.get('reason') ?? '').slice(0, 500) || 'cancelled from the dashboard';
  await cancelJob(services(), df.getClient(ctx), jobId, reason);
  return redirect(
    `${UI_BASE}/jobs/${encodeURIComponent(jobId)}?flash=${encodeURIComponent('Cancel requested.')}`,
  );
}

async function rerunAction(req: HttpRequest, ctx: InvocationContext, sess: UiSession) {
  const jobId = param(req, 'id');
  await readForm(req, sess);
  const job = await retryJob(services(), df.getClient(ctx), jobId);
  return redirect(
    `${UI_BASE}/jobs/${encodeURIComponent(jobId)}?flash=${encodeURIComponent(`Rerun started (run ${job.run_count}).`)}`,
  );
}

async function workflowsPage(_req: HttpRequest, _ctx: InvocationContext, sess: UiSession) {
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

async function workflowPage(req: HttpRequest, _ctx: InvocationContext, sess: UiSession) {
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

async function workflowGraph(req: HttpRequest) {
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

async function nodesPage(_req: HttpRequest, _ctx: InvocationContext, sess: UiSession) {
  const s = services();
  const [running, failed] = await Promise.all([
    listMonitoredNodes(s.pool, s.schema, 'running', 100),
    listMonitoredNodes(s.pool, s.schema, 'failed', 100),
  ]);
  return render('nodes.njk', { title: 'Nodes', nav: 'nodes', running, failed, now: new Date() }, sess);
}

async function healthPage(_req: HttpRequest, _ctx: InvocationContext, sess: UiSession) {
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

const LoginQuery = z.strictObject({ next: opt(2000), error: opt(10) });

/** Only a path of the dashboard is a valid place to go back to after login. */
function safeNext(next: string | undefined | null): string {
  return next && next.startsWith(`${UI_BASE}/`) && !next.startsWith(`${UI_BASE}//`) && !/[\\\s]/.test(next)
    ? next
    : UI_BASE;
}

async function loginPage(req: HttpRequest, _ctx: InvocationContext, sess: UiSession) {
  const q = parseQuery(req, LoginQuery);
  if (sess.loggedIn && sess.keyRequired) return redirect(safeNext(q.next), sess.setCookies);
  return render(
    'login.njk',
    { title: 'Sign in', next: safeNext(q.next), failed: q.error === '1', keyRequired: sess.keyRequired },
    sess,
  );
}

async function loginAction(req: HttpRequest, _ctx: InvocationContext, sess: UiSession) {
  const form = await readForm(req, sess);
  const key = form.get('key') ?? '';
  const next = safeNext(form.get('next'));
  if (!(await keyValid(key))) {
    return redirect(`${UI_BASE}/login?error=1&next=${encodeURIComponent(next)}`, sess.setCookies);
  }
  return redirect(next, [...sess.setCookies, loginCookie(req, key)]);
}

async function logoutAction(req: HttpRequest, _ctx: InvocationContext, sess: UiSession) {
  await readForm(req, sess);
  const key = readCookies(req).dag_ui_key;
  if (key) forgetKey(key);
  return redirect(`${UI_BASE}/login`, [logoutCookie(req)]);
}

// ----------------------------------------------------------------------------------------- assets

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

export async function staticAsset(req: HttpRequest): Promise<HttpResponseInit> {
  const file = req.params.file ?? '';
  const a = assets();
  if (!Object.values(a.value).includes(file)) {
    return {
      status: 404,
      body: 'not found',
      headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' },
    };
  }
  return {
    status: 200,
    body: readFileSync(path.join(a.dir, 'static', file)),
    headers: {
      'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
      // Content-hashed names: a file never changes under its name.
      'cache-control': 'public, max-age=31536000, immutable',
      ...securityHeaders(),
    },
  };
}

/** Answers 204 to a caller with a valid function key (the Functions host checks it): the login's check. */
export async function keyCheck(): Promise<HttpResponseInit> {
  return { status: 204 };
}

export const ui = {
  overview: uiRoute(overview),
  jobs: uiRoute(jobsPage),
  job: uiRoute(jobPage),
  jobState: uiRoute(jobStateRoute, { json: true }),
  jobEvents: uiRoute(jobEventsAfter, { json: true }),
  children: uiRoute(childrenPage),
  cancel: uiRoute(cancelAction),
  rerun: uiRoute(rerunAction),
  nodes: uiRoute(nodesPage),
  health: uiRoute(healthPage),
  workflows: uiRoute(workflowsPage),
  workflow: uiRoute(workflowPage),
  workflowGraph: uiRoute(workflowGraph, { json: true }),
  login: uiRoute(loginPage, { public: true }),
  loginPost: uiRoute(loginAction, { public: true }),
  logout: uiRoute(logoutAction, { public: true }),
};
