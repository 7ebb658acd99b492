// Status and event vocabularies (SPEC §2). Each is a zod enum and a PostgreSQL enum type of the same
// name; adding a value here is picked up by `migrate` (ALTER TYPE ... ADD VALUE IF NOT EXISTS).
import { z } from 'zod';

export const JOB_STATUSES = ['pending', 'running', 'completed', 'failed', 'cancelled'] as const;
export const JobStatus = z.enum(JOB_STATUSES);
export type JobStatus = z.infer<typeof JobStatus>;
export const TERMINAL_JOB_STATUSES: readonly JobStatus[] = ['completed', 'failed', 'cancelled'];

export const NODE_STATUSES = [
  'pending',
  'ready',
  'dispatched',
  'running',
  'completed',
  'failed',
  'skipped',
] as const;
export const NodeStatus = z.enum(NODE_STATUSES);
export type NodeStatus = z.infer<typeof NodeStatus>;
export const TERMINAL_NODE_STATUSES: readonly NodeStatus[] = ['completed', 'failed', 'skipped'];

export const NODE_TYPES = ['start', 'end', 'task', 'conditional', 'fan_out', 'fan_in', 'child'] as const;
export const NodeType = z.enum(NODE_TYPES);
export type NodeType = z.infer<typeof NodeType>;

/** job_cancelled: the job was cancelled before the node could run (set by finishJob). */
export const SKIP_REASONS = ['branch_not_taken', 'upstream_failed', 'job_cancelled'] as const;
export const SkipReason = z.enum(SKIP_REASONS);
export type SkipReason = z.infer<typeof SkipReason>;

export const TASK_RESULT_STATUSES = ['completed', 'failed'] as const;
export const TaskResultStatus = z.enum(TASK_RESULT_STATUSES);
export type TaskResultStatus = z.infer<typeof TaskResultStatus>;

/** What happened to an attempt result: applied to the node, or recorded and ignored (and why). */
export const RESULT_DISPOSITIONS = ['applied', 'stale', 'duplicate', 'ignored_job_terminal'] as const;
export const ResultDisposition = z.enum(RESULT_DISPOSITIONS);
export type ResultDisposition = z.infer<typeof ResultDisposition>;

export const EVENT_TYPES = [
  'job_created',
  'job_started',
  'job_completed',
  'job_failed',
  'job_cancelled',
  'job_cancel_requested',
  'job_rerun',
  'node_ready',
  'node_dispatched',
  'node_started',
  'node_completed',
  'node_failed',
  'node_retry',
  'node_skipped',
  'node_timeout',
  'node_reset',
  'fan_out_expanded',
  'checkpoint_saved',
  'result_ignored',
  /** The attempt's task message was lost (no longer in its queue, no worker on it): sent again. */
  'node_requeued',
] as const;
export const EventType = z.enum(EVENT_TYPES);
export type EventType = z.infer<typeof EventType>;

export const EVENT_STATUSES = ['info', 'success', 'warning', 'failure'] as const;
export const EventStatus = z.enum(EVENT_STATUSES);
export type EventStatus = z.infer<typeof EventStatus>;

/**
 * Job transitions the repositories accept. failed → running is the rerun path (rerunJob only).
 * A same-status "transition" is not listed: use the update functions for that.
 */
export const JOB_TRANSITIONS: Readonly<Record<JobStatus, readonly JobStatus[]>> = {
  pending: ['running', 'completed', 'failed', 'cancelled'],
  running: ['completed', 'failed', 'cancelled'],
  completed: [],
  failed: ['running'],
  cancelled: [],
};

/**
 * Node transitions the repositories accept: forward moves, retry (back to ready/pending from an
 * in-flight status) and rerun (failed/skipped back to pending/ready). completed is final.
 */
export const NODE_TRANSITIONS: Readonly<Record<NodeStatus, readonly NodeStatus[]>> = {
  pending: ['ready', 'dispatched', 'running', 'completed', 'failed', 'skipped'],
  ready: ['pending', 'dispatched', 'running', 'completed', 'failed', 'skipped'],
  dispatched: ['pending', 'ready', 'running', 'completed', 'failed', 'skipped'],
  running: ['pending', 'ready', 'completed', 'failed', 'skipped'],
  completed: [],
  failed: ['pending', 'ready'],
  skipped: ['pending', 'ready'],
};

/** The event a node transition writes by default. */
export const NODE_EVENT_FOR_STATUS: Readonly<Record<NodeStatus, { type: EventType; status: EventStatus }>> = {
  pending: { type: 'node_reset', status: 'info' },
  ready: { type: 'node_ready', status: 'info' },
  dispatched: { type: 'node_dispatched', status: 'info' },
  running: { type: 'node_started', status: 'info' },
  completed: { type: 'node_completed', status: 'success' },
  failed: { type: 'node_failed', status: 'failure' },
  skipped: { type: 'node_skipped', status: 'info' },
};

/** The event a job transition writes by default. */
export const JOB_EVENT_FOR_STATUS: Readonly<Record<JobStatus, { type: EventType; status: EventStatus }>> = {
  pending: { type: 'job_created', status: 'info' },
  running: { type: 'job_started', status: 'info' },
  completed: { type: 'job_completed', status: 'success' },
  failed: { type: 'job_failed', status: 'failure' },
  cancelled: { type: 'job_cancelled', status: 'warning' },
};
