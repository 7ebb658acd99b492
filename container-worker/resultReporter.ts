// The result of an attempt: recorded in Postgres (idempotent by task id), then sent as a result
// message to the orchestration waiting for it (batched; see ResultBatcher). A redelivered task whose
// result a worker recorded sends it again: the first sender may have died before sending.
import {
  appliedResultOutcome,
  type AttemptOutcome as AttemptEventOutcome,
  type ContainerResultMessage,
  type ContainerTaskMessage,
} from '../lib/containerMessages';
import { signResult } from '../lib/io/resultSignature';
import { retryDelaySeconds } from '../dag/retryDelay';
import type { RetryPolicy } from '../dag/workflowModel';
import {
  LIMITS,
  recordTaskResults,
  ResultKeys,
  retryPolicyOf,
  truncate,
  type Preflight,
  type TaskResultInput,
  type TaskResultOutcome,
} from '../db';
import type { Logger } from '../handlers/createLogger';
import { errorMessage, type AttemptResult } from '../handlers/executeHandler';
import { currentTraceparent, reportResultRecorded } from '../handlers/telemetry';
import { GroupCommit } from '../lib/groupCommit';
import { ResultBatcher } from './resultBatcher';
import type { AttemptIdentity } from './taskMessageCodec';
import type { WorkerContext } from './workerContext';
import { withRetry } from './withRetry';

/** A result message send that takes longer is abandoned and retried. */
const RESULT_SEND_TIMEOUT_MS = 30_000;
/** Results per statement when several tasks finish together. */
const RESULTS_PER_STATEMENT = 100;

/** What recordAndReport needs of a message: an attempt and where its result goes. */
export type ReportedAttempt = AttemptIdentity & { reply_to?: string; result_queue?: string };

export interface AttemptOutcome {
  status: 'completed' | 'failed';
  output?: unknown;
  errorMessage?: string;
  retryable?: boolean;
  durationMs?: number;
  timedOut?: boolean;
}

export class ResultReporter {
  private readonly results: ResultBatcher;
  /** Results of tasks that finish while one is being recorded share the next statement. */
  private readonly recording: GroupCommit<TaskResultInput, TaskResultOutcome>;
  private readonly policyCache = new Map<string, RetryPolicy | undefined>();

  /** The keys that sign results (read from Postgres, kept a few minutes: db/resultKeyRepository.ts). */
  private readonly keys: ResultKeys;

  constructor(private readonly ctx: WorkerContext) {
    this.keys = new ResultKeys(ctx.pool, ctx.schema, (err) =>
      ctx.log.warn('could not read the result signing key: results go unsigned (the trigger reads them)', {
        error: errorMessage(err),
      }),
    );
    this.recording = new GroupCommit(
      (inputs) => recordTaskResults(ctx.pool, ctx.schema, inputs, { sourceApp: ctx.sourceApp }),
      RESULTS_PER_STATEMENT,
    );
    this.results = new ResultBatcher((queue, text) =>
      withRetry(ctx.log, 'send the result', async () => {
        // Bounded: one send in flight carries every waiting result, so a hung request must not
        // hold them all (the retry sends them again).
        await (
          await ctx.queues.ensure(queue)
        ).sendMessage(text, {
          abortSignal: AbortSignal.timeout(RESULT_SEND_TIMEOUT_MS),
        });
      }),
    );
  }

  /**
   * Records an attempt's result (idempotent by task id) and, when it applied to the node, sends the
   * result message; a duplicate whose first recording applied is sent again (the first sender may
   * have died before sending). False when recording or sending failed.
   */
  async recordAndReport(
    m: ReportedAttempt,
    r: AttemptOutcome,
    firstAttempt: number,
    log: Logger = this.ctx.log,
    /** Called once the result is recorded, before it is sent. */
    onRecorded?: () => void,
  ): Promise<boolean> {
    const { ctx } = this;
    const retryable = r.status === 'failed' && r.retryable !== false;
    const input: TaskResultInput = {
      taskId: m.task_id,
      jobId: m.job_id,
      nodeId: m.node_id,
      attempt: m.attempt,
      status: r.status,
      ...(r.status === 'completed'
        ? { output: r.output }
        : { errorMessage: r.errorMessage ?? 'failed', retryable }),
      workerId: ctx.workerId,
      durationMs: r.durationMs ?? null,
      ...(r.timedOut ? { timedOut: true } : {}),
      retryDelayMs: retryable ? await this.retryDelayMs(m, firstAttempt) : 0,
    };
    const t0 = Date.now();
    let outcome: TaskResultOutcome;
    try {
      outcome = await withRetry(ctx.log, 'record the result', async () => {
        const [recorded] = await this.recording.run([input]);
        return recorded!;
      });
    } catch (err) {
      log.error('could not record the task result in Postgres', { error: errorMessage(err) });
      ctx.pause();
      return false;
    }
    ctx.phase('record', Date.now() - t0);
    onRecorded?.();
    reportResultRecorded(
      outcome,
      { job_id: m.job_id, node_id: m.node_id, task_id: m.task_id, attempt: m.attempt, runner: 'container' },
      r.errorMessage,
    );
    let message: ContainerResultMessage | undefined;
    if (outcome.kind === 'applied') {
      message = await this.signed(
        resultMessage(m, ctx.workerId, {
          status: r.status,
          errorMessage: r.errorMessage ?? null,
          retryable,
          durationMs: r.durationMs ?? null,
        }),
        // The outcome the trigger would read back: the error as stored, a retry iff one was scheduled.
        appliedResultOutcome(
          r.status,
          truncate(input.errorMessage ?? 'failed', LIMITS.errorMessage),
          outcome.outcome === 'retry_scheduled',
        ),
      );
    } else if (
      outcome.kind === 'duplicate' &&
      outcome.existing?.disposition === 'applied' &&
      outcome.existing.worker_id !== null
    ) {
      const e = outcome.existing;
      message = resultMessage(m, e.worker_id ?? ctx.workerId, {
        status: e.status,
        errorMessage: e.error_message,
        retryable: e.status === 'failed' && retryable,
        durationMs: e.duration_ms,
      });
    } else {
      log.info('result recorded, not applied', { disposition: outcome.kind });
      return true;
    }
    return this.send(m, message);
  }

