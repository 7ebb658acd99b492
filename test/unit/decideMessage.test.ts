// The worker's decision table (container-worker/decideMessage.ts, decideRunning.ts) without Azurite or
// Postgres: the cases one by one, then properties over random preflight rows (an attempt is never run
// while a live worker holds it, a finished task is only acknowledged, poison only for a message that
// would run, a deferred copy is taken over once its holder went stale).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ContainerTaskMessage } from '../../lib/containerMessages';
import type { Preflight, RunningStatus } from '../../db';
import {
  decideDelivery,
  decideMessage,
  type MessageDecision,
  type MessageLimits,
} from '../../container-worker/decideMessage';
import { decideRunning } from '../../container-worker/decideRunning';
import type { DecodedTask } from '../../container-worker/taskMessageCodec';

const NOW = Date.parse('2026-01-01T12:00:00Z');
const LIMITS: MessageLimits = { queue: 'container-tasks', maxDequeueCount: 5, staleAfterMs: 40_000 };

const message = (over: Partial<ContainerTaskMessage> = {}): ContainerTaskMessage => ({
  v: 1,
  task_id: 'job1:n:2',
  job_id: 'job1',
  node_id: 'n',
  attempt: 2,
  handler: 'echo',
  params: {},
  params_in_db: false,
  timeout_seconds: 60,
  deadline: '2026-01-01T12:10:00.000Z',
  dispatched_at: '2026-01-01T11:59:00.000Z',
  reply_to: 'instance-1',
  result_queue: 'container-results',
  ...over,
});

type NodeRow = NonNullable<Preflight['node']>;
type ResultRow = NonNullable<Preflight['result']>;

const node = (over: Partial<NodeRow> = {}): NodeRow => ({
  status: 'dispatched',
  taskId: 'job1:n:2',
  attempt: 2,
  firstAttempt: 0,
  workerId: null,
  lastSeenAt: null,
  inputParams: null,
  ...over,
});

const pre = (over: Partial<Preflight> = {}): Preflight => ({
  node: node(),
  job: { status: 'running', cancelRequested: false },
  result: null,
  checkedAt: new Date(NOW),
  ...over,
});

const result = (over: Partial<ResultRow> = {}): ResultRow => ({
  status: 'completed',
  disposition: 'applied',
  errorMessage: null,
  workerId: 'w1',
  durationMs: 12,
  ...over,
});

const decide = (p: Preflight, dequeueCount = 1, m = message()) =>
  decideMessage(p, m, dequeueCount, NOW, LIMITS);
const secondsAgo = (s: number) => new Date(NOW - s * 1000);

