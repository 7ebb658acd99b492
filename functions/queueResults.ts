// Storage Queue trigger on the result queue: a container worker's result, or a batch of them, is
// raised to the waiting orchestration as an external event named after the attempt's task id.
//
// Trust: a result message is a doorbell, not evidence. The worker writes the result to Postgres
// before it sends the message, so the outcome raised is read from Postgres (the recorded result and
// the node's state), whatever the message claims; a message whose task has no recorded result, or
// whose recorded result was not applied (a stale attempt, a finished job), is dropped. (The event
// goes to the message's reply_to: only the instance that dispatched a task id waits for it, so
// naming another instance changes nothing.) Forging a result therefore needs write access to Postgres, not just to the queue
// (docs/messages.md). Delivered at least once: a repeat is harmless (the orchestration ignores it).
import type { InvocationContext } from '@azure/functions';
import { durableClient } from './durableClient';
import { canonicalOutcome } from '../activities/settleAttempts';
import { ResultQueueMessageSchema, resultsOf, type ContainerResultMessage } from '../lib/containerMessages';
import { readRecordedResults, type RecordedResult } from '../db';
import { metrics, trackException, withSpan } from '../handlers/telemetry';
import { services } from './services';

export async function onContainerResult(message: unknown, context: InvocationContext): Promise<void> {
  const raw = typeof message === 'string' ? safeJson(message) : message;
  const parsed = ResultQueueMessageSchema.safeParse(raw);
  if (!parsed.success) {
    const error = `Invalid container result message: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`;
    // The host moves it to the poison queue after its last delivery: that is an exception in the portal.
    if (Number(context.triggerMetadata?.dequeueCount ?? 0) >= POISON_AFTER) {
      trackException('PoisonMessage', error, { queue: resultQueueName() });
      metrics.poisoned({ queue: resultQueueName() });
    }
    // Thrown: after maxDequeueCount tries the message is kept in the poison queue for inspection.
    throw new Error(error);
  }
  // A batch: every result is handled even when one fails; the message is retried if any failed
  // (the ones raised already are raised again, which the orchestration ignores).
  const results = resultsOf(parsed.data);
  // What Postgres recorded for every result of the message, in one statement (a failure throws: the
  // message is retried).
  const s = services();
  const recorded = await readRecordedResults(
    s.pool,
    s.schema,
    results.map((m) => m.task_id),
  );
  // Each result is a consumer span in its job's trace (the worker's span that sent it is the parent).
  const settled = await Promise.allSettled(
    results.map((m) =>
      withSpan(
        `process ${resultQueueName()}`,
        {
          kind: 'consumer',
          parent: m.traceparent,
          dimensions: { job_id: m.job_id, node_id: m.node_id, task_id: m.task_id, attempt: m.attempt },
          attributes: {
            'messaging.system': 'azure_storage_queue',
            'messaging.operation.type': 'process',
            'messaging.destination.name': resultQueueName(),
            'result.status': m.status,
          },
        },
        () => raiseResult(m, recorded.get(m.task_id), context),
      ),
    ),
  );
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

async function raiseResult(
  m: ContainerResultMessage,
  recorded: RecordedResult | undefined,
  context: InvocationContext,
): Promise<void> {
  const log = services().log.child({ job_id: m.job_id, node_id: m.node_id, task_id: m.task_id });
  if (!recorded) {
    log.warn(
      'container result dropped: no result is recorded for its task (results are written before they are sent)',
    );
    return;
  }
  const disposition = recorded.state.result?.disposition;
  if (disposition !== 'applied') {
    log.info('container result dropped', { disposition });
    metrics.staleResult({ node_id: m.node_id, disposition: disposition ?? 'none', runner: 'container' });
    return;
  }
  const outcome = canonicalOutcome(recorded.attempt, recorded.state, 'failed');
  const instance = m.reply_to;
  try {
    // A finished instance (410) is accepted silently by the client; only an unknown one throws.
    await durableClient(context).raiseEvent(instance, m.task_id, outcome);
  } catch (err) {
    if (!(err instanceof Error) || !/^No instance with ID/.test(err.message)) throw err;
    log.warn('container result for an unknown orchestration instance dropped', { instance });
  }
}

/** The host's maxDequeueCount (host.json extensions.queues). */
const POISON_AFTER = 5;

const resultQueueName = () => services().config.DAG_RESULT_QUEUE;

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}
