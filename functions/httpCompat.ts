// The original system's HTTP API (docs/compatibility.md): its orchestrator's /api/v1 routes and its
// gateway's batch, status and admin reads, as adapters over the same submit, list and cancel code
// as /api/jobs (jobService.ts). Bodies and status codes are the original's; its bugs are not copied
// (invalid inputs are a 400 here, an unknown handler a 404). This file has the /api/v1 routes; the
// gateway's are in compatGateway.ts, the admin reads in compatAdmin.ts, the shared shapes in compatViews.ts.
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { durableClient } from './durableClient';
import { z } from 'zod';
import { AppError, isAppError } from './appError';
import {
  JOB_STATUSES,
  jobStats,
  listEvents,
  listJobs,
  listNodeEventsNewestFirst,
  listNodes,
  nodeSummary,
  type JobSummaryRow,
} from '../db';
import {
  BatchItem,
  getStatusJobEvents,
  getStatusJobNodes,
  getStatusLookup,
  postGatewayBatch,
  StatusEventsQuery,
  StatusNodesQuery,
} from './compatGateway';
import { objectParams, printable, v1EventView, v1JobView, v1NodeView } from './compatViews';
import { json, limitParam, param, parseBody, parseQuery } from './http';
import { cancelJob, getJobOrThrow, submitJob } from './jobService';
import { services } from './services';
import { version } from './version';

const startedAt = new Date();

// ---------------------------------------------------------------------------------------------------
// GET / (service info) and GET /api/v1/orchestrator/status.

export async function getServiceInfo(): Promise<HttpResponseInit> {
  return json(200, {
    service: 'rmhdagmaster',
    version,
    epoch: 'durable-functions',
    build_date: null,
    status: 'running',
    docs: '/api/docs',
    openapi: '/api/openapi.json',
    ui: null,
  });
}

export async function getOrchestratorStatus(): Promise<HttpResponseInit> {
  const s = services();
  const stats = await jobStats(s.pool, s.schema);
  return json(200, {
    status: 'running',
    started_at: startedAt.toISOString(),
    uptime_seconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
    poll_interval_seconds: null,
    metrics: {
      cycles: null,
      last_cycle_at: null,
      active_jobs: (stats.by_status.pending ?? 0) + (stats.by_status.running ?? 0),
      tasks_dispatched: null,
      results_processed: null,
      errors: null,
    },
  });
}

// ---------------------------------------------------------------------------------------------------
// /api/v1/workflows

function workflowSummary(wf: {
  workflow_id: string;
  name: string;
  version: number;
  description?: string | undefined;
  is_active?: boolean | undefined;
}) {
  return {
    workflow_id: wf.workflow_id,
    name: wf.name,
    version: wf.version,
    description: wf.description ?? null,
    is_active: wf.is_active ?? true,
  };
}

export async function getV1Workflows(): Promise<HttpResponseInit> {
  const c = services().catalog();
  const workflows = [...c.workflows.values()].flatMap((l) =>
    l.workflow ? [workflowSummary(l.workflow)] : [],
  );
  return json(200, { workflows });
}

export async function getV1Workflow(req: HttpRequest): Promise<HttpResponseInit> {
  const id = param(req, 'id');
  const wf = services().catalog().workflows.get(id)?.workflow;
  if (!wf) throw new AppError('NOT_FOUND', `Workflow '${id}' not found`);
  return json(200, workflowSummary(wf));
}

// ---------------------------------------------------------------------------------------------------
// /api/v1/jobs

/** JobCreate of the original. */
const V1JobCreate = z.strictObject({
  workflow_id: z.string().min(1).max(64),
  input_params: objectParams.default({}),
  idempotency_key: printable(128).nullish(),
  correlation_id: printable(64).nullish(),
  submitted_by: z.string().min(1).max(64).nullish(),
});

export async function postV1Job(req: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const b = await parseBody(req, V1JobCreate);
  const s = services();
  await s.ready();
  const r = await submitJob(s, durableClient(context), {
    workflowId: b.workflow_id,
    inputs: b.input_params,
    ...(b.idempotency_key ? { idempotencyKey: b.idempotency_key } : {}),
    ...(b.correlation_id ? { correlationId: b.correlation_id } : {}),
    submittedBy: b.submitted_by ?? 'api',
  });
  // The original answers 201 with the job, for a repeat of an idempotency key too.
  return json(201, v1JobView(r.job), { location: `/api/v1/jobs/${r.job.job_id}` });
}

const V1ListQuery = z.strictObject({
  status: z.enum(JOB_STATUSES).optional(),
  limit: limitParam(1000),
});

