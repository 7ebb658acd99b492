// The workflow language (SPEC §1) as zod schemas: the single source of truth for parsing YAML,
// validating it, typing the rest of the code and generating the JSON Schema for editors.
// Every object is strict: an unknown key is an error (the original system silently dropped them).
import { z } from 'zod';
import { isReservedName } from './reservedNames';
import { ArtifactsSchema } from './workflowArtifacts';

export const NODE_ID_PATTERN = /^[A-Za-z0-9_]+$/;
export const WORKFLOW_ID_PATTERN = /^[a-z0-9_-]+$/;

export const NodeIdSchema = z
  .string()
  .min(1)
  .max(64, 'node ids are at most 64 characters')
  .regex(NODE_ID_PATTERN, 'node ids use letters, digits and "_" only')
  .refine((s) => !s.includes('__'), 'node ids must not contain "__" (reserved for fan-out children)')
  .refine(
    (s) => !isReservedName(s),
    'this name belongs to every JavaScript object (constructor, toString, valueOf, …): rename the node',
  );

const NodeIdList = z.union([NodeIdSchema, z.array(NodeIdSchema)]);

export const InputTypeSchema = z.enum(['string', 'integer', 'number', 'boolean', 'array', 'object']);
export type InputType = z.infer<typeof InputTypeSchema>;

export const InputDefinitionSchema = z.strictObject({
  type: InputTypeSchema.default('string'),
  required: z.boolean().default(true),
  default: z.unknown().optional(),
  description: z.string().optional(),
});
export type InputDefinition = z.infer<typeof InputDefinitionSchema>;

export const BackoffSchema = z.enum(['fixed', 'exponential', 'linear']);

/**
 * `max_attempts: N` means N retries after the first attempt (N+1 attempts in all), as in the
 * original system. Delays may be fractional and 0 (useful in tests); the original required ≥ 1.
 */
export const RetryPolicySchema = z.strictObject({
  max_attempts: z.int().min(0).max(10).default(3),
  backoff: BackoffSchema.default('exponential'),
  initial_delay_seconds: z.number().min(0).max(86400).default(5),
  max_delay_seconds: z.number().min(0).max(86400).default(300),
});
export type RetryPolicy = z.infer<typeof RetryPolicySchema>;
export const DEFAULT_RETRY: RetryPolicy = RetryPolicySchema.parse({});

export const DependsOnSchema = z.union([
  NodeIdList,
  z.strictObject({
    all_of: NodeIdList.optional(),
    any_of: NodeIdList.optional(),
  }),
]);
export type DependsOn = z.infer<typeof DependsOnSchema>;

const description = z.string().optional();
const next = NodeIdList.optional();
const depends_on = DependsOnSchema.optional();
const timeout_seconds = z.int().min(1).max(86400).default(3600);
const params = z.record(z.string(), z.unknown()).default({});
const handler = z.string().min(1).max(64);
const queue = z.string().min(1).max(63).optional();

export const StartNodeSchema = z.strictObject({ type: z.literal('start'), description, next, depends_on });
export const EndNodeSchema = z.strictObject({ type: z.literal('end'), description, depends_on });

export const TaskNodeSchema = z.strictObject({
  // `task` is the default type, as in the original system.
  type: z.literal('task').default('task'),
  description,
  handler,
  queue,
  params,
  timeout_seconds,
  retry: RetryPolicySchema.optional(),
  next,
  depends_on,
});

export const ConditionalBranchSchema = z.strictObject({
  name: z.string().optional(),
  condition: z.string().optional(),
  default: z.boolean().default(false),
  next: NodeIdSchema,
});
export type ConditionalBranch = z.infer<typeof ConditionalBranchSchema>;

/**
 * Both accepted forms share one schema: form 1 is `condition` + `branches` as a map from result
 * value to node id (+ `default` node); form 2 is `condition_field` + `branches` as an ordered list.
 * Which fields go together is checked by the validator, which can say exactly what is wrong.
 */
