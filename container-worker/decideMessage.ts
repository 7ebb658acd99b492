// What to do with a received task message: the worker's decision table, pure as dag/decide is the
// scheduler's (no I/O, no clock: time is an argument). Two steps, because the second needs a read:
// * decideDelivery — before looking at Postgres, for each task of a message: shutting down,
//   unreadable, or a copy of a task this worker already holds;
// * decideMessage — with the preflight row (job, node, recorded result, the holder's last sign of
//   life): acknowledge, drop, record stale/ended, defer, poison, start, or take over.
// startContainerWorker carries the decisions out; every one is safe to repeat on a redelivery.
import type { ContainerTaskMessage } from '../lib/containerMessages';
import type { Preflight } from '../db';
import type { AttemptIdentity, DecodedTask } from './taskMessageCodec';

export type DeliveryDecision =
  /** Taken while shutting down: visible again at once, for another worker. */
  | { kind: 'release' }
  /** Unreadable: to `<queue>-poison`, failing the attempt it names (if it names one). */
  | { kind: 'poison'; reason: string; attempt?: AttemptIdentity }
  /** Another copy of a task this worker is looking at or running: deferred, deleted once it finished. */
  | { kind: 'defer-copy'; message: ContainerTaskMessage; why: string }
  /** Look at Postgres, then decideMessage. */
  | { kind: 'look'; message: ContainerTaskMessage };

export interface Delivery {
  queue: string;
  messageId: string;
  dequeueCount: number;
}

export interface LocalTasks {
  /** Task ids running here. */
  running: ReadonlyMap<string, unknown>;
  /** Task ids between decode and start. */
  claiming: ReadonlySet<string>;
}

/**
 * One task of a received message (a message this worker already holds, received again after its
 * lease lapsed, is kept by messageLease before it gets here).
 */
export function decideDelivery(
  stopping: boolean,
  decoded: DecodedTask,
  delivery: Delivery,
  local: LocalTasks,
): DeliveryDecision {
  if (stopping) return { kind: 'release' };
  if (!decoded.ok)
    return {
      kind: 'poison',
      reason: `Task message ${delivery.messageId} on queue "${delivery.queue}" is unreadable: ${decoded.error}; moved to ${delivery.queue}-poison`,
      ...(decoded.identity ? { attempt: decoded.identity } : {}),
    };
  const message = decoded.message;
  if (local.running.has(message.task_id) || local.claiming.has(message.task_id))
    return { kind: 'defer-copy', message, why: 'this worker is running the attempt' };
  return { kind: 'look', message };
}

export type MessageDecision =
  /** The job or node does not exist: delete the message. */
  | { kind: 'drop'; job: boolean; node: boolean }
  /** The task has a result already: acknowledge, sending its result message again when `resend`. */
  | { kind: 'acknowledge'; resend: boolean; result: RecordedResult; node: NodeRow }
  /**
   * Not run: record a failed, not retryable result (`why`) for the attempt, then delete the message.
   * `counter`: dropped (the job ended or was cancelled), stale (the node moved on).
   */
  | { kind: 'record'; counter: 'dropped' | 'stale'; why: string; note: string; firstAttempt: number }
  /** Another worker holds the attempt (fresh heartbeat): look again after one lease period. */
  | { kind: 'defer'; why: string }
  /** Delivered too often without finishing: to `<queue>-poison`, failing the attempt. */
  | { kind: 'poison'; reason: string }
  /** Mark the attempt started and run it. */
  | { kind: 'start'; node: NodeRow }
  /** The holder died or handed the attempt back: claim it from `previousWorker` and resume it. */
  | { kind: 'take-over'; previousWorker: string | null; node: NodeRow };

type NodeRow = NonNullable<Preflight['node']>;
type RecordedResult = NonNullable<Preflight['result']>;

export interface MessageLimits {
  queue: string;
  /** Deliveries before a message that would run is poison. */
  maxDequeueCount: number;
  /** A holder whose last heartbeat is older than this is taken for dead. */
  staleAfterMs: number;
}

const TERMINAL_JOB = new Set(['completed', 'failed', 'cancelled']);

/**
 * The decision for a task message given what Postgres holds. `now`: the clock the heartbeats were
 * written with (the preflight's checkedAt), in milliseconds.
 */
export function decideMessage(
  pre: Preflight,
  m: ContainerTaskMessage,
  dequeueCount: number,
  now: number,
  limits: MessageLimits,
): MessageDecision {
  const { node, job, result } = pre;
  if (!node || !job) return { kind: 'drop', job: !!job, node: !!node };
  // Delivered again after it finished (a redelivery, or a crash before the delete). Its result message
  // goes again when a worker recorded it (that worker may have died before sending); a result the
  // orchestration recorded itself (a timeout) needs no message.
  if (result)
    return {
      kind: 'acknowledge',
      resend: result.disposition === 'applied' && result.workerId !== null,
      result,
      node,
    };
  if (TERMINAL_JOB.has(job.status) || job.cancelRequested) {
    const why =
      job.cancelRequested || job.status === 'cancelled'
        ? 'The job was cancelled before the task started'
        : `The job has ended (${job.status}) before the task started`;
    return {
      kind: 'record',
      counter: 'dropped',
      why,
      note: `${why}: not run`,
      firstAttempt: node.firstAttempt,
    };
  }
  if (node.taskId !== m.task_id || (node.status !== 'dispatched' && node.status !== 'running')) {
    const why = `Task message for attempt ${m.attempt} of "${m.node_id}" arrived after the node moved on (the node is ${node.status} at attempt ${node.attempt}); dropped without running`;
    return { kind: 'record', counter: 'stale', why, note: why, firstAttempt: node.firstAttempt };
  }
  if (node.status === 'running' && holderAlive(node, now, limits.staleAfterMs))
    return { kind: 'defer', why: `worker ${node.workerId ?? '?'} holds the attempt (fresh heartbeat)` };
  // From here the message would run: one that keeps coming back without finishing is poison.
  if (dequeueCount > limits.maxDequeueCount)
    return {
      kind: 'poison',
      reason: `Task message for ${m.task_id} was delivered ${dequeueCount - 1} times without completing (the worker crashed or was killed each time); moved to ${limits.queue}-poison`,
    };
  return node.status === 'running'
    ? { kind: 'take-over', previousWorker: node.workerId, node }
    : { kind: 'start', node };
}

/** A worker holds the attempt and was seen (heartbeat, else start) within staleAfterMs of now. */
export function holderAlive(node: NodeRow, now: number, staleAfterMs: number): boolean {
  return node.workerId !== null && node.lastSeenAt !== null && node.lastSeenAt.getTime() > now - staleAfterMs;
}
