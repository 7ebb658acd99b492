// The job's progress counts, shown by the Azure portal as the orchestration's custom status.
import { getChild, type JobState } from '../dag/jobState';
import type { SchedulerIO } from './runScheduler';

/** Progress for the Azure portal (Durable custom status). */
export function progress(state: JobState, mode: SchedulerIO['mode']): Record<string, unknown> {
  let completed = 0;
  let running = 0;
  let failed = 0;
  let total = 0;
  for (const [id, n] of Object.entries(state.nodes)) {
    const fan = state.fanOuts[id];
    if (fan && !fan.delegated) {
      for (let i = 0; i < fan.count; i++) {
        const c = getChild(fan, i);
        total++;
        if (c.s === 'completed') completed++;
        else if (c.s === 'failed') failed++;
        else if (c.s === 'dispatched' || c.s === 'running') running++;
      }
      if (mode === 'chunk') continue;
    }
    total++;
    if (n.status === 'completed' || n.status === 'skipped') completed++;
    else if (n.status === 'failed') failed++;
    else if (n.status === 'dispatched' || n.status === 'running') running++;
  }
  return { status: state.status, completed, running, failed, total };
}
