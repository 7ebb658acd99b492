// The task message of a container attempt (docs/messages.md), built the same way for its first send
// (dagEnqueueContainerTasks) and for a send again after the message was lost (strandedAttempts).
import { fitsQueueMessage, type ContainerTaskMessage } from '../lib/containerMessages';

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
  workflowId?: string;
  /** The key its result may be raised under together with others (ContainerTaskMessage.results_event). */
  resultsEvent?: string;
  /** The sending span (telemetry on): the worker's span joins the job's trace. */
  traceparent?: string;
}

export function buildTaskMessage(s: TaskMessageSpec): ContainerTaskMessage {
  const envelope: ContainerTaskMessage = {
    v: 1,
    task_id: s.taskId,
    job_id: s.jobId,
    node_id: s.nodeId,
    attempt: s.attempt,
    retry_count: s.attempt,
    handler: s.handler,
    params_in_db: false,
    timeout_seconds: s.timeoutSeconds,
    deadline: s.deadline.toISOString(),
    dispatched_at: new Date().toISOString(),
    correlation_id: s.correlationId,
    reply_to: s.replyTo,
    result_queue: s.resultQueue,
    ...(s.workflowId ? { workflow_id: s.workflowId } : {}),
    ...(s.resultsEvent ? { results_event: s.resultsEvent } : {}),
    ...(s.traceparent ? { traceparent: s.traceparent } : {}),
  };
  // Params travel in the message when the whole encoded message fits the queue's 64 KiB, else the
  // worker reads them from the node's input_params (written when the attempt was dispatched). The
  // envelope (ids, trace context) is counted too.
  const withParams = { ...envelope, params: (s.params ?? {}) as Record<string, unknown> };
  return fitsQueueMessage(withParams) ? withParams : { ...envelope, params_in_db: true };
}
