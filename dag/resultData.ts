// A finished job's result_data (SPEC §2): {node_id: output} of completed nodes, fan-out children
// included, plus _provenance. Start/end nodes and empty outputs are left out, as in the original.
import type { Plan } from './compilePlan';
import { childKey, getChild, type JobState } from './jobState';

export interface Provenance {
  workflow_id: string;
  workflow_version: number;
  job_id: string;
  completed_at: string;
}

export function resultData(plan: Plan, state: JobState, provenance: Provenance): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const id of plan.order) {
    const run = state.nodes[id];
    if (run?.status === 'completed' && hasContent(run.output)) out[id] = run.output;
    const fan = state.fanOuts[id];
    if (!fan) continue;
    for (let i = 0; i < fan.count; i++) {
      const c = getChild(fan, i);
      if (c.s === 'completed' && hasContent(c.o)) out[childKey(id, i)] = c.o;
    }
  }
  out._provenance = provenance;
  return out;
}

function hasContent(v: unknown): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0) return false;
  return true;
}