export const ConditionalNodeSchema = z.strictObject({
  type: z.literal('conditional'),
  description,
  condition: z.string().optional(),
  condition_field: z.string().optional(),
  branches: z.union([z.record(z.string(), NodeIdSchema), z.array(ConditionalBranchSchema).min(1)]),
  default: NodeIdSchema.optional(),
  depends_on,
});

export const FanOutTaskSchema = z.strictObject({
  handler,
  queue,
  params,
  timeout_seconds,
  retry: RetryPolicySchema.optional(),
});

export const FanOutNodeSchema = z.strictObject({
  type: z.literal('fan_out'),
  description,
  source: z.string().min(1),
  task: FanOutTaskSchema,
  /** Deprecated (the original's place for it): the children's retry when task.retry is absent. */
  retry: RetryPolicySchema.optional(),
  max_parallel: z.int().min(1).optional(),
  next,
  depends_on,
});

export const AggregationSchema = z.enum(['collect', 'concat', 'sum', 'first', 'last']);
export type Aggregation = z.infer<typeof AggregationSchema>;

export const FanInNodeSchema = z.strictObject({
  type: z.literal('fan_in'),
  description,
  aggregation: AggregationSchema.default('collect'),
  next,
  depends_on,
});

export const NODE_SCHEMAS = {
  start: StartNodeSchema,
  end: EndNodeSchema,
  task: TaskNodeSchema,
  conditional: ConditionalNodeSchema,
  fan_out: FanOutNodeSchema,
  fan_in: FanInNodeSchema,
} as const;
export type NodeType = keyof typeof NODE_SCHEMAS;
export const NODE_TYPES = Object.keys(NODE_SCHEMAS) as NodeType[];

export type StartNode = z.infer<typeof StartNodeSchema>;
export type EndNode = z.infer<typeof EndNodeSchema>;
export type TaskNode = z.infer<typeof TaskNodeSchema>;
export type ConditionalNode = z.infer<typeof ConditionalNodeSchema>;
export type FanOutNode = z.infer<typeof FanOutNodeSchema>;
export type FanInNode = z.infer<typeof FanInNodeSchema>;
export type NodeDefinition = StartNode | EndNode | TaskNode | ConditionalNode | FanOutNode | FanInNode;

/** Nodes are parsed one by one (by their `type`, default `task` as in the original) for precise errors. */
export const NodeDefinitionSchema = z.union([
  StartNodeSchema,
  EndNodeSchema,
  TaskNodeSchema,
  ConditionalNodeSchema,
  FanOutNodeSchema,
  FanInNodeSchema,
]);

const isoStamp = z.union([z.string().max(64), z.date().transform((d) => d.toISOString())]);

export const WorkflowHeaderSchema = z.strictObject({
  workflow_id: z
    .string()
    .min(1)
    .max(64, 'workflow ids are at most 64 characters')
    .regex(WORKFLOW_ID_PATTERN, 'workflow ids use lowercase letters, digits, "_" and "-" only'),
  name: z.string().min(1).max(128),
  version: z.int().min(1).default(1),
  description: z.string().optional(),
  /** As in the original (absent = true): false keeps the file loaded (listed, validated) but refuses submits (409). */
  is_active: z.boolean().optional(),
  /** Informational timestamps of the original's files (ISO strings; a YAML date is kept as ISO). */
  created_at: isoStamp.optional(),
  updated_at: isoStamp.optional(),
  inputs: z.record(z.string(), InputDefinitionSchema).default({}),
  /** What a completed job gives the asset version it processes (docs/domain.md "Artifacts"). */
  artifacts: ArtifactsSchema.optional(),
  nodes: z.record(z.string(), z.unknown()),
});

/** The whole document, used for the JSON Schema and for re-validating stored snapshots. */
export const WorkflowSchema = WorkflowHeaderSchema.extend({
  nodes: z.record(NodeIdSchema, NodeDefinitionSchema),
});
export type Workflow = z.infer<typeof WorkflowSchema>;

/** The retry policy of a fan_out's children: task.retry, else the node's deprecated retry. */
export function childRetry(node: FanOutNode): z.infer<typeof RetryPolicySchema> | undefined {
  return node.task.retry ?? node.retry;
}
