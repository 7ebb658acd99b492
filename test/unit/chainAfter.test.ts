// Which task nodes a runner call takes along after its attempt: a straight line of pending activity
// tasks; light ones always, others only when the job has a chain budget (scheduler version 3).
import { describe, expect, it } from 'vitest';
import type { Placement, TaskAttempt } from '../../activities/contracts';
import { initJobState } from '../../dag/initJobState';
import { taskIdOf } from '../../dag/jobState';
import { chainAfter } from '../../orchestrations/chainAfter';
import { planOf, task } from '../support/workflows';

const plan = planOf({
  nodes: {
    start: { type: 'start', next: 'a' },
    a: task('b'),
    b: task('c', { handler: 'sleep', params: { duration_seconds: 0 } }),
    c: task('d'),
    d: task('e', { queue: 'container-tasks' }),
    e: task('end'),
    end: { type: 'end' },
  },
});
const placement: Record<string, Placement> = {
  a: { runner: 'activity', light: true },
  b: { runner: 'activity' },
  c: { runner: 'activity', light: true },
  d: { runner: 'container', queue: 'container-tasks' },
  e: { runner: 'activity', light: true },
};
const first: TaskAttempt = {
  jobId: 'j1',
  key: 'a',
  node: 'a',
  attempt: 0,
  taskId: taskIdOf('j1', 'a', 0),
  timeoutSeconds: 60,
  deadline: 60_000,
  instanceId: 'i1',
};
const keys = (budget?: number) =>
  chainAfter(
    first,
    plan,
    initJobState(plan, 'j1'),
    { jobId: 'j1', placement, chainBudgetMs: budget },
    'i1',
    0,
  ).map((a) => a.key);

describe('chainAfter', () => {
  it('without a chain budget stops at the first task that is not light', () => {
    expect(keys()).toEqual([]);
  });

  it('with one takes activity tasks that are not light along, and stops at a container task', () => {
    expect(keys(1000)).toEqual(['b', 'c']);
  });

  it('gives each the attempt, task id and timeout of its node', () => {
    const [b] = chainAfter(
      first,
      plan,
      initJobState(plan, 'j1'),
      { jobId: 'j1', placement, chainBudgetMs: 1 },
      'i1',
      5,
    );
    expect(b).toMatchObject({
      key: 'b',
      attempt: 0,
      taskId: taskIdOf('j1', 'b', 0),
      deadline: 5 + b!.timeoutSeconds * 1000,
    });
  });
});
