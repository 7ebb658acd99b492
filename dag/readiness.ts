// When a node may run (SPEC §2 "Readiness"). A node's incoming edges each resolve to one of:
// open (the predecessor has not finished), completed, skipped, skipped-by-failure or failed. An edge
// from a conditional to one of its branch targets resolves to completed when that branch was taken
// and to skipped when it was not.
//
// - all_of / implicit predecessors: every edge must succeed (completed or skipped) and at least one
//   edge must be completed; a failed edge dooms the node (upstream_failed).
// - any_of: released by the first completed member; a skipped member alone never releases it;
//   every member skipped or failed dooms the node.
// - Branch gates: a branch target whose every branch edge was not taken is skipped
//   (branch_not_taken) — unless another `next` path into it can still complete, which is how a
//   join after a conditional waits for the taken branch instead of being skipped with the other.
import type { Plan } from './compilePlan';
import type { JobState, SkipReason } from './jobState';

export type EdgeState = 'open' | 'completed' | 'skipped' | 'upstream_failed' | 'failed';

export type Verdict = { kind: 'wait' } | { kind: 'ready' } | { kind: 'dead'; reason: SkipReason };

export function edgeState(plan: Plan, state: JobState, pred: string, node: string): EdgeState {
  const run = state.nodes[pred];
  if (!run) return 'open';
  switch (run.status) {
    case 'completed':
      if (run.taken && plan.branchTargets[pred]?.includes(node))
        return run.taken.includes(node) ? 'completed' : 'skipped';
      return 'completed';
    case 'skipped':
      return run.skipReason === 'upstream_failed' ? 'upstream_failed' : 'skipped';
    case 'failed':
      return 'failed';
    default:
      return 'open';
  }
}

const resolved = (e: EdgeState) => e !== 'open';
const bad = (e: EdgeState) => e === 'failed' || e === 'upstream_failed';

export function readiness(plan: Plan, state: JobState, node: string): Verdict {
  const deps = plan.deps[node];
  if (!deps) return { kind: 'wait' };
  const edge = (p: string) => edgeState(plan, state, p, node);

  if (deps.gates.length) {
    const gates = deps.gates.map(edge);
    if (gates.every(resolved) && !gates.includes('completed')) {
      const others = deps.nextPreds.filter((p) => !deps.gates.includes(p)).map(edge);
      if (others.every((e) => resolved(e) && e !== 'completed')) {
        return {
          kind: 'dead',
          reason: [...gates, ...others].some(bad) ? 'upstream_failed' : 'branch_not_taken',
        };
      }
    }
  }

  const all = deps.allOf.map(edge);
  if (all.some(bad)) return { kind: 'dead', reason: 'upstream_failed' };
  const any = deps.anyOf.map(edge);
  if (any.length && any.every(resolved) && !any.includes('completed')) {
    return { kind: 'dead', reason: any.some(bad) ? 'upstream_failed' : 'branch_not_taken' };
  }
  if (all.some((e) => e === 'open')) return { kind: 'wait' };
  if (any.length && !any.includes('completed')) return { kind: 'wait' };
  if (all.length && !any.length && !all.includes('completed'))
    return { kind: 'dead', reason: 'branch_not_taken' };
  return { kind: 'ready' };
}
