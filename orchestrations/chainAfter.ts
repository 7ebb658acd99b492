// Chains of task nodes the activity runner may run in one call, after the attempt it was given.
import type { RunTasksInput, TaskAttempt } from '../activities/contracts';
import type { Plan } from '../dag/compilePlan';
import { taskIdOf, type JobState } from '../dag/jobState';
import type { SchedulerIO } from './runScheduler';

/** Task nodes a runner call may run after its attempt (RunTasksInput.then allows 64). */
const CHAIN_MAX = 32;

/**
 * The task nodes after `first` in a straight line that the runner may run in the same call: each is
 * the only dependent of the one before, waits on it alone, is pending, and runs on the activity
 * runner with a handler that may be light — or any handler there when the job has a chain budget
 * (without one, others would only make the call's input bigger).
 * Derived from the plan, the placement loadJob answered and the replayed state (replay-safe).
 */
export function chainAfter(
  first: TaskAttempt,
  plan: Plan,
  state: JobState,
  io: Pick<SchedulerIO, 'jobId' | 'placement' | 'chainBudgetMs'>,
  instanceId: string,
  now: number,
): TaskAttempt[] {
  const out: TaskAttempt[] = [];
  let cur = first.node;
  while (out.length < CHAIN_MAX) {
    const after = plan.dependents[cur] ?? [];
    if (after.length !== 1) break;
    const next = after[0]!;
    const def = plan.workflow.nodes[next];
    const deps = plan.deps[next];
    const run = state.nodes[next];
    const place = io.placement[next] ?? { runner: 'activity' };
    if (
      def?.type !== 'task' ||
      !deps ||
      deps.allOf.length !== 1 ||
      deps.allOf[0] !== cur ||
      deps.anyOf.length ||
      deps.gates.length ||
      run?.status !== 'pending' ||
      run.retryAt !== undefined ||
      place.runner !== 'activity' ||
      (!place.light && !io.chainBudgetMs)
    )
      break;
    out.push({
      jobId: io.jobId,
      key: next,
      node: next,
      attempt: run.attempts,
      taskId: taskIdOf(io.jobId, next, run.attempts),
      timeoutSeconds: def.timeout_seconds,
      // The orchestration's view only: the runner counts a chained node's timeout from its own start.
      deadline: now + def.timeout_seconds * 1000,
      instanceId,
    });
    cur = next;
  }
  return out;
}

/** A runner call's input: its attempts, and the chain after them with the job's budget, if any. */
export function runTasksInput(
  attempts: TaskAttempt[],
  then: TaskAttempt[],
  budgetMs?: number,
): RunTasksInput {
  if (!then.length) return { attempts };
  return { attempts, then, ...(budgetMs ? { budgetMs } : {}) };
}
