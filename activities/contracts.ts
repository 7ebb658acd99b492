// Names and zod I/O of every activity and orchestration. Orchestrations import only this file of
// activities/ (it holds no I/O), so activities can change without touching replayed code.
import { z } from 'zod';
import { AttemptOutcomeSchema } from '../lib/containerMessages';
import { JobEventSchema, SkipReasonSchema } from '../dag/jobEvents';
import { FanOutNodeSchema, WorkflowSchema } from '../dag/workflowModel';

export const ACTIVITY = {
  loadJob: 'dagLoadJob',
  recordTransitions: 'dagRecordTransitions',
  runTasks: 'dagRunTasks',
  enqueueContainerTasks: 'dagEnqueueContainerTasks',
  settleAttempts: 'dagSettleAttempts',
} as const;

export const ORCHESTRATION = {
  job: 'dagJob',
  fanOut: 'dagFanOut',
  fanOutChunk: 'dagFanOutChunk',
} as const;

/** Every job's orchestration instance id: one instance per run (a rerun starts run 2). */
export function jobInstanceId(jobId: string, run: number): string {
  return run <= 1 ? jobId : `${jobId}:run${run}`;
}

export const JobOrchestrationInputSchema = z.object({
  jobId: z.string().min(1).max(64),
  run: z.int().min(1),
});
export type JobOrchestrationInput = z.infer<typeof JobOrchestrationInputSchema>;

export const LoadJobInputSchema = z.object({ jobId: z.string().min(1).max(64) });
export const PreviousRunSchema = z.object({
  nodes: z.record(
    z.string(),
    z.object({
      status: z.enum(['pending', 'ready', 'dispatched', 'running', 'completed', 'failed', 'skipped']),
      attempts: z.int().min(0).optional(),
      skipReason: SkipReasonSchema.optional(),
      taken: z.array(z.string()).optional(),
    }),
  ),
  fanOuts: z.record(
    z.string(),
    z.object({
      count: z.int().min(0),
      failed: z.array(z.int().min(0)),
      /** Next attempt index of each failed child (attempt numbers continue across reruns). */
      attempts: z.array(z.int().min(0)).optional(),
    }),
  ),
});
export const PlacementSchema = z.object({
  runner: z.enum(['activity', 'container']),
  queue: z.string().optional(),
  /** The handler may be light (HandlerDefinition.light): a runner call may take the node along in a chain. */
  light: z.boolean().optional(),
});
export type Placement = z.infer<typeof PlacementSchema>;

/**
 * The job orchestration's scheduling behaviour, versioned because it decides which activities a job
 * calls, and a replay must call them again in the same order:
 * 1. every decision round with transitions records them (one activity call per round);
 * 2. rounds of structural steps only (the job starting, start and end nodes, skips, fails) record
 *    nothing themselves: their transitions go with the next round that runs, reads or ends something;
 *    and a fan-out's max_parallel window is split into several runner calls (callsPerWindow);
 * 3. a runner call may also take the activity tasks that are not light along in a chain, within the
 *    job's chain budget (chainBudgetMs): an older build would dispatch them again itself;
 * 4. the container results of a batch of a fan-out's children may come several per external event
 *    (the enqueue call's resultsEvent), each such event waited for with a new deadline timer: an older
 *    build would not wait for them (nor replay those timers).
 */
export const SCHEDULER_VERSION = 4;

export const LoadJobOutputSchema = z.discriminatedUnion('ok', [
  z.object({
    ok: z.literal(true),
    /** The pinned workflow without params and templates: all the control flow needs. */
    workflow: WorkflowSchema,
    /** Where each task and fan-out node runs (resolved with the handler registry and queue config). */
    placement: z.record(z.string(), PlacementSchema),
    previous: PreviousRunSchema.optional(),
    chunkSize: z.int().min(1),
    /** Fan-out children per runner activity call (DAG_ACTIVITY_BATCH_SIZE). */
    activityBatchSize: z.int().min(1).max(1000),
    /**
     * Runner calls a fan-out's max_parallel window is split into, at least (a call reports when its
     * slowest child ends); from scheduler version 2. Absent in histories recorded before it existed:
     * their replays keep the batches they made (the window unsplit).
     */
    callsPerWindow: z.int().min(1).max(1000).optional(),
    /**
     * The scheduling behaviour the job started with (SCHEDULER_VERSION), so that a replay makes the
     * calls its history holds. Absent in histories recorded before it existed: version 1.
     */
    scheduler: z.int().min(1).optional(),
    /**
     * How long a runner call may go on starting the tasks that follow its attempt in a straight chain
     * when they are not light (DAG_CHAIN_BUDGET_MS); from scheduler version 3. Absent: light ones only.
     */
    chainBudgetMs: z.int().min(1).max(60_000).optional(),
    cancelled: z.boolean(),
  }),
  z.object({ ok: z.literal(false), error: z.string() }),
]);
export type LoadJobOutput = z.infer<typeof LoadJobOutputSchema>;

export const EvaluationRequestSchema = z.object({
  node: z.string(),
  nodeType: z.enum(['conditional', 'fan_out', 'fan_in']),
});

export const RecordTransitionsInputSchema = z.object({
  jobId: z.string().min(1).max(64),
  /** The events the orchestration applied that nobody else recorded (structural transitions). */
  events: z.array(JobEventSchema),
  /** Conditionals, fan-outs and fan-ins to evaluate with the job's data; results come back. */
  evaluate: z.array(EvaluationRequestSchema),
});
export type RecordTransitionsInput = z.infer<typeof RecordTransitionsInputSchema>;
export const RecordTransitionsOutputSchema = z.object({ results: z.array(JobEventSchema) });
export type RecordTransitionsOutput = z.infer<typeof RecordTransitionsOutputSchema>;

