// Job intake by queue (the original's DAG_JOB_QUEUE, docs/compatibility.md): a Storage Queue trigger
// takes the original JobQueueMessage through the same submit path as POST /api/jobs. A message that
// can never succeed (not JSON, not a job message, an unknown or inactive workflow, invalid inputs)
// goes to `<queue>-poison` at once, wrapped with the reason; a fault that may pass (Postgres down) is
// thrown, so the message reappears and, after maxDequeueCount tries, the host moves it there too.
// Redeliveries are idempotent: the job's idempotency key is the message's idempotency_key, else its
// message_id, else the queue's own message id, so a message delivered twice makes one job.
import type { InvocationContext } from '@azure/functions';
import { durableClient } from './durableClient';
import { z } from 'zod';
import { isAppError } from './appError';
import { services } from './services';
import { submitJob } from './jobService';

const printable = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[\x20-\x7e]+$/, 'must be printable ASCII');

/** The original JobQueueMessage; unknown fields are ignored as its pydantic model did. */
export const JobQueueMessageSchema = z.looseObject({
  workflow_id: z.string().min(1).max(64),
  input_params: z
    .custom<Record<string, unknown>>(
      (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
      'must be a JSON object of input names to values',
    )
    .default({}),
  correlation_id: printable(64).nullish(),
  asset_id: z.string().max(64).nullish(),
  submitted_by: z.string().min(1).max(64).nullish(),
  callback_url: z.string().max(512).nullish(),
  idempotency_key: printable(64).nullish(),
  priority: z.int().min(0).max(10).nullish(),
  submitted_at: z.string().nullish(),
  message_id: printable(100).nullish(),
});
export type JobQueueMessage = z.infer<typeof JobQueueMessageSchema>;

/** Why a message went to the poison queue (the original's dead-letter reasons, and ours). */
export type PoisonReason = 'ParseError' | 'InvalidMessage' | 'WorkflowNotFound' | 'InvalidInputs' | 'Refused';

export async function onJobMessage(message: unknown, context: InvocationContext): Promise<void> {
  const s = services();
  const queue = s.config.DAG_JOB_QUEUE;
  const meta = (context.triggerMetadata ?? {}) as { id?: unknown; dequeueCount?: unknown };
  const queueMessageId = typeof meta.id === 'string' ? meta.id : undefined;
  const log = s.log.child({ queue, queue_message_id: queueMessageId });
  const poison = async (reason: PoisonReason, error: string, original: unknown) => {
    await s.sendToQueue(`${queue}-poison`, {
      reason,
      error,
      queue,
      queue_message_id: queueMessageId ?? null,
      dequeue_count: typeof meta.dequeueCount === 'number' ? meta.dequeueCount : null,
      failed_at: new Date().toISOString(),
      message: original,
    });
    log.warn('job message moved to the poison queue', { reason, error });
  };

  let raw: unknown = message;
  if (typeof message === 'string') {
    try {
      raw = JSON.parse(message);
    } catch (err) {
      return poison('ParseError', `The message is not JSON: ${(err as Error).message}`, message);
    }
  }
  const parsed = JobQueueMessageSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(message)'}: ${i.message}`);
    return poison('InvalidMessage', `Not a job message: ${problems.join('; ')}`, raw);
  }
  const m = parsed.data;
  const key =
    m.idempotency_key ??
    (m.message_id ? `queue:${m.message_id}` : queueMessageId ? `queue:${queueMessageId}` : undefined);
  await s.ready();
  try {
    const r = await submitJob(s, durableClient(context), {
      workflowId: m.workflow_id,
      inputs: m.input_params,
      ...(key ? { idempotencyKey: key } : {}),
      ...(m.correlation_id ? { correlationId: m.correlation_id } : {}),
      submittedBy: m.submitted_by ?? 'queue',
    });
    log.info(r.created ? 'job submitted from the queue' : 'job message delivered again: the job exists', {
      job_id: r.job.job_id,
      workflow_id: m.workflow_id,
    });
  } catch (err) {
    if (!isAppError(err) || err.code === 'UNAVAILABLE' || err.code === 'INTERNAL') throw err;
    const reason: PoisonReason =
      err.code === 'NOT_FOUND' ? 'WorkflowNotFound' : err.code === 'VALIDATION' ? 'InvalidInputs' : 'Refused';
    return poison(reason, err.message, raw);
  }
}
