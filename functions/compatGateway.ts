// The original gateway's routes (docs/compatibility.md): the batch submit and the status reads, over
// the same submit and list code as /api/jobs (jobService.ts).
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { durableClient } from './durableClient';
import { z } from 'zod';
import { AppError, isAppError } from './appError';
import {
  EVENT_TYPES,
  JOB_STATUSES,
  NODE_STATUSES,
  findJobByCorrelationId,
  jobStats,
  listEvents,
  listNodes,
} from '../db';
import { objectParams, printable, v1EventView, v1NodeView } from './compatViews';
import { json, limitParam, param, parseBody, parseQuery } from './http';
import { getJobOrThrow, jobSummaryView, submitJob } from './jobService';
import { services } from './services';

// ---------------------------------------------------------------------------------------------------
// The gateway's batch submit and status reads.

export const BatchItem = z.strictObject({
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
  const client = durableClient(context);
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

export const StatusNodesQuery = z.strictObject({ status: z.enum(NODE_STATUSES).optional() });

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

export const StatusEventsQuery = z.strictObject({
  limit: limitParam(1000),
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
