// The engine's table models (jobs, their nodes, results, events, checkpoints, task messages) and the
// column limits of every table: one zod object per table plus its keys and indexes. DDL, migrations,
// validation and row parsing all come from here (SPEC §7). Timestamps are read back as JS Date objects.
import { z } from 'zod';
import { col, defineTable, type Row } from './defineTable';
import {
  EVENT_STATUSES,
  EVENT_TYPES,
  JOB_STATUSES,
  NODE_STATUSES,
  NODE_TYPES,
  RESULT_DISPOSITIONS,
  SKIP_REASONS,
  TASK_RESULT_STATUSES,
} from './statuses';

export const DEFAULT_SCHEMA = 'dagapp';

/** Limits shared by the models and the repositories. */
export const LIMITS = {
  jobId: 64,
  workflowId: 64,
  nodeId: 140,
  staticNodeId: 64,
  taskId: 200,
  errorMessage: 2000,
  correlationId: 64,
  idempotencyKey: 128,
  submittedBy: 64,
  workerId: 128,
  sourceApp: 64,
  phaseName: 64,
  progressMessage: 256,
} as const;

/** Limits of the platform layer's columns (geospatial assets, versions, metadata, audit). */
export const ASSET_LIMITS = {
  platformId: 50,
  platformName: 100,
  platformDescription: 500,
  assetId: 32,
  refName: 64,
  actor: 256,
  versionLabel: 100,
  rejectionReason: 500,
  requestId: 64,
  blobPath: 500,
  tableName: 128,
  stacId: 128,
  contentHash: 128,
  layerName: 256,
  attribution: 500,
  url: 500,
  auditAction: 64,
  reason: 500,
} as const;

const FK_JOB = (table: string) => ({
  name: `${table}_job_id_fkey`,
  columns: ['job_id'],
  references: { table: 'dag_jobs', columns: ['job_id'] },
  onDelete: 'CASCADE' as const,
});

export const jobsTable = defineTable({
  name: 'dag_jobs',
  columns: z.object({
    job_id: col.varchar(LIMITS.jobId),
    workflow_id: col.varchar(LIMITS.workflowId),
    workflow_version: col.int(),
    /** The whole parsed workflow, pinned at submit: an in-flight job never sees YAML edits. */
    workflow_snapshot: col.jsonObject(),
    status: col.enum('job_status', JOB_STATUSES).default('pending'),
    input_params: col.jsonObject().default({}),
    result_data: col.jsonb().nullable(),
    error_message: col.varchar(LIMITS.errorMessage).nullable(),
    metadata: col.jsonObject().default({}),
    correlation_id: col.varchar(LIMITS.correlationId).nullable(),
    idempotency_key: col.varchar(LIMITS.idempotencyKey).nullable(),
    submitted_by: col.varchar(LIMITS.submittedBy).nullable(),
    /** The geospatial asset whose version this job processes (platform submissions); no foreign key. */
    asset_id: col.varchar(ASSET_LIMITS.assetId).nullable(),
    /** 1 for the first run; +1 for each rerun of a failed job. */
    run_count: col.int().default(1),
    /** A cancel was asked for and is not applied yet (status is still pending/running). */
    cancel_requested_at: col.timestamptz().nullable(),
    created_at: col.timestamptz(),
    started_at: col.timestamptz().nullable(),
    completed_at: col.timestamptz().nullable(),
    updated_at: col.timestamptz(),
    /** Optimistic lock: +1 on every update. */
    version: col.int().default(1),
  }),
  primaryKey: ['job_id'],
  sqlDefaults: { created_at: 'now()', updated_at: 'now()' },
  indexes: [
    {
      name: 'dag_jobs_idempotency_key_uq',
      columns: ['idempotency_key'],
      unique: true,
      where: 'idempotency_key IS NOT NULL',
    },
    { name: 'dag_jobs_created_idx', columns: ['created_at', 'job_id'], descending: true },
    {
      name: 'dag_jobs_status_created_idx',
      columns: ['status', { name: 'created_at', descending: true }, { name: 'job_id', descending: true }],
    },
    {
      name: 'dag_jobs_workflow_created_idx',
      columns: [
        'workflow_id',
        { name: 'created_at', descending: true },
        { name: 'job_id', descending: true },
      ],
    },
    {
      name: 'dag_jobs_correlation_idx',
      columns: [
        'correlation_id',
        { name: 'created_at', descending: true },
        { name: 'job_id', descending: true },
      ],
      where: 'correlation_id IS NOT NULL',
    },
    { name: 'dag_jobs_active_idx', columns: ['created_at'], where: "status IN ('pending', 'running')" },
    { name: 'dag_jobs_asset_idx', columns: ['asset_id'], where: 'asset_id IS NOT NULL' },
    { name: 'dag_jobs_metadata_gin', columns: ['metadata'], using: 'gin' },
  ],
  checks: [
    { name: 'dag_jobs_version_check', expr: 'version >= 1' },
    { name: 'dag_jobs_run_count_check', expr: 'run_count >= 1' },
  ],
  updatedAtTrigger: true,
});
export type JobRow = Row<typeof jobsTable>;

