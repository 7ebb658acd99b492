// The product's metrics (docs/monitoring.md "Metrics"), created on first use while telemetry is on.
import {
  metrics as metricsApi,
  type Attributes,
  type Counter,
  type Histogram,
  type Meter,
  type ObservableGauge,
} from '@opentelemetry/api';
import { telemetryEnabled, TRACER } from './initTelemetry';
import { trackException } from './telemetryLogs';
import type { Dimensions } from './traceContext';

interface Instruments {
  jobsSubmitted: Counter;
  jobsCompleted: Counter;
  jobsFailed: Counter;
  jobsCancelled: Counter;
  attemptDuration: Histogram;
  attemptsFailed: Counter;
  retries: Counter;
  timeouts: Counter;
  staleResults: Counter;
  unverifiedResults: Counter;
  containerWait: Histogram;
  fanOutWidth: Histogram;
  poisonMessages: Counter;
  reconcilerRepairs: Counter;
}

let instruments: Instruments | undefined;

function meter(): Meter {
  return metricsApi.getMeter(TRACER);
}

function inst(): Instruments | undefined {
  if (!telemetryEnabled()) return undefined;
  if (instruments) return instruments;
  const m = meter();
  instruments = {
    jobsSubmitted: m.createCounter('dag.jobs.submitted', { description: 'Jobs submitted' }),
    jobsCompleted: m.createCounter('dag.jobs.completed', { description: 'Jobs that completed' }),
    jobsFailed: m.createCounter('dag.jobs.failed', { description: 'Jobs that failed' }),
    jobsCancelled: m.createCounter('dag.jobs.cancelled', { description: 'Jobs cancelled' }),
    attemptDuration: m.createHistogram('dag.attempt.duration', {
      description: 'Duration of a task attempt (handler execution)',
      unit: 'ms',
    }),
    attemptsFailed: m.createCounter('dag.attempts.failed', { description: 'Task attempts that failed' }),
    retries: m.createCounter('dag.attempts.retried', {
      description: 'Attempts scheduled again after a failure',
    }),
    timeouts: m.createCounter('dag.attempts.timed_out', {
      description: 'Attempts that exceeded timeout_seconds',
    }),
    staleResults: m.createCounter('dag.results.stale', {
      description: 'Results of attempts no longer current (late, duplicate or for an ended job)',
    }),
    unverifiedResults: m.createCounter('dag.results.unverified', {
      description:
        'Signed container results whose signature this app could not check (a key it does not hold, or a mismatch): read from Postgres instead',
    }),
    containerWait: m.createHistogram('dag.container.wait', {
      description: 'Container task wait: enqueued → started on a worker',
      unit: 'ms',
    }),
    fanOutWidth: m.createHistogram('dag.fanout.width', { description: 'Children of a fan-out' }),
    poisonMessages: m.createCounter('dag.queue.poisoned', {
      description: 'Messages moved to a poison queue',
    }),
    reconcilerRepairs: m.createCounter('dag.reconciler.repairs', {
      description: 'Jobs the reconciler repaired and lost task messages it sent again',
    }),
  };
  return instruments;
}

/**
 * Metric dimensions: bounded ones only (workflow, node, handler, runner, queue, attempt number,
 * outcome). The per-job and per-task ids (job_id, task_id) are on the spans, logs and exceptions of
 * the same work — one metric time series per task would exceed the SDK's cardinality limit on a wide
 * fan-out (docs/monitoring.md "Metrics").
 */
const FAN_OUT_CHILD = /__\d+$/;

function metricAttributes(d: Dimensions & Record<string, string | number | undefined>): Attributes {
  const a: Attributes = {};
  for (const [k, v] of Object.entries(d)) {
    if (v === undefined || k === 'job_id' || k === 'task_id' || k === 'request_id') continue;
    // A fan-out child's node id is <fan_out>__<i>: its metrics count under the fan-out node.
    a[k] = k === 'node_id' && typeof v === 'string' ? v.replace(FAN_OUT_CHILD, '') : v;
  }
  return a;
}

export type MetricDims = Dimensions & Record<string, string | number | undefined>;

/** What an attempt's metrics are told: its ids (the unbounded ones are left out) and where it ran. */
export type AttemptDims = Pick<
  Dimensions,
  'job_id' | 'workflow_id' | 'node_id' | 'task_id' | 'attempt' | 'handler' | 'runner'