describe('decideMessage: the cases', () => {
  it('drops a message whose job or node does not exist', () => {
    expect(decide(pre({ job: null }))).toEqual({ kind: 'drop', job: false, node: true });
    expect(decide(pre({ node: null }))).toEqual({ kind: 'drop', job: true, node: false });
  });

  it('acknowledges a task that has a result, resending only a result a worker recorded and applied', () => {
    expect(decide(pre({ result: result() }))).toMatchObject({ kind: 'acknowledge', resend: true });
    // Recorded by the orchestration (a timeout): no message to send again.
    expect(decide(pre({ result: result({ workerId: null }) }))).toMatchObject({
      kind: 'acknowledge',
      resend: false,
    });
    expect(decide(pre({ result: result({ disposition: 'ignored' }) }))).toMatchObject({
      kind: 'acknowledge',
      resend: false,
    });
    // A result wins over an ended job and over the dequeue count.
    expect(
      decide(pre({ result: result(), job: { status: 'cancelled', cancelRequested: true } }), 99),
    ).toMatchObject({ kind: 'acknowledge' });
  });

  it('records a not-retryable failure for a job that was cancelled or has ended', () => {
    expect(decide(pre({ job: { status: 'running', cancelRequested: true } }))).toEqual({
      kind: 'record',
      counter: 'dropped',
      why: 'The job was cancelled before the task started',
      note: 'The job was cancelled before the task started: not run',
      firstAttempt: 0,
    });
    expect(decide(pre({ job: { status: 'failed', cancelRequested: false } }))).toMatchObject({
      kind: 'record',
      counter: 'dropped',
      why: 'The job has ended (failed) before the task started',
    });
  });

  it('records a stale message for an attempt the node moved past', () => {
    const d = decide(pre({ node: node({ taskId: 'job1:n:3', attempt: 3, firstAttempt: 1 }) }));
    expect(d).toEqual({
      kind: 'record',
      counter: 'stale',
      why: 'Task message for attempt 2 of "n" arrived after the node moved on (the node is dispatched at attempt 3); dropped without running',
      note: 'Task message for attempt 2 of "n" arrived after the node moved on (the node is dispatched at attempt 3); dropped without running',
      firstAttempt: 1,
    });
    expect(decide(pre({ node: node({ status: 'completed' }) }))).toMatchObject({
      kind: 'record',
      counter: 'stale',
    });
  });

  it('defers a copy while a live worker holds the attempt, takes it over once the holder is stale', () => {
    const held = (seenSecondsAgo: number) =>
      pre({ node: node({ status: 'running', workerId: 'w2', lastSeenAt: secondsAgo(seenSecondsAgo) }) });
    expect(decide(held(1))).toEqual({ kind: 'defer', why: 'worker w2 holds the attempt (fresh heartbeat)' });
    expect(decide(held(39.999))).toMatchObject({ kind: 'defer' });
    // Exactly staleAfter old: no longer alive.
    expect(decide(held(40))).toMatchObject({ kind: 'take-over', previousWorker: 'w2' });
    expect(decide(held(600))).toMatchObject({ kind: 'take-over', previousWorker: 'w2' });
    // Handed back at shutdown (worker_id cleared): taken over at once.
    expect(decide(pre({ node: node({ status: 'running', lastSeenAt: secondsAgo(1) }) }))).toMatchObject({
      kind: 'take-over',
      previousWorker: null,
    });
    // A holder with neither heartbeat nor start time is not alive.
    expect(decide(pre({ node: node({ status: 'running', workerId: 'w2' }) }))).toMatchObject({
      kind: 'take-over',
    });
  });

  it('starts a dispatched attempt (a holder only counts once the node runs)', () => {
    const n = node({ workerId: 'w2', lastSeenAt: secondsAgo(1) });
    expect(decide(pre({ node: n }))).toEqual({ kind: 'start', node: n });
  });

  it('sends a message that would run after too many deliveries to the poison queue', () => {
    expect(decide(pre(), 5)).toMatchObject({ kind: 'start' });
    expect(decide(pre(), 6)).toEqual({
      kind: 'poison',
      reason:
        'Task message for job1:n:2 was delivered 5 times without completing (the worker crashed or was killed each time); moved to container-tasks-poison',
    });
    // A deferred copy is not poison: the live holder is running it.
    const held = pre({ node: node({ status: 'running', workerId: 'w2', lastSeenAt: secondsAgo(1) }) });
    expect(decide(held, 50)).toMatchObject({ kind: 'defer' });
  });
});

describe('decideDelivery', () => {
  const ok: DecodedTask = { ok: true, message: message() };
  const delivery = { queue: 'q', messageId: 'm1', dequeueCount: 1 };
  const none = { running: new Map<string, unknown>(), claiming: new Set<string>() };

  it('releases everything while shutting down, even an unreadable message', () => {
    expect(decideDelivery(true, ok, delivery, none)).toEqual({ kind: 'release' });
    expect(decideDelivery(true, { ok: false, error: 'bad' }, delivery, none)).toEqual({ kind: 'release' });
  });

  it('poisons an unreadable message, naming the attempt it names', () => {
    const identity = { task_id: 't', job_id: 'j', node_id: 'n', attempt: 0 };
    expect(decideDelivery(false, { ok: false, error: 'not base64', identity }, delivery, none)).toEqual({
      kind: 'poison',
      reason: 'Task message m1 on queue "q" is unreadable: not base64; moved to q-poison',
      attempt: identity,
    });
    expect(decideDelivery(false, { ok: false, error: 'x' }, delivery, none)).not.toHaveProperty('attempt');
  });

  it('defers other copies of a task held here, looks otherwise', () => {
    const running = { running: new Map([['job1:n:2', {}]]), claiming: new Set<string>() };
    expect(decideDelivery(false, ok, delivery, running)).toMatchObject({ kind: 'defer-copy' });
    const claiming = { running: new Map<string, unknown>(), claiming: new Set(['job1:n:2']) };
    expect(decideDelivery(false, ok, delivery, claiming)).toMatchObject({ kind: 'defer-copy' });
    expect(decideDelivery(false, ok, delivery, none)).toEqual({ kind: 'look', message: message() });
  });
});

