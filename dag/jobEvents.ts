// The scheduler's events as zod schemas: they cross the Durable boundary (activity inputs and
// results), so they are parsed there; the TypeScript type is inferred from the schema.
import { z } from 'zod';

const at = z.number();
const node = z.string().min(1).max(200);
export const SkipReasonSchema = z.enum(['branch_not_taken', 'upstream_failed']);

export const DispatchItemSchema = z.object({ key: node, attempt: z.int().min(0), deadline: z.number() });

export const JobEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('job_started'), at }),
  z.object({ type: z.literal('node_completed'), node, output: z.unknown().optional(), at }),
  z.object({ type: z.literal('node_skipped'), node, reason: SkipReasonSchema, at }),
  z.object({ type: z.literal('node_evaluating'), node, at }),
  z.object({
    type: z.literal('conditional_resolved'),
    node,
    taken: z.array(node),
    output: z.unknown().optional(),
    at,
  }),
  z.object({ type: z.literal('fan_out_expanded'), node, count: z.int().min(0), at }),
  z.object({ type: z.literal('fan_out_started'), node, at }),
  z.object({
    type: z.literal('fan_out_finished'),
    node,
    failed: z.int().min(0),
    failedSample: z.array(z.int().min(0)),
    firstError: z.object({ key: node, error: z.string() }).optional(),
    at,
  }),
  z.object({ type: z.literal('fan_in_aggregated'), node, output: z.unknown().optional(), at }),
  z.object({ type: z.literal('node_failed'), node, error: z.string(), at }),
  z.object({ type: z.literal('dispatched'), items: z.array(DispatchItemSchema), at }),
  z.object({
    type: z.literal('attempt_succeeded'),
    key: node,
    attempt: z.int().min(0),
    output: z.unknown().optional(),
    at,
  }),
  z.object({
    type: z.literal('attempt_failed'),
    key: node,
    attempt: z.int().min(0),
    error: z.string(),
    retryable: z.boolean(),
    at,
  }),
  z.object({ type: z.literal('cancel_requested'), at }),
  z.object({
    type: z.literal('job_finished'),
    status: z.enum(['completed', 'failed', 'cancelled']),
    error: z.string().optional(),
    at,
  }),
]);

export type JobEvent = z.infer<typeof JobEventSchema>;
export type DispatchItem = z.infer<typeof DispatchItemSchema>;