>;

// A wide fan-out records thousands of attempts with the same few attribute sets: build each once.
const attemptAttributeSets = new Map<string, Attributes>();

function attemptAttributes(d: AttemptDims, ok: boolean): Attributes {
  const key = `${d.workflow_id}|${d.node_id?.replace(FAN_OUT_CHILD, '')}|${d.attempt}|${d.handler}|${d.runner}|${ok}`;
  let a = attemptAttributeSets.get(key);
  if (!a) {
    a = metricAttributes({ ...d, outcome: ok ? 'succeeded' : 'failed' });
    // Bounded like the series themselves; a process that sees more sets starts over.
    if (attemptAttributeSets.size >= 2000) attemptAttributeSets.clear();
    attemptAttributeSets.set(key, a);
  }
  return a;
}

export const metrics = {
  jobSubmitted(d: MetricDims): void {
    inst()?.jobsSubmitted.add(1, metricAttributes(d));
  },
  jobEnded(status: 'completed' | 'failed' | 'cancelled', d: MetricDims): void {
    const i = inst();
    if (!i) return;
    const c = status === 'completed' ? i.jobsCompleted : status === 'failed' ? i.jobsFailed : i.jobsCancelled;
    c.add(1, metricAttributes(d));
  },
  attempt(durationMs: number, ok: boolean, d: AttemptDims): void {
    const i = inst();
    if (!i) return;
    const a = attemptAttributes(d, ok);
    i.attemptDuration.record(durationMs, a);
    if (!ok) i.attemptsFailed.add(1, a);
  },
  retry(d: MetricDims): void {
    inst()?.retries.add(1, metricAttributes(d));
  },
  timeout(d: MetricDims): void {
    inst()?.timeouts.add(1, metricAttributes(d));
  },
  staleResult(d: MetricDims): void {
    inst()?.staleResults.add(1, metricAttributes(d));
  },
  /** A result's signature could not be checked: a forgery, or keys rotated or rebuilt under a worker. */
  unverifiedResult(reason: 'unknown_key' | 'mismatch'): void {
    inst()?.unverifiedResults.add(1, { reason });
  },
  containerWait(ms: number, d: MetricDims): void {
    inst()?.containerWait.record(Math.max(0, ms), metricAttributes(d));
  },
  fanOutWidth(width: number, d: MetricDims): void {
    inst()?.fanOutWidth.record(width, metricAttributes(d));
  },
  poisoned(d: MetricDims): void {
    inst()?.poisonMessages.add(1, metricAttributes(d));
  },
  reconcilerRepairs(n: number, kind: 'job' | 'requeued_attempt'): void {
    if (n > 0) inst()?.reconcilerRepairs.add(n, { kind });
  },
};

/**
 * An observable gauge (queue depths): `observe` is called at each export and returns the values by
 * attribute set. Returns a function that removes it.
 */
export function registerGauge(
  name: string,
  description: string,
  observe: () => Promise<Array<{ value: number; attributes: Attributes }>>,
): () => void {
  if (!telemetryEnabled()) return () => undefined;
  const gauge: ObservableGauge = meter().createObservableGauge(name, { description });
  const cb = async (result: { observe(v: number, a?: Attributes): void }) => {
    try {
      for (const o of await observe()) result.observe(o.value, o.attributes);
    } catch {
      // a depth that cannot be read is not reported this time
    }
  };
  gauge.addCallback(cb);
  return () => gauge.removeCallback(cb);
}

/**
 * What recording an attempt's result did, as telemetry: a retry scheduled counts a retry, a node
 * failed for good is an exception (the Failures blade), a result that did not apply (stale, duplicate,
 * job ended) counts a stale result.
 */
export function reportResultRecorded(
  recorded: { kind: string; outcome?: string },
  dims: Dimensions,
  error?: string | null,
): void {
  if (!telemetryEnabled()) return;
  if (recorded.kind === 'applied') {
    if (recorded.outcome === 'retry_scheduled') metrics.retry(dims);
    else if (recorded.outcome === 'failed') trackException('NodeFailed', error ?? 'failed', dims);
  } else if (recorded.kind !== 'not_found') {
    metrics.staleResult({ ...dims, disposition: recorded.kind });
  }
}
