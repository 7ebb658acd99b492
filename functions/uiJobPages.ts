// The dashboard's job pages (docs/dashboard.md): the job list, a job (graph, timeline, attempts, node
// panel), a fan-out's children, the state and events documents the job page polls, and the cancel and
// rerun actions (CSRF-checked forms).
import type { HttpRequest, InvocationContext } from '@azure/functions';
import { durableClient } from './durableClient';
import { z } from 'zod';
import { AppError } from './appError';
import {
  childCountsByParent,
  encodeCursor,
  EVENT_TYPES,
  getLatestCheckpoint,
  getNode,
  JOB_STATUSES,
  listAttemptResults,
  listEvents,
  listJobs,
  lastEventId,
  listStaticAttemptResults,
  listNodes,
  nodeSummary,
  NODE_STATUSES,
  TERMINAL_JOB_STATUSES,
  type NodeRow,
  type TaskResultRow,
} from '../db';
import { limitParam, param, parseQuery } from './http';
import { cancelJob, getJobOrThrow, retryJob } from './jobService';
import { services } from './services';
import { workflowSummaries } from './uiCatalogPages';
import { jsonWithEtag, optionalText, readForm, redirect, render, UI_BASE, type UiSession } from './uiSupport';
import { snapshotNodes, workflowEdges } from './workflowEdges';

const childrenUrl = (jobId: string, nodeId: string) =>
  `${UI_BASE}/jobs/${encodeURIComponent(jobId)}/children/${encodeURIComponent(nodeId)}`;

/** What the job page draws and polls: the static nodes, edges, fan-out progress, the job's status. */
export async function jobState(jobId: string) {
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
  workflow_id: optionalText(64),
  correlation_id: optionalText(64),
  from: utcTime,
  to: utcTime,
  cursor: optionalText(1000),
  limit: limitParam(200),
});

export async function jobsPage(req: HttpRequest, _ctx: InvocationContext, sess: UiSession) {
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
  node: optionalText(140),
  ev_type: z.enum(EVENT_TYPES).or(z.literal('')).optional(),
  ev_node: optionalText(140),
  ev_cursor: optionalText(1000),
  flash: optionalText(200),
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

export async function jobPage(req: HttpRequest, _ctx: InvocationContext, sess: UiSession) {
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
  ev_node: optionalText(140),
});

/** The live timeline: the job's events after an event id (with the page's filters), as JSON. */
export async function jobEventsAfter(req: HttpRequest) {
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

export async function jobStateRoute(req: HttpRequest) {
  return jsonWithEtag(req, await jobState(param(req, 'id')));
}

const ChildrenQuery = z.strictObject({
  status: z.enum(NODE_STATUSES).or(z.literal('')).optional(),
  index: z
    .string()
    .regex(/^\d{0,9}$/, 'must be a whole number')
    .optional()
    .transform((s) => (s ? Number(s) : undefined)),
  cursor: optionalText(1000),
});

export async function childrenPage(req: HttpRequest, _ctx: InvocationContext, sess: UiSession) {
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

export async function cancelAction(req: HttpRequest, ctx: InvocationContext, sess: UiSession) {
  const jobId = param(req, 'id');
  const form = await readForm(req, sess);
  const reason = (form.get('reason') ?? '').slice(0, 500) || 'cancelled from the dashboard';
  await cancelJob(services(), durableClient(ctx), jobId, reason);
  return redirect(
    `${UI_BASE}/jobs/${encodeURIComponent(jobId)}?flash=${encodeURIComponent('Cancel requested.')}`,
  );
}

export async function rerunAction(req: HttpRequest, ctx: InvocationContext, sess: UiSession) {
  const jobId = param(req, 'id');
  await readForm(req, sess);
  const job = await retryJob(services(), durableClient(ctx), jobId);
  return redirect(
    `${UI_BASE}/jobs/${encodeURIComponent(jobId)}?flash=${encodeURIComponent(`Rerun started (run ${job.run_count}).`)}`,
  );
}
