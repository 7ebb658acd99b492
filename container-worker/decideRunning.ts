// Whether a task running here must stop, given its row from the periodic poll (pure). The supervisor
// aborts the handler with the returned error.
import type { RunningStatus } from '../db';

export interface StopOrder {
  reason: 'cancelled' | 'superseded';
  message: string;
}

const TERMINAL_JOB = new Set(['completed', 'failed', 'cancelled']);

export function decideRunning(row: RunningStatus, taskId: string, workerId: string): StopOrder | null {
  if (row.cancelRequested || row.jobStatus === 'cancelled')
    return { reason: 'cancelled', message: 'The job was cancelled while the task was running' };
  if (row.jobStatus === null || TERMINAL_JOB.has(row.jobStatus))
    return {
      reason: 'cancelled',
      message: `The job has ended (${row.jobStatus ?? 'deleted'}) while the task was running`,
    };
  const current = row.nodeTaskId === taskId;
  const live = row.nodeStatus === 'running' || row.nodeStatus === 'dispatched';
  // This worker stalled long enough for another to take the attempt over: one of the two stops.
  if (row.holder !== null && row.holder !== workerId && current)
    return { reason: 'superseded', message: `Worker ${row.holder} took this attempt over; stopped here` };
  // A result for this attempt was recorded elsewhere (its deadline passed, the orchestration timed it
  // out): its result would be ignored.
  if (current && !live)
    return {
      reason: 'superseded',
      message: `This attempt was ended elsewhere (the node is ${row.nodeStatus ?? 'gone'} with its result, e.g. its deadline passed); stopped`,
    };
  if (!current)
    return {
      reason: 'superseded',
      message: `This attempt is no longer current (the node is ${row.nodeStatus ?? 'gone'}${row.nodeTaskId ? ` with task ${row.nodeTaskId}` : ''}); stopped`,
    };
  return null;
}