/** Without ?status= the original lists only pending and running jobs; newest first. */
export async function getV1Jobs(req: HttpRequest): Promise<HttpResponseInit> {
  const q = parseQuery(req, V1ListQuery);
  const s = services();
  const want = q.limit ?? 100;
  const jobs: JobSummaryRow[] = [];
  let cursor: string | undefined;
  do {
    const page = await listJobs(s.pool, s.schema, {
      status: q.status ?? ['pending', 'running'],
      limit: Math.min(500, want - jobs.length),
      ...(cursor ? { cursor } : {}),
    });
    jobs.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor && jobs.length < want);
  return json(200, { jobs: jobs.map((j) => v1JobView(j)), total: jobs.length });
}

export async function getV1Job(req: HttpRequest): Promise<HttpResponseInit> {
  const jobId = param(req, 'id');
  const s = services();
  const job = await getJobOrThrow(s, jobId);
  const [nodes, summary] = await Promise.all([
    listNodes(s.pool, s.schema, jobId, { limit: 5000 }),
    nodeSummary(s.pool, s.schema, jobId),
  ]);
  const node_summary = Object.fromEntries(Object.entries(summary).filter(([k, v]) => k !== 'total' && v > 0));
  return json(200, { job: v1JobView(job), nodes: nodes.items.map(v1NodeView), node_summary });
}

export async function postV1Cancel(req: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const jobId = param(req, 'id');
  try {
    const job = await cancelJob(services(), durableClient(context), jobId);
    return json(200, { ...v1JobView(job), cancel_requested: true });
  } catch (err) {
    // The original answers 400 for a job that already ended.
    if (isAppError(err) && err.code === 'CONFLICT') throw new AppError('VALIDATION', err.message);
    throw err;
  }
}

/** Oldest first, as the original. */
export async function getV1Timeline(req: HttpRequest): Promise<HttpResponseInit> {
  const jobId = param(req, 'id');
  const q = parseQuery(req, z.strictObject({ limit: limitParam(1000) }));
  const s = services();
  await getJobOrThrow(s, jobId);
  const page = await listEvents(s.pool, s.schema, jobId, { limit: q.limit ?? 1000 });
  return json(200, { job_id: jobId, event_count: page.items.length, events: page.items.map(v1EventView) });
}

/** Newest first, as the original. */
export async function getV1NodeEvents(req: HttpRequest): Promise<HttpResponseInit> {
  const jobId = param(req, 'id');
  const nodeId = param(req, 'node', 140);
  const q = parseQuery(req, z.strictObject({ limit: limitParam(500) }));
  const s = services();
  await getJobOrThrow(s, jobId);
  const events = await listNodeEventsNewestFirst(s.pool, s.schema, jobId, nodeId, q.limit ?? 100);
  return json(200, {
    job_id: jobId,
    node_id: nodeId,
    event_count: events.length,
    events: events.map(v1EventView),
  });
}

// ---------------------------------------------------------------------------------------------------
// Handlers: GET /api/handlers and the original's GET /api/v1/test/handlers.

function handlerList() {
  const s = services();
  return s.registry.names().map((name) => {
    const h = s.registry.get(name)!;
    let param_schema: unknown = null;
    try {
      param_schema = z.toJSONSchema(h.params, { io: 'input', unrepresentable: 'any' });
    } catch {
      param_schema = null;
    }
    const queue = h.defaultRunner === 'container' ? (h.defaultQueue ?? s.config.DAG_CONTAINER_QUEUE) : null;
    return {
      name,
      description: h.description,
      runners: [...h.runners],
      default_runner: h.defaultRunner,
      queue: queue ?? s.config.DAG_ACTIVITY_QUEUES[0] ?? null,
      timeout_seconds: 3600,
      param_schema,
    };
  });
}

export async function getHandlers(): Promise<HttpResponseInit> {
  return json(200, { handlers: handlerList() });
}

export async function getV1TestHandlers(): Promise<HttpResponseInit> {
  return json(200, {
    testing_enabled: services().config.DAG_ENABLE_HANDLER_TESTING,
    handlers: handlerList().map((h) => ({
      name: h.name,
      queue: h.queue,
      timeout_seconds: h.timeout_seconds,
    })),
    hint: 'POST /api/handlers/{name}/test (admin key, DAG_ENABLE_HANDLER_TESTING=true) runs one; GET /api/handlers lists them with their param schemas.',
  });
}

/** The zod schemas of these routes' bodies and query strings, by handler (the OpenAPI document). */
export const COMPAT_ROUTE_SCHEMAS = new Map<unknown, { body?: z.ZodType; query?: z.ZodType }>([
  [postV1Job, { body: V1JobCreate }],
  [getV1Jobs, { query: V1ListQuery }],
  [getV1Timeline, { query: z.strictObject({ limit: limitParam(1000) }) }],
  [getV1NodeEvents, { query: z.strictObject({ limit: limitParam(500) }) }],
  [postGatewayBatch, { body: z.strictObject({ jobs: z.array(BatchItem).min(1).max(100) }) }],
  [getStatusLookup, { query: z.strictObject({ correlation_id: z.string() }) }],
  [getStatusJobNodes, { query: StatusNodesQuery }],
  [getStatusJobEvents, { query: StatusEventsQuery }],
]);