export const TaskAttemptSchema = z.object({
  jobId: z.string().min(1).max(64),
  key: z.string().min(1).max(140),
  node: z.string().min(1).max(64),
  index: z.int().min(0).optional(),
  attempt: z.int().min(0),
  taskId: z.string().min(1).max(200),
  timeoutSeconds: z.int().min(1),
  /** ms since epoch. */
  deadline: z.number(),
  /** The orchestration instance that dispatched it (container results are raised to it). */
  instanceId: z.string().min(1).max(300),
});
export type TaskAttempt = z.infer<typeof TaskAttemptSchema>;

export const RunTaskOutputSchema = AttemptOutcomeSchema;
export type RunTaskOutput = z.infer<typeof RunTaskOutputSchema>;

/**
 * One task attempt, or a batch of a fan-out's children (same job). A task attempt may carry `then`:
 * the task nodes that follow it in a straight line (each the only successor of the one before and
 * waiting on nothing else). The runner runs them in order after it, in the same call, as long as the
 * previous one succeeded and each is light (HandlerDefinition.light) or, with `budgetMs`, the call
 * has run for less than that long when it comes to a node that is not; what it ran comes back in
 * `chained`, in order (a prefix of `then`).
 */
export const RunTasksInputSchema = z.object({
  attempts: z.array(TaskAttemptSchema).min(1).max(1000),
  then: z.array(TaskAttemptSchema).max(64).optional(),
  budgetMs: z.int().min(1).max(60_000).optional(),
});
export type RunTasksInput = z.infer<typeof RunTasksInputSchema>;
export const RunTasksOutputSchema = z.object({
  results: z.array(RunTaskOutputSchema),
  chained: z.array(RunTaskOutputSchema).optional(),
});
export type RunTasksOutput = z.infer<typeof RunTasksOutputSchema>;

export const EnqueueInputSchema = TaskAttemptSchema.extend({ queue: z.string().min(3).max(63) });
export type EnqueueInput = z.infer<typeof EnqueueInputSchema>;
/** One container attempt, or a batch of a fan-out's children (same job). */
export const EnqueueTasksInputSchema = z.object({
  attempts: z.array(EnqueueInputSchema).min(1).max(1000),
  /**
   * Asks for these attempts' results to come several per external event (scheduler version 4,
   * several attempts): the key the trigger groups them by (ContainerTaskMessage.results_event). Only
   * the product's workers copy it into their results: the output says whether it was written.
   */
  resultsEvent: z.string().min(1).max(200).optional(),
});
export type EnqueueTasksInput = z.infer<typeof EnqueueTasksInputSchema>;
/** An enqueue reports like an attempt: a message that cannot be sent is a failed attempt (retryable or not). */
export const EnqueueOutputSchema = AttemptOutcomeSchema;
export type EnqueueOutput = z.infer<typeof EnqueueOutputSchema>;
export const EnqueueTasksOutputSchema = z.object({
  results: z.array(EnqueueOutputSchema),
  /** The messages asked for the results to come several per event (resultsEvent was given and honoured). */
  together: z.literal(true).optional(),
});
export type EnqueueTasksOutput = z.infer<typeof EnqueueTasksOutputSchema>;

/**
 * Attempts whose deadline passed without a result reaching the orchestration: the activity records
 * the timeouts and answers what Postgres holds for each (a result recorded meanwhile wins).
 */
export const SettleAttemptsInputSchema = z.object({
  jobId: z.string().min(1).max(64),
  attempts: z
    .array(
      z.object({
        key: z.string().min(1).max(140),
        attempt: z.int().min(0),
        taskId: z.string().min(1).max(200),
        timeoutSeconds: z.int().min(0),
      }),
    )
    .min(1)
    .max(1000),
});
export type SettleAttemptsInput = z.infer<typeof SettleAttemptsInputSchema>;
export const SettleAttemptsOutputSchema = z.object({ results: z.array(AttemptOutcomeSchema) });
export type SettleAttemptsOutput = z.infer<typeof SettleAttemptsOutputSchema>;

export const FanOutInputSchema = z.object({
  jobId: z.string().min(1).max(64),
  node: z.string().min(1).max(64),
  /** The fan-out node's definition (skeleton: its task without params). */
  def: FanOutNodeSchema,
  placement: PlacementSchema,
  count: z.int().min(0),
  indices: z.array(z.int().min(0)).optional(),
  attempts: z.array(z.int().min(0)).optional(),
  chunkSize: z.int().min(1),
  activityBatchSize: z.int().min(1).max(1000),
  /** As in LoadJobOutput. */
  callsPerWindow: z.int().min(1).max(1000).optional(),
  /** Container results may come several per event (scheduler version 4: SchedulerIO.batchedResults). */
  batchedResults: z.boolean().optional(),
});
export type FanOutInput = z.infer<typeof FanOutInputSchema>;

export const ChunkInputSchema = FanOutInputSchema.omit({
  count: true,
  indices: true,
  chunkSize: true,
}).extend({
  from: z.int().min(0),
  to: z.int().min(0),
  indices: z.array(z.int().min(0)).optional(),
  window: z.int().min(1).optional(),
});
export type ChunkInput = z.infer<typeof ChunkInputSchema>;

export const FanOutSummarySchema = z.object({
  failed: z.int().min(0),
  failedSample: z.array(z.int().min(0)),
  firstError: z.object({ key: z.string(), error: z.string() }).optional(),
  cancelled: z.boolean(),
});
export type FanOutSummary = z.infer<typeof FanOutSummarySchema>;
