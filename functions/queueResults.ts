// Storage Queue trigger on the result queue: a container worker's result, or a batch of them
// (already written to Postgres by the worker), is raised to the waiting orchestration as an
// external event named after the attempt's task id. Results of stale attempts, finished jobs or unknown instances are recorded
// and dropped. Delivered at least once: a repeat is harmless (the orchestration ignores it).
import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import {
  ResultQueueMessageSchema,
  resultsOf,
  type AttemptOutcome,
  type ContainerResultMessage,
} from '../dag/containerMessages';
import { recordTaskResult, taskResultDisposition } from '../db';
import { services } from './services';

export async function onContainerResult(message: unknown, context: InvocationContext): Promise<void> {
  const raw = typeof message === 'string' ? safeJson(message) : message;
  const parsed = ResultQueueMessageSchema.safeParse(raw);
  if (!parsed.success) {
    // Thrown: after maxDequeueCount tries the message is kept in the poison queue for inspection.
    throw new Error(
      `Invalid container result message: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  // A batch: every result is handled even when one fails; the message is retried if any failed
  // (the ones raised already are raised again, which the orchestration ignores).
  const results = resultsOf(parsed.data);
  const settled = await Promise.allSettled(results.map((m) => raiseResult(m, context)));
  const failures = settled.flatMap((r, i) =>
    r.status === 'rejected'
      ? [`${results[i]!.task_id}: ${r.reason instanceof Error ? r.reason.message : String(r.reason)}`]
      : [],
  );
  if (failures.length)
    throw new Error(
      `Could not deliver ${failures.length} container result(s); the message will be retried: ${failures.join('; ')}`,
    );
}

async function raiseResult(m: ContainerResultMessage, context: InvocationContext): Promise<void> {
  const s = services();
  const log = s.log.child({ job_id: m.job_id, node_id: m.node_id, task_id: m.task_id });
  let disposition = await taskResultDisposition(s.pool, s.schema, m.task_id);
  if (disposition === null) {
    // The worker writes the result before sending it; a result without a row came from elsewhere.
    const r = await recordTaskResult(
      s.pool,
      s.schema,
      {
        taskId: m.task_id,
        jobId: m.job_id,
        nodeId: m.node_id,
        attempt: m.attempt,
        status: m.status,
        errorMessage: m.error_message ?? null,
        retryable: m.retryable,
        workerId: m.worker_id ?? null,
        durationMs: m.execution_duration_ms ?? null,
      },
      { sourceApp: 'functionapp' },
    );
    disposition = r.kind === 'applied' ? 'applied' : r.kind;
  }
  if (disposition !== 'applied') {
    log.info('container result dropped', { disposition });
    return;
  }
  const outcome: AttemptOutcome =
    m.status === 'completed'
      ? { ok: true }
      : { ok: false, error: m.error_message ?? 'failed', retryable: m.retryable };
  try {
    // A finished instance (410) is accepted silently by the client; only an unknown one throws.
    await df.getClient(context).raiseEvent(m.reply_to, m.task_id, outcome);
  } catch (err) {
    if (!(err instanceof Error) || !/^No instance with ID/.test(err.message)) throw err;
    log.warn('container result for an unknown orchestration instance dropped', { instance: m.reply_to });
  }
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}
