// The original system's HTTP API (docs/compatibility.md): its orchestrator's /api/v1 routes and its
// gateway's batch, status and admin reads, as adapters over the same submit, list and cancel code
// as /api/jobs (jobService.ts). Bodies and status codes are the original's; its bugs are not copied
// (invalid inputs are a 400 here, an unknown handler a 404).
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { z } from 'zod';
import { AppError, isAppError } from './appError';
import {
  EVENT_TYPES,
  JOB_STATUSES,
  NODE_STATUSES,
  findJobByCorrelationId,
  jobStats,
  listActiveJobs,
  listEvents,
  listJobs,
  listNodeEventsNewestFirst,
  listNodes,
  listNodesByStatus,
  listQuietJobs,
  listRecentEvents,
  nodeSummary,
  type JobEventRow,
  type JobRow,
  type JobSummaryRow,
  type NodeRow,
} from '../db';
import { json, param, parseBody, parseQuery, toResponse } from './http';
import { cancelJob, eventView, getJobOrThrow, jobSummaryView, submitJob } from './jobService';
import { services } from './services';
import { version } from './version';

const startedAt = new Date();

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

/** Wraps a /api/v1 route: errors carry FastAPI's `detail` besides the product's `error` object. */
export function v1(
  fn: (req: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>,
): (req: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit> {
  return async (req, context) => {
    try {
      return await fn(req, context);
    } catch (err) {
      const res = toResponse(err, context);
      const body = res.jsonBody as { error?: { message?: string } };
      return { ...res, jsonBody: { detail: body.error?.message ?? 'error', ...body } };
    }
  };
}

// ---------------------------------------------------------------------------------------------------
// Views in the original's shapes (JobResponse, NodeResponse, JobEvent).

/** The original's JobResponse (owner_* are always null: Durable Functions owns the job here). */
export function v1JobView(job: JobSummaryRow & Partial<Pick<JobRow, 'input_params' | 'result_data'>>) {
  return {
    job_id: job.job_id,
    workflow_id: job.workflow_id,
    status: job.status,
    input_params: job.input_params ?? null,
    result_data: job.result_data ?? null,
    error_message: job.error_message ?? null,
    created_at: iso(job.created_at),
    started_at: iso(job.started_at),
    completed_at: iso(job.completed_at),
    submitted_by: job.submitted_by ?? null,
    correlation_id: job.correlation_id ?? null,
    owner_id: null,
    owner_heartbeat_at: null,
    workflow_version: job.workflow_version,
  };
}

/** The original's NodeResponse (retry_count is the 0-based attempt). */
export function v1NodeView(n: NodeRow) {
  return {
    node_id: n.node_id,
    job_id: n.job_id,
    status: n.status,
    task_id: n.task_id ?? null,
    output: n.output ?? null,
    error_message: n.error_message ?? null,
    retry_count: n.attempt,
    created_at: iso(n.created_at),
    started_at: iso(n.started_at),
    completed_at: iso(n.completed_at),
    parent_node_id: n.parent_node_id ?? null,
    fan_out_index: n.fan_out_index ?? null,
  };
}

/** The original's checkpoint_name column, derived as it wrote it. */
function checkpointName(e: JobEventRow): string | null {
  if (e.event_type.startsWith('job_')) return e.event_type;
  if (['node_dispatched', 'node_completed', 'node_failed'].includes(e.event_type) && e.node_id)
    return `${e.event_type}_${e.node_id}`;
  return null;
}

export function v1EventView(e: JobEventRow) {
  return { ...eventView(e), checkpoint_name: checkpointName(e) };
}

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

const objectParams = z.custom<Record<string, unknown>>(
  (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
  'must be a JSON object of input names to values',
);
const printable = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[\x20-\x7e]+$/, 'must be printable ASCII');

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
  const r = await submitJob(s, df.getClient(context), {
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
  limit: z
    .string()
    .regex(/^\d+$/, 'must be a positive integer')
    .transform(Number)
    .pipe(z.number().int().min(1).max(1000))
    .optional(),
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
    const job = await cancelJob(services(), df.getClient(context), jobId);
    return json(200, { ...v1JobView(job), cancel_requested: true });
  } catch (err) {
    // The original answers 400 for a job that already ended.
    if (isAppError(err) && err.code === 'CONFLICT') throw new AppError('VALIDATION', err.message);
    throw err;
  }
}

const limitTo = (max: number) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a positive integer')
    .transform(Number)
    .pipe(z.number().int().min(1).max(max))
    .optional();

/** Oldest first, as the original. */
export async function getV1Timeline(req: HttpRequest): Promise<HttpResponseInit> {
  const jobId = param(req, 'id');
  const q = parseQuery(req, z.strictObject({ limit: limitTo(1000) }));
  const s = services();
  await getJobOrThrow(s, jobId);
  const page = await listEvents(s.pool, s.schema, jobId, { limit: q.limit ?? 1000 });
  return json(200, { job_id: jobId, event_count: page.items.length, events: page.items.map(v1EventView) });
}

/** Newest first, as the original. */
export async function getV1NodeEvents(req: HttpRequest): Promise<HttpResponseInit> {
  const jobId = param(req, 'id');
  const nodeId = param(req, 'node', 140);
  const q = parseQuery(req, z.strictObject({ limit: limitTo(500) }));
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

// ---------------------------------------------------------------------------------------------------
// The gateway's batch submit and status reads.

const BatchItem = z.strictObject({
  workflow_id: z.string().min(1).max(64),
  input_params: objectParams.default({}),
  correlation_id: printable(64).nullish(),
  callback_url: z.string().max(512).nullish(),
  priority: z.int().min(0).max(10).nullish(),
  idempotency_key: printable(128).nullish(),
  submitted_by: z.string().min(1).max(64).nullish(),
});
const BatchBody = z.strictObject({ jobs: z.array(z.unknown()).min(1).max(100) });

/**
 * 1–100 jobs, each submitted on its own (one bad item fails alone): a result per item in order, and
 * the original's {submitted, failed, message_ids, errors}. A job with an idempotency_key (its own,
 * or derived from the request's Idempotency-Key header) is idempotent, so a client may resend the
 * whole batch.
 */
export async function postGatewayBatch(
  req: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const body = await parseBody(req, BatchBody);
  // An Idempotency-Key header makes every item idempotent: an item without its own key gets
  // `<header>:<index>`, so the same batch sent again makes no new job.
  const batchKey = req.headers.get('idempotency-key')?.trim() || undefined;
  if (batchKey !== undefined && (batchKey.length > 100 || !/^[\x20-\x7e]+$/.test(batchKey)))
    throw new AppError(
      'VALIDATION',
      'The Idempotency-Key header must be printable ASCII, at most 100 characters.',
    );
  const s = services();
  await s.ready();
  const client = df.getClient(context);
  const results: Array<Record<string, unknown>> = [];
  for (const [index, raw] of body.jobs.entries()) {
    const item = BatchItem.safeParse(raw);
    if (!item.success) {
      results.push({
        index,
        status: 'failed',
        error: {
          code: 'VALIDATION',
          message: item.error.issues.map((i) => `${i.path.join('.') || '(item)'}: ${i.message}`).join('; '),
        },
      });
      continue;
    }
    const b = item.data;
    const key = b.idempotency_key ?? (batchKey ? `${batchKey}:${index}` : undefined);
    try {
      const r = await submitJob(s, client, {
        workflowId: b.workflow_id,
        inputs: b.input_params,
        ...(key ? { idempotencyKey: key } : {}),
        ...(b.correlation_id ? { correlationId: b.correlation_id } : {}),
        submittedBy: b.submitted_by ?? 'rmhdagmaster-gateway',
      });
      results.push({
        index,
        status: 'submitted',
        created: r.created,
        job_id: r.job.job_id,
        message_id: r.job.job_id,
        workflow_id: b.workflow_id,
        correlation_id: b.correlation_id ?? null,
      });
    } catch (err) {
      if (!isAppError(err)) throw err;
      results.push({ index, status: 'failed', error: { code: err.code, message: err.message } });
    }
  }
  const ok = results.filter((r) => r.status === 'submitted');
  return json(202, {
    submitted: ok.length,
    failed: results.length - ok.length,
    message_ids: ok.map((r) => r.message_id),
    errors: results
      .filter((r) => r.status === 'failed')
      .map((r) => ({ index: r.index, ...(r.error as object) })),
    results,
  });
}

export async function getStatusStats(): Promise<HttpResponseInit> {
  const s = services();
  const st = await jobStats(s.pool, s.schema);
  return json(200, {
    job_counts_by_status: Object.fromEntries(JOB_STATUSES.map((k) => [k, st.by_status[k] ?? 0])),
    job_counts_by_workflow: st.by_workflow,
    total_jobs: st.total,
  });
}

export async function getStatusLookup(req: HttpRequest): Promise<HttpResponseInit> {
  const q = parseQuery(req, z.looseObject({ correlation_id: z.string().optional() }));
  if (!q.correlation_id) throw new AppError('VALIDATION', 'correlation_id query parameter is required');
  const s = services();
  const job = await findJobByCorrelationId(s.pool, s.schema, q.correlation_id);
  if (!job) throw new AppError('NOT_FOUND', `Job not found for correlation_id '${q.correlation_id}'`);
  return json(200, { ...jobSummaryView(job), owner_id: null });
}

const StatusNodesQuery = z.strictObject({ status: z.enum(NODE_STATUSES).optional() });

export async function getStatusJobNodes(req: HttpRequest): Promise<HttpResponseInit> {
  const jobId = param(req, 'id');
  const q = parseQuery(req, StatusNodesQuery);
  const s = services();
  await getJobOrThrow(s, jobId);
  const page = await listNodes(s.pool, s.schema, jobId, {
    limit: 5000,
    ...(q.status ? { status: q.status } : {}),
  });
  return json(200, { job_id: jobId, nodes: page.items.map(v1NodeView), count: page.items.length });
}

const StatusEventsQuery = z.strictObject({
  limit: limitTo(1000),
  event_type: z.enum(EVENT_TYPES).optional(),
});

export async function getStatusJobEvents(req: HttpRequest): Promise<HttpResponseInit> {
  const jobId = param(req, 'id');
  const q = parseQuery(req, StatusEventsQuery);
  const s = services();
  await getJobOrThrow(s, jobId);
  const page = await listEvents(s.pool, s.schema, jobId, {
    limit: q.limit ?? 100,
    ...(q.event_type ? { type: q.event_type } : {}),
  });
  return json(200, { events: page.items.map(v1EventView), total: page.items.length });
}

// ---------------------------------------------------------------------------------------------------
// Admin cross-job reads.

export async function getAdminActiveJobs(req: HttpRequest): Promise<HttpResponseInit> {
  const q = parseQuery(req, z.strictObject({ owner_id: z.string().optional(), limit: limitTo(500) }));
  const s = services();
  // owner_id: the original's orchestrator instance; Durable Functions owns every job here.
  const jobs = await listActiveJobs(s.pool, s.schema, { limit: q.limit ?? 100 });
  return json(200, { jobs: jobs.map((j) => v1JobView(j)), count: jobs.length });
}

export async function getAdminRecentEvents(req: HttpRequest): Promise<HttpResponseInit> {
  const q = parseQuery(
    req,
    z.strictObject({ limit: limitTo(1000), event_type: z.enum(EVENT_TYPES).optional() }),
  );
  const s = services();
  const events = await listRecentEvents(s.pool, s.schema, {
    limit: q.limit ?? 50,
    ...(q.event_type ? { type: [q.event_type] } : {}),
  });
  return json(200, { events: events.map(v1EventView), count: events.length });
}

export async function getAdminRunningNodes(req: HttpRequest): Promise<HttpResponseInit> {
  const q = parseQuery(
    req,
    z.strictObject({ job_id: z.string().min(1).max(64).optional(), limit: limitTo(1000) }),
  );
  const s = services();
  const nodes = await listNodesByStatus(s.pool, s.schema, {
    status: ['dispatched', 'running'],
    limit: q.limit ?? 200,
    ...(q.job_id ? { jobId: q.job_id } : {}),
  });
  return json(200, { nodes: nodes.map(v1NodeView), count: nodes.length });
}

export async function getAdminFailedNodes(req: HttpRequest): Promise<HttpResponseInit> {
  const q = parseQuery(
    req,
    z.strictObject({ job_id: z.string().min(1).max(64).optional(), limit: limitTo(1000) }),
  );
  const s = services();
  const nodes = await listNodesByStatus(s.pool, s.schema, {
    status: ['failed'],
    limit: q.limit ?? 50,
    ...(q.job_id ? { jobId: q.job_id } : {}),
  });
  return json(200, { nodes: nodes.map(v1NodeView), count: nodes.length });
}

/**
 * The original's orphans (jobs whose owner stopped beating): here, pending or running jobs not
 * updated for threshold_minutes — the ones the reconciler checks against their orchestration.
 */
export async function getAdminOrphans(req: HttpRequest): Promise<HttpResponseInit> {
  const q = parseQuery(req, z.strictObject({ threshold_minutes: limitTo(10080), limit: limitTo(500) }));
  const minutes = q.threshold_minutes ?? 2;
  const s = services();
  const jobs = await listQuietJobs(s.pool, s.schema, { minutes, limit: q.limit ?? 100 });
  return json(200, {
    threshold_minutes: minutes,
    orphans: jobs.map((j) => v1JobView(j)),
    count: jobs.length,
  });
}

/** Settings whose names look like they hold a secret: never shown. */
export const SECRET_NAME =
  /(PASSWORD|SECRET|KEY|TOKEN|CONNECTION|CONN_STR|CONNSTR|SAS|CREDENTIAL|DATABASE_URL|DB_URL)/i;

/** A value that holds a credential: a connection string with a key, a SAS, a URL with a password. */
function looksSecret(v: unknown): boolean {
  return (
    typeof v === 'string' &&
    /(AccountKey=|SharedAccessSignature=|[?&]sig=|Password=|:\/\/[^/@\s]+:[^/@\s]+@)/i.test(v)
  );
}

/** The configuration the app runs with, without secrets (names that look secret, URLs with passwords). */
export async function getAdminConfig(): Promise<HttpResponseInit> {
  const s = services();
  const config: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s.config).sort(([a], [b]) => a.localeCompare(b))) {
    if (v === undefined) continue;
    config[k] = SECRET_NAME.test(k) || looksSecret(v) ? '(set, hidden)' : v;
  }
  return json(200, { version, schema: s.schema, config });
}

/** The zod schemas of these routes' bodies and query strings, by handler (the OpenAPI document). */
export const COMPAT_ROUTE_SCHEMAS = new Map<unknown, { body?: z.ZodType; query?: z.ZodType }>([
  [postV1Job, { body: V1JobCreate }],
  [getV1Jobs, { query: V1ListQuery }],
  [getV1Timeline, { query: z.strictObject({ limit: limitTo(1000) }) }],
  [getV1NodeEvents, { query: z.strictObject({ limit: limitTo(500) }) }],
  [postGatewayBatch, { body: z.strictObject({ jobs: z.array(BatchItem).min(1).max(100) }) }],
  [getStatusLookup, { query: z.strictObject({ correlation_id: z.string() }) }],
  [getStatusJobNodes, { query: StatusNodesQuery }],
  [getStatusJobEvents, { query: StatusEventsQuery }],
]);
