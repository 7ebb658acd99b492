// An instance as the Postgres store holds it (its `instances` table), and the record the host works with.
import type { RuntimeStatus } from '../historyEvents';
import type { InstanceRecord } from './instanceStore';

export interface InstanceRow {
  instance_id: string;
  name: string;
  version: string;
  execution_id: string;
  runtime_status: string;
  input: string | null;
  output: string | null;
  custom_status: string | null;
  parent_instance_id: string | null;
  parent_execution_id: string | null;
  parent_task_id: number | null;
  parent_name: string | null;
  history_length: number;
  created_at: Date;
  updated_at: Date;
  completed_at: Date | null;
}

/** The record of an instance row. */
export function toRecord(r: InstanceRow): InstanceRecord {
  return {
    instanceId: r.instance_id,
    name: r.name,
    version: r.version,
    executionId: r.execution_id,
    runtimeStatus: r.runtime_status as RuntimeStatus,
    input: r.input,
    output: r.output,
    customStatus: r.custom_status,
    parentInstanceId: r.parent_instance_id,
    parentExecutionId: r.parent_execution_id,
    parentTaskId: r.parent_task_id,
    parentName: r.parent_name,
    historyLength: r.history_length,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    completedAt: r.completed_at,
  };
}
