// The Storage Queue messages between the Function App and container workers (SPEC §4), shared by
// the enqueue activity, the result-queue trigger and the container worker. Field names follow the
// original system's TaskMessage / result where they exist. Documented in docs/messages.md.
import { z } from 'zod';

/** A Storage Queue message is at most 64 KiB of text; ours are base64 of the JSON. */
export const QUEUE_MESSAGE_MAX_BYTES = 64 * 1024;

/** The size of a message on the queue: base64 of its UTF-8 JSON. */
export function encodedMessageBytes(message: unknown): number {
  return 4 * Math.ceil(Buffer.byteLength(JSON.stringify(message), 'utf8') / 3);
}

/** True when the message fits a Storage Queue message once encoded. */
export const fitsQueueMessage = (message: unknown): boolean =>
  encodedMessageBytes(message) <= QUEUE_MESSAGE_MAX_BYTES;

export const ContainerTaskMessageSchema = z.object({
  /** Message format version. */
  v: z.literal(1),
  task_id: z.string().min(1).max(200),
  job_id: z.string().min(1).max(64),
  node_id: z.string().min(1).max(140),
  /** 0-based attempt (the original system's retry_count). */
  attempt: z.int().min(0),
  /** The same number under the original's name, for workers outside the product (docs/compatibility.md). */
  retry_count: z.int().min(0).optional(),
  handler: z.string().min(1).max(64),
  /** Resolved params; absent when params_in_db (too big for a queue message: read the node's input_params). */
  params: z.record(z.string(), z.unknown()).optional(),
  params_in_db: z.boolean().default(false),
  timeout_seconds: z.int().min(1).max(86400),
  /** The attempt must have finished by then (ISO); the worker enforces timeout_seconds itself. */
  deadline: z.iso.datetime(),
  dispatched_at: z.iso.datetime(),
  correlation_id: z.string().max(64).nullish(),
  /** The orchestration instance waiting for the result (raised as an external event named task_id). */
  reply_to: z.string().min(1).max(300),
  /** The queue results go to. */
  result_queue: z.string().min(3).max(63),
  /** The job's workflow (a telemetry dimension). */
  workflow_id: z.string().max(64).optional(),
  /**
   * Results with the same results_event (the fan-out children of one enqueue call of a job from
   * scheduler version 4) may be raised together, as one event named after the first of their task
   * ids carrying them all (ResultsEventSchema); absent, the result is raised alone as an event named
   * task_id.
   */
  results_event: z.string().min(1).max(200).optional(),
  /**
   * W3C trace context (docs/monitoring.md): the span that sent this message, so that the receiver's
   * span joins the job's trace (one operation id from the submit request to the worker and back).
   */
  traceparent: z
    .string()
    .regex(/^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/)
    .optional(),
});
export type ContainerTaskMessage = z.infer<typeof ContainerTaskMessageSchema>;

/** Most results one results event carries (an event's payload stays small: no large-message blobs). */
export const RESULTS_PER_EVENT_MAX = 100;

/** Most tasks one task message carries (DAG_TASKS_PER_MESSAGE is at most this). */
export const TASKS_PER_MESSAGE_MAX = 64;

/**
 * Several tasks in one queue message: the enqueue activity packs the fan-out children of one call that
 * go to the same queue, so that one Storage transaction (send, receive, delete) carries many tasks.
 * Each element is a ContainerTaskMessage, validated one by one by the worker (an invalid one is
 * poisoned alone). Only the product's own workers read it: queues outside DAG_WORKER_QUEUES get one
 * task per message.
 */
export const ContainerTaskBatchSchema = z.object({
  v: z.literal(1),
  tasks: z.array(z.unknown()).min(1).max(TASKS_PER_MESSAGE_MAX),
});
export type ContainerTaskBatch = { v: 1; tasks: ContainerTaskMessage[] };

