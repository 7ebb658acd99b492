// The task message of a container attempt (docs/messages.md), built the same way for its first send
// (dagEnqueueContainerTasks) and for a send again after the message was lost (strandedAttempts).
import { INLINE_PARAMS_MAX_BYTES, type ContainerTaskMessage } from '../dag/containerMessages';

export interface TaskMessageSpec {
  taskId: string;
  jobId: string;
  /** The node row's id (`<fan_out>__<i>` for a child). */
  nodeId: string;
  attempt: number;
  handler: string;
  params: unknown;
  timeoutSeconds: number;
  deadline: Date;
  correlationId: string | null;
  replyTo: string;
  resultQueue: string;
}

export function buildTaskMessage(s: TaskMessageSpec): ContainerTaskMessage {
  const params = s.params ?? {};
  // Params too big for a queue message travel through Postgres (the node's input_params).
  const inline = Buffer.byteLength(JSON.stringify(params)) <= INLINE_PARAMS_MAX_BYTES;
  return {
    v: 1,
    task_id: s.taskId,
    job_id: s.jobId,
    node_id: s.nodeId,
    attempt: s.attempt,
    handler: s.handler,
    ...(inline ? { params: params as Record<string, unknown> } : {}),
    params_in_db: !inline,
    timeout_seconds: s.timeoutSeconds,
    deadline: s.deadline.toISOString(),
    dispatched_at: new Date().toISOString(),
    correlation_id: s.correlationId,
    reply_to: s.replyTo,
    result_queue: s.resultQueue,
  };
}