export const nodeStatesTable = defineTable({
  name: 'dag_node_states',
  columns: z.object({
    job_id: col.varchar(LIMITS.jobId),
    /** Static nodes: the workflow node id (≤ 64). Fan-out children: `<fanout_id>__<index>`. */
    node_id: col.varchar(LIMITS.nodeId),
    node_type: col.enum('node_type', NODE_TYPES),
    status: col.enum('node_status', NODE_STATUSES).default('pending'),
    /** The current attempt's task id `{job_id}_{node_id}_{attempt}`; null until dispatched. */
    task_id: col.varchar(LIMITS.taskId).nullable(),
    /** 0-based attempt number; it keeps growing across reruns so task ids never repeat. */
    attempt: col.int().default(0),
    /** The attempt this run started with (0; after a rerun, the first attempt of the rerun). */
    first_attempt: col.int().default(0),
    /** Retries allowed after the first attempt of a run (max_attempts in the YAML). */
    max_retries: col.int().default(3),
    output: col.jsonb().nullable(),
    error_message: col.varchar(LIMITS.errorMessage).nullable(),
    skip_reason: col.enum('skip_reason', SKIP_REASONS).nullable(),
    parent_node_id: col.varchar(LIMITS.staticNodeId).nullable(),
    fan_out_index: col.int().nullable(),
    /** Resolved params: for children set at expansion (kept for retries), for others at dispatch. */
    input_params: col.jsonb().nullable(),
    /** The next attempt must not start before this time (backoff). */
    retry_at: col.timestamptz().nullable(),
    /** The current attempt times out at this time. */
    deadline_at: col.timestamptz().nullable(),
    worker_id: col.varchar(LIMITS.workerId).nullable(),
    heartbeat_at: col.timestamptz().nullable(),
    progress: col.jsonb().nullable(),
    created_at: col.timestamptz(),
    ready_at: col.timestamptz().nullable(),
    dispatched_at: col.timestamptz().nullable(),
    started_at: col.timestamptz().nullable(),
    completed_at: col.timestamptz().nullable(),
    updated_at: col.timestamptz(),
    version: col.int().default(1),
  }),
  primaryKey: ['job_id', 'node_id'],
  foreignKeys: [FK_JOB('dag_node_states')],
  sqlDefaults: { created_at: 'now()', updated_at: 'now()' },
  indexes: [
    { name: 'dag_node_states_task_id_uq', columns: ['task_id'], unique: true, where: 'task_id IS NOT NULL' },
    {
      name: 'dag_node_states_children_uq',
      columns: ['job_id', 'parent_node_id', 'fan_out_index'],
      unique: true,
      where: 'parent_node_id IS NOT NULL',
    },
    {
      name: 'dag_node_states_inflight_idx',
      columns: ['deadline_at'],
      where: "status IN ('dispatched', 'running')",
    },
  ],
  checks: [
    {
      name: 'dag_node_states_attempt_check',
      expr: 'attempt >= 0 AND first_attempt >= 0 AND first_attempt <= attempt',
    },
    { name: 'dag_node_states_max_retries_check', expr: 'max_retries >= 0' },
    { name: 'dag_node_states_skip_reason_check', expr: "skip_reason IS NULL OR status = 'skipped'" },
    { name: 'dag_node_states_version_check', expr: 'version >= 1' },
  ],
  updatedAtTrigger: true,
});
export type NodeRow = Row<typeof nodeStatesTable>;

export const taskResultsTable = defineTable({
  name: 'dag_task_results',
  columns: z.object({
    task_id: col.varchar(LIMITS.taskId),
    job_id: col.varchar(LIMITS.jobId),
    node_id: col.varchar(LIMITS.nodeId),
    attempt: col.int(),
    status: col.enum('task_result_status', TASK_RESULT_STATUSES),
    output: col.jsonb().nullable(),
    error_message: col.varchar(LIMITS.errorMessage).nullable(),
    worker_id: col.varchar(LIMITS.workerId).nullable(),
    duration_ms: col.int().nullable(),
    disposition: col.enum('result_disposition', RESULT_DISPOSITIONS),
    received_at: col.timestamptz(),
  }),
  primaryKey: ['task_id'],
  // No foreign key on the two append-heavy tables: every insert would take a KEY SHARE lock on the
  // job row, and concurrent completions of one job then contend on it (multixacts; ~40% fewer
  // completions/s measured). deleteJobs deletes their rows explicitly.
  sqlDefaults: { received_at: 'now()' },
  indexes: [{ name: 'dag_task_results_node_idx', columns: ['job_id', 'node_id', 'attempt'] }],
  checks: [{ name: 'dag_task_results_attempt_check', expr: 'attempt >= 0' }],
});
export type TaskResultRow = Row<typeof taskResultsTable>;

