// Checkpoints (SPEC §2): a handler saves {phase, state} any time; the next attempt of the same node
// resumes from the latest valid one. Saves from an attempt that is no longer current are refused, so a
// zombie worker cannot overwrite the state the new attempt resumes from.
import { z } from 'zod';
import { parseRow, validateValues } from './defineTable';
import { DbValidationError } from './errors';
import { query, type Queryable } from './queryable';
import { sql, toJsonText } from './sql';
import { checkpointsTable, jobEventsTable, type CheckpointRow } from './tables';

export interface SaveCheckpointInput {
  jobId: string;
  nodeId: string;
  /** When given, the save applies only while this is the node's current task id. */
  taskId?: string;
  attempt?: number;
  phaseName: string;
  phaseIndex?: number;
  totalPhases?: number;
  progressCurrent?: number;
  progressTotal?: number | null;
  progressMessage?: string | null;
  stateData?: unknown;
  sourceApp?: string;
}

export type SaveCheckpointResult =
  | { kind: 'saved'; checkpoint: CheckpointRow }
  /** The task id is not the node's current one (an older attempt): nothing written. */
  | { kind: 'stale' }
  | { kind: 'not_found' };

/** Saves a checkpoint and writes checkpoint_saved, in one statement. */
export async function saveCheckpoint(
  db: Queryable,
  schema: string,
  input: SaveCheckpointInput,
): Promise<SaveCheckpointResult> {
  validateValues(checkpointsTable, {
    job_id: input.jobId,
    node_id: input.nodeId,
    task_id: input.taskId,
    attempt: input.attempt,
    phase_name: input.phaseName,
    phase_index: input.phaseIndex,
    total_phases: input.totalPhases,
    progress_current: input.progressCurrent,
    progress_total: input.progressTotal,
    progress_message: input.progressMessage,
  });
  if (input.sourceApp !== undefined) validateValues(jobEventsTable, { source_app: input.sourceApp });
  const state = toJsonText(input.stateData, 'state_data');
  const nodes = sql.table(schema, 'dag_node_states');
  const r = await query(
    db,
    sql`WITH n AS (
      SELECT job_id, node_id, task_id, attempt FROM ${nodes}
      WHERE job_id = ${input.jobId} AND node_id = ${input.nodeId}
    ), ins AS (
      INSERT INTO ${sql.table(schema, 'dag_checkpoints')}
        (job_id, node_id, task_id, attempt, phase_name, phase_index, total_phases, progress_current,
         progress_total, progress_message, state_data)
      SELECT n.job_id, n.node_id, coalesce(${input.taskId ?? null}, n.task_id), coalesce(${input.attempt ?? null}::int, n.attempt),
             ${input.phaseName}, ${input.phaseIndex ?? 0}::int, ${input.totalPhases ?? 1}::int, ${input.progressCurrent ?? 0}::int,
             ${input.progressTotal ?? null}::int, ${input.progressMessage ?? null}, ${state}::jsonb
      FROM n WHERE ${input.taskId ?? null}::text IS NULL OR n.task_id = ${input.taskId ?? null}
      RETURNING *
    ), ev AS (
      INSERT INTO ${sql.table(schema, 'dag_job_events')} (job_id, node_id, task_id, event_type, event_status, event_data, source_app)
      SELECT job_id, node_id, task_id, 'checkpoint_saved', 'info',
             jsonb_build_object('checkpoint_id', checkpoint_id, 'phase_name', phase_name, 'phase_index', phase_index,
                                'total_phases', total_phases, 'attempt', attempt),
             ${input.sourceApp ?? null}
      FROM ins
      RETURNING 1
    )
    SELECT (SELECT count(*) FROM n)::int AS _found, ins.* FROM (SELECT 1) AS one LEFT JOIN ins ON true`,
  );
  const row = r.rows[0];
  if (!row?._found) return { kind: 'not_found' };
  if (row.checkpoint_id === null) return { kind: 'stale' };
  return { kind: 'saved', checkpoint: parseRow(checkpointsTable, row) };
}

/** The latest valid checkpoint of a node, or null. */
export async function getLatestCheckpoint(
  db: Queryable,
  schema: string,
  input: { jobId: string; nodeId: string },
): Promise<CheckpointRow | null> {
  const r = await query(
    db,
    sql`SELECT * FROM ${sql.table(schema, 'dag_checkpoints')}
        WHERE job_id = ${input.jobId} AND node_id = ${input.nodeId} AND is_valid
        ORDER BY created_at DESC LIMIT 1`,
  );
  return r.rows[0] ? parseRow(checkpointsTable, r.rows[0]) : null;
}

/** Marks a node's checkpoints invalid (all, or one by id); returns how many changed. */
export async function invalidateCheckpoints(
  db: Queryable,
  schema: string,
  input: { jobId: string; nodeId: string; checkpointId?: string },
): Promise<number> {
  if (input.checkpointId !== undefined && !z.uuid().safeParse(input.checkpointId).success) {
    throw new DbValidationError({
      table: 'dag_checkpoints',
      field: 'checkpoint_id',
      message: `checkpoint_id: "${input.checkpointId.slice(0, 60)}" is not a UUID`,
    });
  }
  const r = await query(
    db,
    sql`UPDATE ${sql.table(schema, 'dag_checkpoints')} SET is_valid = false
        WHERE job_id = ${input.jobId} AND node_id = ${input.nodeId} AND is_valid
        ${input.checkpointId !== undefined ? sql`AND checkpoint_id = ${input.checkpointId}::uuid` : sql.empty}`,
  );
  return r.rowCount ?? 0;
}
