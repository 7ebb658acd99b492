// Activity: hands attempts to the container workers — one (a task node) or a batch of a fan-out's
// children: marks the nodes dispatched (resolved params, deadlines) in one statement and sends the
// task messages to their Storage Queues, several tasks per message on the queues of the product's
// own workers (DAG_TASKS_PER_MESSAGE, DAG_WORKER_QUEUES). The results come back on the result queue and are raised to the
// orchestration as events named after the task ids. Idempotent: a redelivered enqueue of a started
// attempt sends its message again, and the worker acknowledges a task that already has a result
// without running it twice.
import { retryDelaySeconds } from '../dag/retryDelay';
import {
  recordTaskMessages,
  recordTaskResults,
  startAttempts,
  type StartAttemptOutcome,
  type TaskMessageInput,
  type TaskResultInput,
} from '../db';
import { errorMessage } from '../handlers/executeHandler';
import type { ContainerTaskMessage } from '../lib/containerMessages';
import { currentTraceparent, withSpan } from '../handlers/telemetry';
import type { ActivityDeps } from './activityDeps';
import { buildTaskMessage } from './buildTaskMessage';
import { packTaskMessages } from './packTaskMessages';
import { EnqueueTasksInputSchema, type EnqueueOutput, type EnqueueTasksOutput } from './contracts';
import { prepareAttempts } from './prepareAttempts';
import { notStarted } from './runTasks';

export async function enqueueContainerTasks(
  deps: ActivityDeps,
  rawInput: unknown,
): Promise<EnqueueTasksOutput> {
  const { attempts, resultsEvent } = EnqueueTasksInputSchema.parse(rawInput);
  const batchQueues = new Set(deps.batchQueues ?? []);
  // The results come several per event when the messages ask for it: only the product's workers copy
  // results_event (a call's attempts share one queue).
  const together = !!resultsEvent && batchQueues.has(attempts[0]!.queue);
  const ready = await prepareAttempts(deps, attempts);
  if (!ready.ok) return { results: ready.results };
  const { data, prepared } = ready;
  const jobId = attempts[0]!.jobId;
  const starts = await startAttempts(
    deps.pool,
    deps.schema,
    prepared.map(({ a, spec, params }) => ({
      jobId: a.jobId,
      nodeId: a.key,
      taskId: a.taskId,
      attempt: a.attempt,
      to: 'dispatched' as const,
      deadlineAt: new Date(a.deadline),
      ...(a.index === undefined ? { inputParams: params ?? null } : {}),
      handler: spec?.handler ?? 'unknown',
      queue: a.queue,
      sourceApp: deps.sourceApp,
    })),
  );

  const results: EnqueueOutput[] = new Array(attempts.length);
  // Attempts claimed in Postgres that could not be sent fail there too, so the next attempt can start.
  const failures: TaskResultInput[] = [];
  const fails: Array<(error: string, retryable: boolean) => void> = [];
  // What was sent, so that a message the queue loses can be found missing (strandedAttempts.ts).
  const sentMessages: TaskMessageInput[] = [];
  // One producer span per call (a fan-out batch is one): every message carries its traceparent, so the
  // worker's consumer span joins the job's trace.
  const job = data.job;
  const queues = [...new Set(attempts.map((a) => a.queue))].join(',');
  await withSpan(
    `enqueue ${queues}`,
    {
      kind: 'producer',
      dimensions: {
        job_id: jobId,
        workflow_id: data.job.workflow_id,
        queue: queues,
        ...(attempts.length === 1
          ? { node_id: attempts[0]!.key, task_id: attempts[0]!.taskId, attempt: attempts[0]!.attempt }
          : {}),
      },
      attributes: {
        'messaging.system': 'azure_storage_queue',
        'messaging.operation.type': 'send',
        'messaging.destination.name': queues,
        'messaging.batch.message_count': attempts.length,
      },
    },
    () => sendAll(),
  );
  async function sendAll() {
    const traceparent = currentTraceparent();
    const ready: Array<{ i: number; a: (typeof attempts)[number]; message: ContainerTaskMessage }> = [];
    prepared.forEach(({ a, spec, params, renderError }, i) => {
      const start = starts[i]!;
      const early = notStarted(start, a);
      if (early) {
        results[i] = early;
        return;
      }
      const node = (start as Extract<StartAttemptOutcome, { kind: 'started' | 'already_started' }>).node;
      fails[i] = (error: string, retryable: boolean) => {
        results[i] = { ok: false, error, retryable };
        failures.push({
          taskId: a.taskId,
          jobId: a.jobId,
          nodeId: a.key,
          attempt: a.attempt,
          status: 'failed',
          errorMessage: error,
          retryable,
          retryDelayMs: retryDelaySeconds(spec?.retry, a.attempt - node.first_attempt) * 1000,
        });
      };
      if (renderError !== undefined || !spec) return fails[i](renderError ?? 'unknown node', false);
      const message = buildTaskMessage({
        taskId: a.taskId,
        jobId: a.jobId,
        nodeId: a.key,
        attempt: a.attempt,
        handler: spec.handler,
        params: a.index === undefined ? params : node.input_params,
        timeoutSeconds: a.timeoutSeconds,
        deadline: new Date(a.deadline),
        correlationId: job.correlation_id,
        replyTo: a.instanceId,
        resultQueue: deps.resultQueue,
        workflowId: job.workflow_id,
        // The product's workers copy it into the result, which the trigger then raises with others.
        ...(together ? { resultsEvent } : {}),
        ...(traceparent ? { traceparent } : {}),
      });
      ready.push({ i, a, message });
    });
    const packs = packTaskMessages(
      ready,
      (r) => r.a.queue,
      (r) => r.message,
      (q) => (batchQueues.has(q) ? (deps.tasksPerMessage ?? 1) : 1),
    );
    await Promise.all(
      packs.map(async (pack) => {
        const queue = pack[0]!.a.queue;
        try {
          const sent = await deps.sendToQueue(
            queue,
            pack.length === 1 ? pack[0]!.message : { v: 1, tasks: pack.map((r) => r.message) },
          );
          for (const { i, a } of pack) {
            sentMessages.push({
              ...sent,
              taskId: a.taskId,
              queue,
              jobId: a.jobId,
              nodeId: a.key,
              replyTo: a.instanceId,
            });
            results[i] = { ok: true };
          }
        } catch (err) {
          for (const { i } of pack)
            fails[i]!(`Could not send the task to queue "${queue}": ${errorMessage(err)}`, true);
        }
      }),
    );
  }
  if (failures.length)
    await recordTaskResults(deps.pool, deps.schema, failures, { sourceApp: deps.sourceApp });
  // Only the detection of lost messages depends on this row: a failure does not fail the attempts.
  await recordTaskMessages(deps.pool, deps.schema, sentMessages).catch((err: unknown) =>
    deps.log.warn('could not record the task messages sent (a lost one is then found only at its deadline)', {
      job_id: jobId,
      error: errorMessage(err),
    }),
  );
  return { results, ...(together ? { together: true as const } : {}) };
}