describe('decideRunning', () => {
  const row = (over: Partial<RunningStatus> = {}): RunningStatus => ({
    taskId: 't1',
    nodeStatus: 'running',
    nodeTaskId: 't1',
    holder: 'me',
    jobStatus: 'running',
    cancelRequested: false,
    ...over,
  });
  const stop = (r: RunningStatus) => decideRunning(r, 't1', 'me');

  it('lets a current attempt of a running job go on', () => {
    expect(stop(row())).toBeNull();
    expect(stop(row({ nodeStatus: 'dispatched', holder: null }))).toBeNull();
  });

  it('stops on a cancel or an ended job', () => {
    expect(stop(row({ cancelRequested: true }))?.reason).toBe('cancelled');
    expect(stop(row({ jobStatus: 'cancelled' }))?.message).toBe(
      'The job was cancelled while the task was running',
    );
    expect(stop(row({ jobStatus: null }))?.message).toBe(
      'The job has ended (deleted) while the task was running',
    );
    expect(stop(row({ jobStatus: 'failed' }))?.reason).toBe('cancelled');
  });

  it('stops a superseded attempt: taken over, ended elsewhere, or replaced', () => {
    expect(stop(row({ holder: 'other' }))).toEqual({
      reason: 'superseded',
      message: 'Worker other took this attempt over; stopped here',
    });
    expect(stop(row({ nodeStatus: 'failed' }))?.message).toMatch(/ended elsewhere \(the node is failed/);
    expect(stop(row({ nodeTaskId: 't2', holder: 'other' }))?.message).toBe(
      'This attempt is no longer current (the node is running with task t2); stopped',
    );
    expect(stop(row({ nodeStatus: null, nodeTaskId: null }))?.message).toBe(
      'This attempt is no longer current (the node is gone); stopped',
    );
  });
});

// ---------------------------------------------------------------- properties

const NODE_STATUSES = ['pending', 'ready', 'dispatched', 'running', 'completed', 'failed', 'skipped'];
const JOB_STATUSES = ['pending', 'running', 'completed', 'failed', 'cancelled'];
const TERMINAL = new Set(['completed', 'failed', 'cancelled']);

const preflightArb: fc.Arbitrary<Preflight> = fc.record({
  node: fc.option(
    fc.record({
      status: fc.constantFrom(...NODE_STATUSES),
      taskId: fc.constantFrom<string | null>('job1:n:2', 'job1:n:3', null),
      attempt: fc.integer({ min: 0, max: 5 }),
      firstAttempt: fc.integer({ min: 0, max: 2 }),
      workerId: fc.constantFrom<string | null>(null, 'w1', 'w2'),
      // From 2 minutes ago to 1 s in the future (clock skew between the writer and the reader).
      lastSeenAt: fc.option(
        fc.integer({ min: -120_000, max: 1000 }).map((d) => new Date(NOW + d)),
        { nil: null },
      ),
      inputParams: fc.constant(null),
    }),
    { nil: null },
  ),
  job: fc.option(fc.record({ status: fc.constantFrom(...JOB_STATUSES), cancelRequested: fc.boolean() }), {
    nil: null,
  }),
  result: fc.option(
    fc.record({
      status: fc.constantFrom<'completed' | 'failed'>('completed', 'failed'),
      disposition: fc.constantFrom('applied', 'ignored', 'superseded'),
      errorMessage: fc.constantFrom<string | null>(null, 'boom'),
      workerId: fc.constantFrom<string | null>(null, 'w1'),
      durationMs: fc.constantFrom<number | null>(null, 5),
    }),
    { nil: null },
  ),
  checkedAt: fc.constant(new Date(NOW)),
});

/** Biased to the interesting corner: a current attempt of a live job that some worker runs. */
const heldArb: fc.Arbitrary<Preflight> = preflightArb.map((p) => ({
  ...p,
  node: {
    ...(p.node ?? node()),
    status: 'running',
    taskId: 'job1:n:2',
    workerId: p.node?.workerId ?? 'w2',
  },
  job: { status: 'running', cancelRequested: false },
  result: null,
}));

const anyPreflight = fc.oneof(preflightArb, heldArb);

const limitsArb = fc.record({
  queue: fc.constant('q'),
  maxDequeueCount: fc.integer({ min: 1, max: 6 }),
  staleAfterMs: fc.integer({ min: 1000, max: 60_000 }),
});

const dequeueArb = fc.integer({ min: 1, max: 10 });

/** A worker other than the receiver was seen within staleAfter (the receiver holds nothing: see decideDelivery). */
const liveHolder = (p: Preflight, now: number, l: MessageLimits) =>
  !!p.node &&
  p.node.status === 'running' &&
  p.node.workerId !== null &&
  p.node.lastSeenAt !== null &&
  now - p.node.lastSeenAt.getTime() < l.staleAfterMs;

const runs = (d: MessageDecision) => d.kind === 'start' || d.kind === 'take-over';

describe('decideMessage: properties', () => {
  it('runs an attempt only when it is current, unfinished, its job live, no live holder and deliveries left', () => {
    fc.assert(
      fc.property(anyPreflight, dequeueArb, limitsArb, (p, n, l) => {
        const d = decideMessage(p, message(), n, NOW, l);
        const mayRun =
          !!p.node &&
          !!p.job &&
          !p.result &&
          !TERMINAL.has(p.job.status) &&
          !p.job.cancelRequested &&
          p.node.taskId === 'job1:n:2' &&
          (p.node.status === 'dispatched' || p.node.status === 'running') &&
          !liveHolder(p, NOW, l) &&
          n <= l.maxDequeueCount;
        expect(runs(d)).toBe(mayRun);
        if (runs(d)) expect(d.kind).toBe(p.node!.status === 'running' ? 'take-over' : 'start');
      }),
      { numRuns: 2000 },
    );
  });

  it('never runs an attempt a live worker holds, and never poisons its copies', () => {
    fc.assert(
      fc.property(anyPreflight, dequeueArb, limitsArb, (p, n, l) => {
        fc.pre(liveHolder(p, NOW, l));
        const d = decideMessage(p, message(), n, NOW, l);
        expect(['start', 'take-over', 'poison']).not.toContain(d.kind);
      }),
      { numRuns: 1000 },
    );
  });

  it('only acknowledges a task that has a result, whatever its job, node or deliveries', () => {
    fc.assert(
      fc.property(anyPreflight, dequeueArb, limitsArb, (p, n, l) => {
        fc.pre(!!p.node && !!p.job && !!p.result);
        const d = decideMessage(p, message(), n, NOW, l);
        expect(d.kind).toBe('acknowledge');
        if (d.kind === 'acknowledge')
          expect(d.resend).toBe(p.result!.disposition === 'applied' && p.result!.workerId !== null);
      }),
      { numRuns: 500 },
    );
  });

  it('poisons only a message delivered more than maxDequeueCount times', () => {
    fc.assert(
      fc.property(anyPreflight, dequeueArb, limitsArb, (p, n, l) => {
        const d = decideMessage(p, message(), n, NOW, l);
        if (d.kind === 'poison') expect(n).toBeGreaterThan(l.maxDequeueCount);
        // One delivery fewer would have run it.
        if (d.kind === 'poison')
          expect(runs(decideMessage(p, message(), l.maxDequeueCount, NOW, l))).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('a deferred copy is taken over (or poisoned) once its holder has been silent for staleAfter', () => {
    fc.assert(
      fc.property(anyPreflight, dequeueArb, limitsArb, fc.nat({ max: 600_000 }), (p, n, l, extra) => {
        const d = decideMessage(p, message(), n, NOW, l);
        fc.pre(d.kind === 'defer');
        const later = p.node!.lastSeenAt!.getTime() + l.staleAfterMs + extra;
        const again = decideMessage({ ...p, checkedAt: new Date(later) }, message(), n, later, l);
        expect(['take-over', 'poison']).toContain(again.kind);
      }),
      { numRuns: 500 },
    );
  });

  it('is a function of its arguments (the same row, the same decision)', () => {
    fc.assert(
      fc.property(anyPreflight, dequeueArb, limitsArb, (p, n, l) => {
        expect(decideMessage(p, message(), n, NOW, l)).toEqual(
          decideMessage(structuredClone(p), message(), n, NOW, l),
        );
      }),
      { numRuns: 300 },
    );
  });
});
