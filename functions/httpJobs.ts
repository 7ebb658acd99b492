// /api/jobs routes (SPEC §5) and the seed-compatibility aliases that map onto them.
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { durableClient } from './durableClient';
import { z } from 'zod';
import { AppError } from './appError';
import {
  listEvents,
  listJobs,
  listNodes,
  nodeSummary,
  JOB_STATUSES,
  EVENT_TYPES,
  NODE_STATUSES,
} from '../db';
import { json, limitParam, param, parseBody, parseQuery } from './http';
import {
  cancelJob,
  eventView,
  getJobOrThrow,
  jobLinks,
  jobSummaryView,
  jobView,
  nodeView,
  retryJob,
  submitJob,
} from './jobService';
import { services } from './services';

const idempotencyKey = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[\x20-\x7e]+$/, 'must be printable ASCII');
const correlationId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[\x20-\x7e]+$/, 'must be printable ASCII');
const workflowId = z.string().min(1).max(64);
// Passed through as parsed (not z.record, which assigns key by key: a "__proto__" key would set the
// prototype and vanish): validateInputs then names every undeclared key, whatever it is called.
const inputsObject = z.custom<Record<string, unknown>>(
  (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
  'must be a JSON object of input names to values',
);

const SubmitBody = z.strictObject({
  workflow_id: workflowId,
  inputs: inputsObject.default({}),
  idempotency_key: idempotencyKey.optional(),
  correlation_id: correlationId.optional(),
  submitted_by: z.string().min(1).max(64).optional(),
});

/** The original gateway's body: input_params instead of inputs; callback_url and priority accepted (unused). */
const GatewayBody = z.strictObject({
  workflow_id: workflowId,
  input_params: inputsObject.default({}),
  idempotency_key: idempotencyKey.optional(),
  correlation_id: correlationId.optional(),
  submitted_by: z.string().min(1).max(64).optional(),
  callback_url: z.string().max(512).optional(),
  priority: z.int().min(0).max(10).optional(),
});

async function submitResponse(
  req: HttpRequest,
  context: InvocationContext,
  body: z.infer<typeof SubmitBody>,
  extra: (job: { job_id: string; created_at: Date }) => Record<string, unknown> = () => ({}),
) {
  const s = services();
  await s.ready();
  const r = await submitJob(s, durableClient(context), {
    workflowId: body.workflow_id,
    inputs: body.inputs,
    ...(body.idempotency_key ? { idempotencyKey: body.idempotency_key } : {}),
    ...(body.correlation_id ? { correlationId: body.correlation_id } : {}),
    ...(body.submitted_by ? { submittedBy: body.submitted_by } : {}),
  });
  void req;
  return json(
    r.created ? 202 : 200,
    {
      job_id: r.job.job_id,
      status: r.job.status,
      created: r.created,
      links: jobLinks(r.job.job_id),
      ...(r.warnings.length ? { warnings: r.warnings } : {}),
      ...extra(r.job),
    },
    { location: jobLinks(r.job.job_id).self },
  );
}

export async function postJob(req: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return submitResponse(req, context, await parseBody(req, SubmitBody));
}

export async function postGatewaySubmit(
  req: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const b = await parseBody(req, GatewayBody);
  return submitResponse(
    req,
    context,
    {
      workflow_id: b.workflow_id,
      inputs: b.input_params,
      ...(b.idempotency_key ? { idempotency_key: b.idempotency_key } : {}),
      ...(b.correlation_id ? { correlation_id: b.correlation_id } : {}),
      submitted_by: b.submitted_by ?? 'gateway',
    },
    (job) => ({
      // The original gateway's fields (it queued the job; here it exists at once: message_id is its id).
      message_id: job.job_id,
      workflow_id: b.workflow_id,
      submitted_at: job.created_at.toISOString(),
      correlation_id: b.correlation_id ?? null,
    }),
  );
}

const ListJobsQuery = z.strictObject({
  status: z
    .string()
    .transform((s) => s.split(',').map((x) => x.trim()))
    .pipe(z.array(z.enum(JOB_STATUSES)))
    .optional(),
  workflow_id: workflowId.optional(),
  correlation_id: correlationId.optional(),
  limit: limitParam(500),
  cursor: z.string().min(1).max(1000).optional(),
});

export async function getJobs(req: HttpRequest): Promise<HttpResponseInit> {
  const q = parseQuery(req, ListJobsQuery);
  const s = services();
  const page = await listJobs(s.pool, s.schema, {
    ...(q.status ? { status: q.status } : {}),
    ...(q.workflow_id ? { workflowId: q.workflow_id } : {}),
    ...(q.correlation_id ? { correlationId: q.correlation_id } : {}),
    ...(q.limit ? { limit: q.limit } : {}),
    ...(q.cursor ? { cursor: q.cursor } : {}),
  });
  return json(200, { jobs: page.items.map(jobSummaryView), next_cursor: page.nextCursor });
}

/** Children shown inline in GET /api/jobs/{id}; the rest through /nodes?parent=<fan_out>. */
const INLINE_CHILDREN = 1000;

export async function getJobDetail(req: HttpRequest): Promise<HttpResponseInit> {
  const jobId = param(req, 'id');
  const s = services();
  const job = await getJobOrThrow(s, jobId);
  const [staticNodes, summary] = await Promise.all([
    listNodes(s.pool, s.schema, jobId, { parentNodeId: null, limit: 5000 }),
    nodeSummary(s.pool, s.schema, jobId),
  ]);
  // Fan-out children inline up to INLINE_CHILDREN in all; the rest through /nodes?parent=<fan_out>.
  const children: typeof staticNodes.items = [];
  let truncated = false;
  for (const n of staticNodes.items.filter((x) => x.node_type === 'fan_out')) {
    const room = INLINE_CHILDREN - children.length;
    if (room <= 0) {
      truncated = true;
      break;
    }
    const page = await listNodes(s.pool, s.schema, jobId, { parentNodeId: n.node_id, limit: room });
    children.push(...page.items);
    truncated ||= page.nextCursor !== null;
  }
  return json(200, {
    job: jobView(job),
    nodes: [...staticNodes.items, ...children].map(nodeView),
    node_summary: summary,
    nodes_truncated: truncated,
    links: jobLinks(jobId),
  });
}

const NodesQuery = z.strictObject({
  parent: z.string().min(1).max(64).optional(),
  static: z.enum(['true', 'false']).optional(),
  status: z
    .string()
    .transform((s) => s.split(',').map((x) => x.trim()))
    .pipe(z.array(z.enum(NODE_STATUSES)))
    .optional(),
  limit: limitParam(5000),
  cursor: z.string().min(1).max(1000).optional(),
});

export async function getJobNodes(req: HttpRequest): Promise<HttpResponseInit> {
  const jobId = param(req, 'id');
  const q = parseQuery(req, NodesQuery);
  const s = services();
  const job = await getJobOrThrow(s, jobId);
  if (q.parent !== undefined) checkFanOutParent(job.workflow_snapshot, jobId, q.parent);
  const page = await listNodes(s.pool, s.schema, jobId, {
    ...(q.parent ? { parentNodeId: q.parent } : q.static === 'true' ? { parentNodeId: null } : {}),
    ...(q.status ? { status: q.status } : {}),
    ...(q.limit ? { limit: q.limit } : {}),
    ...(q.cursor ? { cursor: q.cursor } : {}),
  });
  return json(200, { job_id: jobId, nodes: page.items.map(nodeView), next_cursor: page.nextCursor });
}

/** ?parent= must name a fan_out node of the job's pinned workflow. */
function checkFanOutParent(snapshot: unknown, jobId: string, parent: string): void {
  const nodes = (snapshot as { nodes?: Record<string, { type?: string }> } | null)?.nodes ?? {};
  const node = Object.hasOwn(nodes, parent) ? nodes[parent] : undefined;
  if (!node) {
    throw new AppError('NOT_FOUND', `Job ${jobId} has no node "${parent}" (parent=${parent}).`);
  }
  if (node.type !== 'fan_out') {
    throw new AppError(
      'VALIDATION',
      `parent: node "${parent}" of job ${jobId} is a ${node.type} node; only a fan_out node has children.`,
      [{ path: 'parent', message: `"${parent}" is not a fan_out node` }],
    );
  }
}

const EventsQuery = z.strictObject({
  node_id: z.string().min(1).max(140).optional(),
  type: z
    .string()
    .transform((s) => s.split(',').map((x) => x.trim()))
    .pipe(z.array(z.enum(EVENT_TYPES)))
    .optional(),
  limit: limitParam(1000),
  cursor: z.string().min(1).max(1000).optional(),
});

export async function getJobEvents(req: HttpRequest): Promise<HttpResponseInit> {
  const jobId = param(req, 'id');
  const q = parseQuery(req, EventsQuery);
  const s = services();
  await getJobOrThrow(s, jobId);
  const page = await listEvents(s.pool, s.schema, jobId, {
    ...(q.node_id ? { nodeId: q.node_id } : {}),
    ...(q.type ? { type: q.type } : {}),
    ...(q.limit ? { limit: q.limit } : {}),
    ...(q.cursor ? { cursor: q.cursor } : {}),
  });
  return json(200, { job_id: jobId, events: page.items.map(eventView), next_cursor: page.nextCursor });
}

const CancelBody = z.strictObject({ reason: z.string().max(500).optional() });

export async function postCancel(req: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const jobId = param(req, 'id');
  const body = await parseBody(req, CancelBody);
  const job = await cancelJob(services(), durableClient(context), jobId, body.reason);
  return json(202, {
    job_id: job.job_id,
    status: job.status,
    cancel_requested: true,
    links: jobLinks(jobId),
  });
}

export async function postRetry(req: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const jobId = param(req, 'id');
  await parseBody(req, z.strictObject({}));
  const job = await retryJob(services(), durableClient(context), jobId);
  return json(202, { job_id: job.job_id, status: job.status, run: job.run_count, links: jobLinks(jobId) });
}

// Seed compatibility: the original gateway's status routes.

const StatusJobQuery = z.strictObject({ include_nodes: z.enum(['true', 'false']).optional() });

export async function getStatusJob(req: HttpRequest): Promise<HttpResponseInit> {
  const jobId = param(req, 'id');
  const q = parseQuery(req, StatusJobQuery);
  const s = services();
  const job = await getJobOrThrow(s, jobId);
  const nodes =
    q.include_nodes === 'false'
      ? undefined
      : (await listNodes(s.pool, s.schema, jobId, { parentNodeId: null, limit: 5000 })).items.map(nodeView);
  return json(200, { ...jobView(job), ...(nodes ? { nodes } : {}) });
}

const StatusJobsQuery = z.strictObject({
  status: z.enum(JOB_STATUSES).optional(),
  workflow_id: workflowId.optional(),
  limit: limitParam(500),
  cursor: z.string().min(1).max(1000).optional(),
  offset: z.string().optional(),
});

export async function getStatusJobs(req: HttpRequest): Promise<HttpResponseInit> {
  const q = parseQuery(req, StatusJobsQuery);
  if (q.offset !== undefined && q.offset !== '0') {
    throw new AppError(
      'VALIDATION',
      'offset paging is not supported: pass the next_cursor of the previous page as cursor.',
    );
  }
  const s = services();
  const limit = q.limit ?? 50;
  const page = await listJobs(s.pool, s.schema, {
    ...(q.status ? { status: q.status } : {}),
    ...(q.workflow_id ? { workflowId: q.workflow_id } : {}),
    limit,
    ...(q.cursor ? { cursor: q.cursor } : {}),
  });
  return json(200, { jobs: page.items.map(jobSummaryView), limit, next_cursor: page.nextCursor });
}

/** The zod schemas of these routes' bodies and query strings, by handler (the OpenAPI document). */
export const JOB_ROUTE_SCHEMAS = new Map<unknown, { body?: z.ZodType; query?: z.ZodType }>([
  [postJob, { body: SubmitBody }],
  [postGatewaySubmit, { body: GatewayBody }],
  [getJobs, { query: ListJobsQuery }],
  [getJobNodes, { query: NodesQuery }],
  [getJobEvents, { query: EventsQuery }],
  [postCancel, { body: CancelBody }],
  [getStatusJob, { query: StatusJobQuery }],
  [getStatusJobs, { query: StatusJobsQuery }],
]);
