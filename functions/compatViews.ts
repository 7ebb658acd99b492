// What the original system's routes share (docs/compatibility.md): the /api/v1 error wrapper, its
// response shapes (JobResponse, NodeResponse, JobEvent) and the request fields its bodies and queries use.
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { z } from 'zod';
import type { JobEventRow, JobRow, JobSummaryRow, NodeRow } from '../db';
import { toResponse } from './http';
import { eventView } from './jobService';

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
// Request fields.

export const objectParams = z.custom<Record<string, unknown>>(
  (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
  'must be a JSON object of input names to values',
);
export const printable = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[\x20-\x7e]+$/, 'must be printable ASCII');
