// A result sent again (a redelivered task that already has one) is raised alone: grouped with
// first-time results under a task id whose event may have been delivered already, it would take them
// along unseen (docs/messages.md "Results events").
import { describe, expect, it } from 'vitest';
import { resultFromRow } from '../../container-worker/resultReporter';
import type { ContainerTaskMessage } from '../../lib/containerMessages';

const message: ContainerTaskMessage = {
  v: 1,
  task_id: 'j_f__1_0',
  job_id: 'j',
  node_id: 'f__1',
  attempt: 0,
  handler: 'echo',
  params: {},
  params_in_db: false,
  timeout_seconds: 60,
  deadline: '2026-12-07T00:00:00.000Z',
  dispatched_at: '2026-12-07T00:00:00.000Z',
  reply_to: 'j:f:0',
  result_queue: 'results',
  results_event: 'j_f__0_0',
};

describe('resultFromRow', () => {
  it('sends a recorded result again without its results_event', () => {
    const r = resultFromRow(
      message,
      { status: 'completed', disposition: 'applied', errorMessage: null, workerId: 'w1', durationMs: 5 },
      {
        status: 'completed',
        taskId: 'j_f__1_0',
        attempt: 0,
        firstAttempt: 0,
        workerId: 'w1',
        lastSeenAt: null,
        inputParams: {},
      },
      'w2',
    );
    expect(r).toMatchObject({ task_id: 'j_f__1_0', status: 'completed', reply_to: 'j:f:0', worker_id: 'w1' });
    expect(r).not.toHaveProperty('results_event');
  });
});