  /** Sends a result message (none: nothing to send). False when the send failed. */
  async send(
    m: { task_id: string; result_queue?: string },
    message: ContainerResultMessage | undefined,
  ): Promise<boolean> {
    if (!message || !m.result_queue) return true;
    const t0 = Date.now();
    try {
      await this.results.add(m.result_queue, message);
      this.ctx.counters.resultsSent++;
      this.ctx.phase('sendResult', Date.now() - t0);
      return true;
    } catch (err) {
      this.ctx.log.error(`could not send the result of ${m.task_id} to queue "${m.result_queue}"`, {
        error: errorMessage(err),
      });
      return false;
    }
  }

  /**
   * The message with the outcome its record applied, signed (lib/io/resultSignature.ts) so that the
   * trigger need not read it back; unsigned (read back) when this worker holds no key.
   */
  private async signed(
    message: ContainerResultMessage | undefined,
    outcome: AttemptEventOutcome,
  ): Promise<ContainerResultMessage | undefined> {
    const key = message && (await this.keys.signing());
    if (!message || !key) return message;
    return { ...message, outcome, signature: signResult(key, { ...message, outcome }) };
  }

  private async retryDelayMs(m: AttemptIdentity, firstAttempt: number): Promise<number> {
    const key = `${m.job_id}/${m.node_id.split('__')[0]}`;
    let policy: RetryPolicy | undefined;
    if (this.policyCache.has(key)) policy = this.policyCache.get(key);
    else {
      try {
        policy = await retryPolicyOf(this.ctx.pool, this.ctx.schema, { jobId: m.job_id, nodeId: m.node_id });
        if (this.policyCache.size > 5000) this.policyCache.clear();
        this.policyCache.set(key, policy);
      } catch (err) {
        this.ctx.log.warn('could not read the retry policy; using the default', { error: errorMessage(err) });
      }
    }
    return retryDelaySeconds(policy, Math.max(0, m.attempt - firstAttempt)) * 1000;
  }
}

/** The result message of a recorded result (for an acknowledged redelivery). */
export function resultFromRow(
  m: ContainerTaskMessage,
  r: NonNullable<Preflight['result']>,
  node: NonNullable<Preflight['node']>,
  workerId: string,
): ContainerResultMessage | undefined {
  // Sent again: raised alone, never grouped with first-time results under a task id whose event may
  // have been delivered already (docs/messages.md "Results events").
  const { results_event: _again, ...alone } = m;
  return resultMessage(alone, r.workerId ?? workerId, {
    status: r.status,
    errorMessage: r.errorMessage,
    // A retry was scheduled iff the node went on to a later attempt.
    retryable: r.status === 'failed' && node.attempt > m.attempt,
    durationMs: r.durationMs,
  });
}

/** What a handler's result records. */
export function attemptResultInput(r: AttemptResult): AttemptOutcome {
  return r.ok
    ? { status: 'completed' as const, output: r.output, durationMs: r.durationMs }
    : {
        status: 'failed' as const,
        errorMessage: r.error,
        retryable: r.retryable,
        durationMs: r.durationMs,
        ...(r.timedOut ? { timedOut: true } : {}),
      };
}

function resultMessage(
  m: {
    task_id: string;
    job_id: string;
    node_id: string;
    attempt: number;
    reply_to?: string;
    results_event?: string;
  },
  workerId: string,
  r: {
    status: 'completed' | 'failed';
    errorMessage: string | null;
    retryable: boolean;
    durationMs: number | null;
  },
): ContainerResultMessage | undefined {
  if (!m.reply_to) return undefined;
  return {
    v: 1,
    task_id: m.task_id,
    job_id: m.job_id,
    node_id: m.node_id,
    attempt: m.attempt,
    status: r.status,
    error_message: r.status === 'failed' ? (r.errorMessage ?? 'failed').slice(0, 2000) : null,
    retryable: r.retryable,
    worker_id: workerId.slice(0, 64),
    execution_duration_ms: r.durationMs === null ? null : Math.max(0, Math.round(r.durationMs)),
    reported_at: new Date().toISOString(),
    reply_to: m.reply_to,
    ...(m.results_event ? { results_event: m.results_event } : {}),
    // The span that sends it (the task's consumer span): the result trigger's span joins the trace.
    ...withTraceparent(),
  };
}

function withTraceparent(): { traceparent?: string } {
  const traceparent = currentTraceparent();
  return traceparent ? { traceparent } : {};
}
