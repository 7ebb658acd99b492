// The timeout path and the start of a retry answer what Postgres records, never a failure of work
// that finished (issue 22.1): the pure rules behind the settle activity and the stale refusal.
import { describe, expect, it } from 'vitest';
import { notStarted } from '../../activities/runTasks';
import { canonicalOutcome } from '../../activities/settleAttempts';
import type { AttemptState, NodeRow } from '../../db';

const TIMED_OUT = 'Task timed out after 8s';
type NodeState = NonNullable<AttemptState['node']>;
const state = (
  over: Omit<Partial<AttemptState>, 'node'> & { node?: Partial<NodeState> | null },
): AttemptState =>
  ({
    jobStatus: 'running',
    result: null,
    ...over,
    node:
      over.node === null
        ? null
        : {
            status: 'running',
            taskId: 'j_n_0',
            attempt: 0,
            firstAttempt: 0,
            errorMessage: null,
            ...over.node,
          },
  }) as AttemptState;

describe('canonicalOutcome (settle activity)', () => {
  it('a result the worker recorded before the deadline wins over the timeout', () => {
    expect(
      canonicalOutcome(
        0,
        state({
          node: { status: 'completed' },
          result: { status: 'completed', disposition: 'applied', errorMessage: null },
        }),
        TIMED_OUT,
      ),
    ).toEqual({ ok: true });
  });

  it('a worker failure with a retry scheduled is retryable; without one it is final', () => {
    const failed = { status: 'failed' as const, disposition: 'applied' as const, errorMessage: 'boom' };
    expect(
      canonicalOutcome(0, state({ node: { status: 'ready', attempt: 1 }, result: failed }), TIMED_OUT),
    ).toEqual({
      ok: false,
      error: 'boom',
      retryable: true,
    });
    expect(canonicalOutcome(0, state({ node: { status: 'failed' }, result: failed }), TIMED_OUT)).toEqual({
      ok: false,
      error: 'boom',
      retryable: false,
    });
  });

  it('the timeout recorded by the activity itself is the outcome when nothing else was', () => {
    const timeout = { status: 'failed' as const, disposition: 'applied' as const, errorMessage: TIMED_OUT };
    expect(
      canonicalOutcome(0, state({ node: { status: 'ready', attempt: 1 }, result: timeout }), TIMED_OUT),
    ).toEqual({
      ok: false,
      error: TIMED_OUT,
      retryable: true,
    });
  });

  it('a node that moved on without this result: its own state decides', () => {
    const stale = { status: 'failed' as const, disposition: 'stale' as const, errorMessage: TIMED_OUT };
    expect(canonicalOutcome(0, state({ node: { status: 'completed' }, result: stale }), TIMED_OUT)).toEqual({
      ok: true,
    });
    expect(
      canonicalOutcome(
        0,
        state({ node: { status: 'failed', errorMessage: 'poison' }, result: stale }),
        TIMED_OUT,
      ),
    ).toEqual({ ok: false, error: 'poison', retryable: false });
  });

  it('an ended job stops the attempt as cancelled', () => {
    expect(canonicalOutcome(0, state({ jobStatus: 'cancelled' }), TIMED_OUT)).toMatchObject({
      ok: false,
      cancelled: true,
      retryable: false,
    });
  });
});

describe('a refused retry start (stale) is never a failure of finished work', () => {
  const attempt = {
    jobId: 'j',
    key: 'n',
    node: 'n',
    attempt: 1,
    taskId: 'j_n_1',
    timeoutSeconds: 8,
    deadline: 0,
    instanceId: 'j',
  };
  const node = (over: Partial<NodeRow>) =>
    ({ status: 'completed', attempt: 0, error_message: null, ...over }) as NodeRow;

  it('the node completed at an earlier attempt: the outcome is success', () => {
    expect(notStarted({ kind: 'stale', node: node({}) }, attempt)).toEqual({ ok: true });
  });
  it('the node failed: its error, final', () => {
    expect(
      notStarted({ kind: 'stale', node: node({ status: 'failed', error_message: 'bad data' }) }, attempt),
    ).toEqual({ ok: false, error: 'bad data', retryable: false });
  });
  it('the node waits for a later attempt: the next attempt of the policy lines up with it', () => {
    expect(notStarted({ kind: 'stale', node: node({ status: 'ready', attempt: 2 }) }, attempt)).toMatchObject(
      {
        ok: false,
        retryable: true,
      },
    );
  });
});
