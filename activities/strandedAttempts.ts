// Container attempts nobody is working on, found long before their deadline. The rule:
//
//   an attempt is stranded when it has shown no sign of life for `quietSeconds` (dispatched and never
//   started, or running without a heartbeat — N × the workers' heartbeat interval), no message was
//   sent for it within that time, and every task message sent for it is gone from its queue.
//
// Storage Queues cannot look a message up by id, so the queue is asked with Update Message and the
// receipt that Put Message returned (dag_task_messages): 404 means the message no longer exists;
// success (never dequeued, waiting in a backlog) or a receipt mismatch (a worker dequeued it since,
// and a dead worker's message reappears after its lease) means it does. A message that exists will be
// delivered, so its attempt is not stranded however long it waits. A gone message with the attempt
// still in flight and no result recorded (the worker writes the result before it deletes the message)
// was lost — by the queue (an emulator killed before it saved), or by an operator.
//
// A stranded attempt is sent again as the same attempt (same task id and deadline): the worker starts
// it, or takes over a running one whose holder is dead and resumes from its checkpoint. No retry is
// spent on a message the infrastructure lost; the deadline still bounds the attempt.
import { parseKey } from '../dag/jobState';
import {
  appendEvent,
  attemptStillInFlight,
  listQuietAttempts,
  markMessagesProbed,
  recordTaskMessages,
  type QuietAttempt,
} from '../db';
import { errorMessage } from '../handlers/executeHandler';
import type { ActivityDeps } from './activityDeps';
import { buildTaskMessage } from './buildTaskMessage';
import { loadJobData } from './jobData';
import { taskSpec } from './prepareAttempts';

export interface StrandedAttempt {
  jobId: string;
  nodeId: string;
  taskId: string;
  status: 'dispatched' | 'running';
  attempt: number;
  /** Last sign of life (dispatch, start or heartbeat). */
  since: Date;
  workerId: string | null;
  queue: string;
  /** What was seen, for logs and /api/health. */
  reason: string;
  /** The row as listed (to send the task again). */
  row: QuietAttempt;
}

export interface StrandedScan {
  /** Quiet attempts whose queue was asked. */
  checked: number;
  stranded: StrandedAttempt[];
  /** Quiet attempts whose message still exists (waiting in a backlog, or for its lease to end). */
  waiting: number;
  /** Attempts the queue could not answer for (asked again next time). */
  unknown: number;
}

export async function findStrandedAttempts(
  deps: ActivityDeps,
  o: { quietSeconds: number; limit?: number },
): Promise<StrandedScan> {
  const quiet = await listQuietAttempts(deps.pool, deps.schema, {
    quietSeconds: o.quietSeconds,
    limit: o.limit ?? 100,
  });
  const scan: StrandedScan = { checked: quiet.length, stranded: [], waiting: 0, unknown: 0 };
  await Promise.all(
    quiet.map(async (q) => {
      let present = false;
      try {
        for (const m of q.messages) {
          const sent = { messageId: m.message_id, popReceipt: m.pop_receipt };
          if ((await deps.probeQueueMessage(m.queue, sent)) === 'present') {
            present = true;
            break;
          }
        }
      } catch (err) {
        scan.unknown++;
        deps.log.warn('could not ask the queue whether a task message exists; asked again later', {
          task_id: q.task_id,
          error: errorMessage(err),
        });
        return;
      }
      if (present) {
        scan.waiting++;
        return;
      }
      // Gone from the queue: lost, unless the attempt ended meanwhile (a result is written first).
      const status = q.status;
      if (
        !(await attemptStillInFlight(deps.pool, deps.schema, {
          jobId: q.job_id,
          nodeId: q.node_id,
          taskId: q.task_id,
          status,
        }))
      )
        return;
      const last = q.messages[q.messages.length - 1]!;
      scan.stranded.push({
        jobId: q.job_id,
        nodeId: q.node_id,
        taskId: q.task_id,
        status,
        attempt: q.attempt,
        since: q.since,
        workerId: q.worker_id,
        queue: last.queue,
        reason:
          status === 'dispatched'
            ? `dispatched ${ago(q.since)} ago, never started, and its task message is no longer in queue "${last.queue}"`
            : `no heartbeat from worker ${q.worker_id ?? '?'} for ${ago(q.since)}, and its task message is no longer in queue "${last.queue}"`,
        row: q,
      });
    }),
  );
  await markMessagesProbed(
    deps.pool,
    deps.schema,
    quiet.map((q) => q.task_id),
  );
  return scan;
}

/** Sends each stranded attempt's task again (same attempt); returns how many were sent. */
export async function requeueStranded(deps: ActivityDeps, stranded: StrandedAttempt[]): Promise<number> {
  let sent = 0;
  for (const s of stranded) {
    const data = await loadJobData(deps, s.jobId);
    const spec = data ? taskSpec(data, parseKey(s.nodeId).node) : undefined;
    const last = s.row.messages[s.row.messages.length - 1]!;
    if (!data || !spec || !s.row.deadline_at) continue;
    const message = buildTaskMessage({
      taskId: s.taskId,
      jobId: s.jobId,
      nodeId: s.nodeId,
      attempt: s.attempt,
      handler: spec.handler,
      params: s.row.input_params,
      timeoutSeconds: spec.timeout_seconds,
      deadline: s.row.deadline_at,
      correlationId: data.job.correlation_id,
      replyTo: last.reply_to,
      resultQueue: deps.resultQueue,
    });
    try {
      const m = await deps.sendToQueue(s.queue, message);
      await recordTaskMessages(deps.pool, deps.schema, [
        {
          ...m,
          taskId: s.taskId,
          queue: s.queue,
          jobId: s.jobId,
          nodeId: s.nodeId,
          replyTo: last.reply_to,
        },
      ]);
      await appendEvent(deps.pool, deps.schema, {
        jobId: s.jobId,
        nodeId: s.nodeId,
        taskId: s.taskId,
        type: 'node_requeued',
        status: 'warning',
        data: { attempt: s.attempt, queue: s.queue, status: s.status, reason: s.reason },
        sourceApp: deps.sourceApp,
      });
      sent++;
      deps.log.warn('stranded attempt: its task message was lost; sent again', {
        job_id: s.jobId,
        node_id: s.nodeId,
        task_id: s.taskId,
        reason: s.reason,
      });
    } catch (err) {
      deps.log.error('could not send a stranded attempt again; tried again next time', {
        task_id: s.taskId,
        error: errorMessage(err),
      });
    }
  }
  return sent;
}

function ago(since: Date): string {
  return `${Math.max(0, Math.round((Date.now() - since.getTime()) / 1000))}s`;
}