/** The external event raised to the orchestration for a container attempt (named after its task id). */
export const AttemptOutcomeSchema = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true) }),
  z.object({
    ok: z.literal(false),
    error: z.string(),
    retryable: z.boolean(),
    cancelled: z.boolean().optional(),
  }),
]);
export type AttemptOutcome = z.infer<typeof AttemptOutcomeSchema>;

/**
 * The event of a result its record applied: what the trigger reads back from Postgres
 * (canonicalOutcome) and what a worker signs — one mapping, so the two cannot drift apart.
 */
export function appliedResultOutcome(
  status: 'completed' | 'failed',
  storedError: string | null | undefined,
  retryFollows: boolean,
  noError = 'failed',
): AttemptOutcome {
  return status === 'completed'
    ? { ok: true }
    : { ok: false, error: storedError ?? noError, retryable: retryFollows };
}

/** A result's signature: `<key id, ≤ 9 digits>.<base64url HMAC-SHA256>` (lib/io/resultSignature.ts). */
export const RESULT_SIGNATURE = /^(\d{1,9})\.[A-Za-z0-9_-]{43}$/;

export const ContainerResultMessageSchema = z.object({
  v: z.literal(1),
  task_id: z.string().min(1).max(200),
  job_id: z.string().min(1).max(64),
  node_id: z.string().min(1).max(140),
  attempt: z.int().min(0),
  status: z.enum(['completed', 'failed']),
  /** Outputs live in Postgres (written by the worker before it sends this message). */
  error_message: z.string().max(2000).nullish(),
  /** False when retrying cannot help (bad params, invalid data, poison message). */
  retryable: z.boolean().default(true),
  worker_id: z.string().max(64).nullish(),
  execution_duration_ms: z.int().min(0).nullish(),
  reported_at: z.iso.datetime(),
  reply_to: z.string().min(1).max(300),
  /** Copied from the task message: the trigger may raise it together with the others of that key. */
  results_event: z.string().min(1).max(200).optional(),
  /**
   * W3C trace context (docs/monitoring.md): the span that sent this message, so that the receiver's
   * span joins the job's trace (one operation id from the submit request to the worker and back).
   */
  traceparent: z
    .string()
    .regex(/^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/)
    .optional(),
  /**
   * The outcome as the worker's record statement applied it (the event's payload), with `signature`
   * (lib/io/resultSignature.ts): a trigger that can check the signature raises it without reading
   * Postgres; without both, or with a signature it cannot check, it reads the recorded result.
   */
  outcome: AttemptOutcomeSchema.optional(),
  signature: z.string().regex(RESULT_SIGNATURE).optional(),
});
export type ContainerResultMessage = z.infer<typeof ContainerResultMessageSchema>;

/**
 * Several results in one queue message: a worker under load sends the results that finished while
 * its previous send was in flight together (group commit), one Storage transaction for many tasks.
 * A lone result is still sent as a plain ContainerResultMessage.
 */
export const ContainerResultBatchSchema = z.object({
  v: z.literal(1),
  results: z.array(ContainerResultMessageSchema).min(1).max(500),
});
export type ContainerResultBatch = z.infer<typeof ContainerResultBatchSchema>;

/** What the result queue carries: one result, or a batch of them. */
export const ResultQueueMessageSchema = z.union([ContainerResultMessageSchema, ContainerResultBatchSchema]);

/** The results of a result-queue message, in order. */
export const resultsOf = (m: z.infer<typeof ResultQueueMessageSchema>): ContainerResultMessage[] =>
  'results' in m ? m.results : [m];

/** JSON bytes of a batch message at most (a queue message is ≤ 64 KiB once base64-encoded). */
export const RESULT_BATCH_MAX_BYTES = 45 * 1024;

/**
 * The external event that carries several results of one enqueue call's attempts at once (named after
 * the first of their task ids): one history event, one episode, for many tasks.
 */
export const ResultsEventSchema = z.object({
  results: z
    .array(z.object({ task_id: z.string().min(1).max(200), outcome: AttemptOutcomeSchema }))
    .min(1)
    .max(RESULTS_PER_EVENT_MAX),
});
export type ResultsEvent = z.infer<typeof ResultsEventSchema>;