export const jobEventsTable = defineTable({
  name: 'dag_job_events',
  columns: z.object({
    event_id: col.bigserial(),
    job_id: col.varchar(LIMITS.jobId),
    node_id: col.varchar(LIMITS.nodeId).nullable(),
    task_id: col.varchar(LIMITS.taskId).nullable(),
    event_type: col.enum('job_event_type', EVENT_TYPES),
    event_status: col.enum('job_event_status', EVENT_STATUSES).default('info'),
    event_data: col.jsonObject().default({}),
    error_message: col.varchar(LIMITS.errorMessage).nullable(),
    duration_ms: col.int().nullable(),
    source_app: col.varchar(LIMITS.sourceApp).nullable(),
    created_at: col.timestamptz(),
  }),
  primaryKey: ['event_id'],
  // No foreign key: see dag_task_results.
  sqlDefaults: { created_at: 'now()' },
  indexes: [
    { name: 'dag_job_events_job_idx', columns: ['job_id', 'event_id'] },
    {
      name: 'dag_job_events_node_idx',
      columns: ['job_id', 'node_id', 'event_id'],
      where: 'node_id IS NOT NULL',
    },
  ],
});
export type JobEventRow = Row<typeof jobEventsTable>;

export const checkpointsTable = defineTable({
  name: 'dag_checkpoints',
  columns: z.object({
    checkpoint_id: col.uuid(),
    job_id: col.varchar(LIMITS.jobId),
    node_id: col.varchar(LIMITS.nodeId),
    task_id: col.varchar(LIMITS.taskId).nullable(),
    attempt: col.int().default(0),
    phase_name: col.varchar(LIMITS.phaseName),
    phase_index: col.int().default(0),
    total_phases: col.int().default(1),
    progress_current: col.int().default(0),
    progress_total: col.int().nullable(),
    progress_message: col.varchar(LIMITS.progressMessage).nullable(),
    state_data: col.jsonb().nullable(),
    is_valid: col.bool().default(true),
    created_at: col.timestamptz(),
  }),
  primaryKey: ['checkpoint_id'],
  foreignKeys: [FK_JOB('dag_checkpoints')],
  // clock_timestamp(): two checkpoints saved in one transaction still order by time.
  sqlDefaults: { checkpoint_id: 'gen_random_uuid()', created_at: 'clock_timestamp()' },
  indexes: [
    {
      name: 'dag_checkpoints_latest_idx',
      columns: ['job_id', 'node_id', { name: 'created_at', descending: true }],
    },
    { name: 'dag_checkpoints_task_idx', columns: ['task_id'], where: 'task_id IS NOT NULL' },
  ],
  checks: [{ name: 'dag_checkpoints_phase_check', expr: 'phase_index >= 0 AND total_phases >= 1' }],
});
export type CheckpointRow = Row<typeof checkpointsTable>;

/**
 * The queue messages sent for container attempts (one row per send: a re-enqueued attempt has two).
 * Storage Queues cannot look a message up by id, but Update Message with the receipt Put Message
 * returned answers 404 when the message no longer exists, and succeeds or reports a receipt mismatch
 * (dequeued since) when it does: that is how a lost task message is told from one waiting in a
 * backlog or held by a worker (see activities/strandedAttempts.ts).
 */
export const taskMessagesTable = defineTable({
  name: 'dag_task_messages',
  columns: z.object({
    task_id: col.varchar(LIMITS.taskId),
    message_id: col.varchar(128),
    pop_receipt: col.varchar(512),
    queue: col.varchar(63),
    job_id: col.varchar(LIMITS.jobId),
    node_id: col.varchar(LIMITS.nodeId),
    /** The orchestration instance the result goes to (needed to send the task again). */
    reply_to: col.varchar(300),
    enqueued_at: col.timestamptz(),
    /** When the reconciler last asked the queue about it (probes go to the least recently asked). */
    probed_at: col.timestamptz().nullable(),
  }),
  primaryKey: ['task_id', 'message_id'],
  // No foreign key, as for the other append-only tables: deleteJobs deletes the rows explicitly.
  sqlDefaults: { enqueued_at: 'now()' },
  indexes: [{ name: 'dag_task_messages_job_idx', columns: ['job_id'] }],
});
export type TaskMessageRow = Row<typeof taskMessagesTable>;

/**
 * The keys with which container workers sign the results they send (lib/io/resultSignature.ts): the
 * result queue trigger raises a result whose signature it can check without reading Postgres. Created
 * at first use by whichever app needs one; only the apps' role may read it, and nothing returns it.
 */
export const resultKeysTable = defineTable({
  name: 'dag_result_keys',
  columns: z.object({
    key_id: col.int(),
    /** 32 random bytes, lowercase hex. */
    secret: col.varchar(64),
    created_at: col.timestamptz(),
  }),
  primaryKey: ['key_id'],
  sqlDefaults: { created_at: 'now()' },
  // A signature names its key in at most 9 digits; a secret is 32 bytes.
  checks: [
    { name: 'dag_result_keys_key_id_check', expr: 'key_id BETWEEN 0 AND 999999999' },
    { name: 'dag_result_keys_secret_check', expr: "secret ~ '^[0-9a-f]{64}$'" },
  ],
});
export type ResultKeyRow = Row<typeof resultKeysTable>;
