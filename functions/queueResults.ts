// Storage Queue trigger on the result queue: a container worker's result, or a batch of them, is
// raised to the waiting orchestration as an external event named after the attempt's task id — or,
// for results that name a results_event (the fan-out children of one enqueue call of a job from
// scheduler version 4), together with the others of the message for the same call, as one event
// named after the first of them (ResultsEventSchema).
//
// Trust: a result message is a doorbell, not evidence. The worker writes the result to Postgres
// before it sends the message, so the outcome raised is read from Postgres (the recorded result and
// the node's state), whatever the message claims; a message whose task has no recorded result, or
// whose recorded result was not applied (a stale attempt, a finished job), is dropped. (The event
// goes to the message's reply_to: only the instance that dispatched a task id waits for it, so
// naming another instance changes nothing.) The one exception spares that read: a result signed with
// a key of dag_result_keys carries the outcome its record applied, which is raised as signed
// (lib/io/resultSignature.ts). Forging a result therefore needs access to Postgres, not just to the
// queue (docs/messages.md). Delivered at least once: a repeat is harmless (the orchestration ignores it).
import type { InvocationContext } from '@azure/functions';
import { durableClient } from './durableClient';
import { canonicalOutcome } from '../activities/settleAttempts';
import {
  RESULTS_PER_EVENT_MAX,
  ResultQueueMessageSchema,
  resultsOf,
  type AttemptOutcome,
  type ContainerResultMessage,
  type ResultsEvent,
} from '../lib/containerMessages';
import { readRecordedResults, type RecordedResult } from '../db';
import { resultSignatureMatches, signatureKeyId } from '../lib/io/resultSignature';
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
  // A result signed with a key of dag_result_keys carries the outcome its record applied; the others
  // are read from Postgres, all in one statement (a failure throws: the message is retried).
  const s = services();
  const signed = await signedOutcomes(results);
  const recorded = await readRecordedResults(
    s.pool,
    s.schema,
    results.filter((m) => !signed.has(m)).map((m) => m.task_id),
  );
  // Each result is a consumer span in its job's trace (the worker's span that sent it is the parent).
  // Results that name a results_event are raised together with the others of the same enqueue call
  // (one event for many, named after the first of their task ids: orchestrations/awaitResults.ts);
  // the rest one by one, each as an event named after its task id.
  const together = new Map<string, Array<{ m: ContainerResultMessage; outcome: AttemptOutcome }>>();
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
        async () => {
          const outcome = signed.get(m) ?? appliedOutcome(m, recorded.get(m.task_id));
          if (!outcome) return;
          if (!m.results_event) return raise(context, m.reply_to, m.task_id, outcome, m);
          const key = `${m.reply_to}\n${m.results_event}`;
          together.set(key, [...(together.get(key) ?? []), { m, outcome }]);
        },
      ),
    ),
  );
  const failures = settled.flatMap((r, i) =>
    r.status === 'rejected'
      ? [`${results[i]!.task_id}: ${r.reason instanceof Error ? r.reason.message : String(r.reason)}`]
      : [],
  );
  for (const group of together.values()) {
    const { reply_to } = group[0]!.m;
    for (let i = 0; i < group.length; i += RESULTS_PER_EVENT_MAX) {
      const part = group.slice(i, i + RESULTS_PER_EVENT_MAX);
      // Named after the first of its tasks (each task id names at most one event: awaitResults.ts).
      const first = part[0]!;
      const payload: AttemptOutcome | ResultsEvent =
        part.length === 1
          ? first.outcome
          : { results: part.map(({ m, outcome }) => ({ task_id: m.task_id, outcome })) };
      try {
        await raise(context, reply_to, first.m.task_id, payload, first.m);
      } catch (err) {
        failures.push(
          `${part.map(({ m }) => m.task_id).join(', ')}: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
    }
  }
  if (failures.length)
    throw new Error(
      `Could not deliver ${failures.length} container result(s); the message will be retried: ${failures.join('; ')}`,
    );
}

/**
 * The outcomes of the results whose signature checks out (lib/io/resultSignature.ts). A signature
 * that does not is logged: the result is read from Postgres like an unsigned one, so a forged
 * message still raises only what Postgres recorded.
 */
async function signedOutcomes(
  results: readonly ContainerResultMessage[],
): Promise<Map<ContainerResultMessage, AttemptOutcome>> {
  const out = new Map<ContainerResultMessage, AttemptOutcome>();
  const keys = services().resultKeys;
  for (const m of results) {
    if (!m.signature || !m.outcome) continue;
    const keyId = signatureKeyId(m.signature);
    if (keyId === undefined) continue;
    const signed = { ...m, outcome: m.outcome };
    let key = await keys.byId(keyId);
    // A key this process does not hold yet, or one replaced since it read them: read them again
    // (at most once a minute).
    if (!key || !resultSignatureMatches(key, signed, m.signature)) key = await keys.recheck(keyId);
    if (key && resultSignatureMatches(key, signed, m.signature)) {
      out.set(m, m.outcome);
      continue;
    }
    metrics.unverifiedResult(key ? 'mismatch' : 'unknown_key');
    services()
      .log.child({ job_id: m.job_id, node_id: m.node_id, task_id: m.task_id })
      .warn(
        key
          ? 'container result signature does not match: its outcome is read from Postgres'
          : `container result signed with key ${keyId}, which this app does not hold: its outcome is read from Postgres`,
      );
  }
  return out;
}

/** The outcome Postgres recorded for the result, when it was applied (else dropped, with why). */
function appliedOutcome(
  m: ContainerResultMessage,
  recorded: RecordedResult | undefined,
): AttemptOutcome | undefined {
  const log = services().log.child({ job_id: m.job_id, node_id: m.node_id, task_id: m.task_id });
  if (!recorded) {
    log.warn(
      'container result dropped: no result is recorded for its task (results are written before they are sent)',
    );
    return undefined;
  }
  const disposition = recorded.state.result?.disposition;
  if (disposition !== 'applied') {
    log.info('container result dropped', { disposition });
    metrics.staleResult({ node_id: m.node_id, disposition: disposition ?? 'none', runner: 'container' });
    return undefined;
  }
  return canonicalOutcome(recorded.attempt, recorded.state, 'failed');
}

async function raise(
  context: InvocationContext,
  instance: string,
  name: string,
  payload: unknown,
  m: ContainerResultMessage,
): Promise<void> {
  try {
    // A finished instance (410) is accepted silently by the client; only an unknown one throws.
    await durableClient(context).raiseEvent(instance, name, payload);
  } catch (err) {
    if (!(err instanceof Error) || !/^No instance with ID/.test(err.message)) throw err;
    services()
      .log.child({ job_id: m.job_id, node_id: m.node_id, task_id: m.task_id })
      .warn('container result for an unknown orchestration instance dropped', { instance });
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
