import { describe, expect, it } from 'vitest';
import { apply } from '../../dag/applyEvent';
import { decide } from '../../dag/decide';
import { initJobState, rerunJobState } from '../../dag/initJobState';
import { getChild, type JobState } from '../../dag/jobState';
import { resultData } from '../../dag/resultData';
import { simulateJob, type SimCall, type SimOutcome } from '../../dag/simulateJob';
import { planOf, task } from '../support/workflows';

const ok = (output: unknown = {}): SimOutcome => ({ ok: true, output });
const echo = (c: SimCall): SimOutcome => ok({ echoed: c.params });

function statuses(state: JobState): Record<string, string> {
  return Object.fromEntries(
    Object.entries(state.nodes).map(([id, n]) => [id, n.status + (n.skipReason ? `:${n.skipReason}` : '')]),
  );
}

describe('readiness and completion', () => {
  it('runs a linear chain and completes with result_data and provenance', () => {
    const plan = planOf({
      inputs: { msg: { type: 'string' } },
      nodes: {
        start: { type: 'start', next: 'a' },
        a: task('b', { params: { m: '{{ inputs.msg }}' } }),
        b: task('end', { params: { prev: '{{ nodes.a.output.echoed.m }}' } }),
        end: { type: 'end' },
      },
    });
    const r = simulateJob(plan, { inputs: { msg: 'hi' }, handler: echo });
    expect(r.state.status).toBe('completed');
    expect(r.dispatches.map((d) => d.key)).toEqual(['a', 'b']);
    expect(r.state.nodes.b!.output).toEqual({ echoed: { prev: 'hi' } });
    const data = resultData(plan, r.state, {
      workflow_id: 'test',
      workflow_version: 1,
      job_id: 'job',
      completed_at: 'T',
    });
    expect(data).toEqual({
      a: { echoed: { m: 'hi' } },
      b: { echoed: { prev: 'hi' } },
      _provenance: { workflow_id: 'test', workflow_version: 1, job_id: 'job', completed_at: 'T' },
    });
  });

  it('a workflow with no tasks completes', () => {
    const plan = planOf({ nodes: { start: { type: 'start', next: 'end' }, end: { type: 'end' } } });
    const r = simulateJob(plan, { handler: echo });
    expect(r.state.status).toBe('completed');
    expect(r.dispatches).toEqual([]);
  });

  it('all_of waits for every member; any_of starts on the first completion', () => {
    const plan = planOf({
      nodes: {
        start: { type: 'start', next: ['fast', 'slow'] },
        fast: task(),
        slow: task(),
        all: { ...task('end'), depends_on: { all_of: ['fast', 'slow'] } },
        any: { ...task('end'), depends_on: { any_of: ['fast', 'slow'] } },
        end: { type: 'end' },
      },
    });
    const order: string[] = [];
    simulateJob(plan, {
      handler: (c) => {
        order.push(`${c.key}@${c.now}`);
        return { ok: true, output: {}, durationMs: c.key === 'slow' ? 100 : 1 };
      },
    });
    expect(order).toEqual(['fast@0', 'slow@0', 'any@1', 'all@100']);
  });

  it('a node never becomes ready before its dependencies (explicit depends_on replaces next)', () => {
    const plan = planOf({
      nodes: {
        start: { type: 'start', next: ['a', 'b'] },
        a: task('c'),
        b: task(),
        c: { ...task('end'), depends_on: ['b'] },
        end: { type: 'end' },
      },
    });
    const times: Record<string, number> = {};
    simulateJob(plan, {
      handler: (c) => {
        times[c.key] = c.now;
        return { ok: true, output: {}, durationMs: c.key === 'b' ? 50 : 1 };
      },
    });
    expect(times.c).toBe(50);
  });
});

describe('failure propagation (regression: the original job hung in running forever)', () => {
  const plan = planOf({
    nodes: {
      start: { type: 'start', next: ['bad', 'good'] },
      bad: task('after', { retry: { max_attempts: 0 } }),
      after: task('end'),
      good: task('end2'),
      end: { type: 'end' },
      end2: { type: 'end' },
    },
  });

  it('fails the job with the first failed node error and skips what can no longer run', () => {
    const r = simulateJob(plan, {
      handler: (c) => (c.node === 'bad' ? { ok: false, error: 'boom' } : ok()),
    });
    expect(r.stuck).toBe(false);
    expect(r.state.status).toBe('failed');
    expect(r.state.error).toBe('Node "bad" failed: boom');
    expect(statuses(r.state)).toMatchObject({
      bad: 'failed',
      after: 'skipped:upstream_failed',
      end: 'skipped:upstream_failed',
      good: 'completed',
      end2: 'completed',
    });
  });

  it('template errors fail the attempt without retries', () => {
    const p = planOf({
      inputs: { d: { type: 'object', required: false } },
      nodes: {
        start: { type: 'start', next: 'a' },
        a: task('end', { params: { x: '{{ inputs.d.missing.deeper }}' }, retry: { max_attempts: 3 } }),
        end: { type: 'end' },
      },
    });
    const r = simulateJob(p, { inputs: { d: {} }, handler: echo });
    expect(r.state.status).toBe('failed');
    expect(r.dispatches).toHaveLength(1);
    expect(r.state.nodes.a!.error).toMatch(/missing/);
  });
});

describe('conditionals', () => {
  const mapForm = (cond: string) =>
    planOf({
      inputs: { n: { type: 'integer' } },
      nodes: {
        start: { type: 'start', next: 'check' },
        check: { type: 'conditional', condition: cond, branches: { true: 'big', false: 'small' } },
        big: task('join'),
        small: task('small2'),
        small2: task('join'),
        join: task('end'),
        end: { type: 'end' },
      },
    });

  it('map form routes, skips the other branch transitively and the join waits for the taken branch', () => {
    const r = simulateJob(mapForm('{{ inputs.n > 10 }}'), { inputs: { n: 5 }, handler: echo });
    expect(r.state.status).toBe('completed');
    expect(statuses(r.state)).toMatchObject({
      check: 'completed',
      big: 'skipped:branch_not_taken',
      small: 'completed',
      small2: 'completed',
      join: 'completed',
    });
    expect(r.state.nodes.check!.output).toMatchObject({ taken_branch: 'small', skipped_branches: ['big'] });
    expect(r.dispatches.map((d) => d.key)).toEqual(['small', 'small2', 'join']);
  });

  it('string results select string keys; no match and no default fails naming the value', () => {
    const p = planOf({
      inputs: { kind: { type: 'string' } },
      nodes: {
        start: { type: 'start', next: 'check' },
        check: { type: 'conditional', condition: '{{ inputs.kind }}', branches: { rgb: 'a', dem: 'b' } },
        a: task('end'),
        b: task('end'),
        end: { type: 'end' },
      },
    });
    expect(statuses(simulateJob(p, { inputs: { kind: 'dem' }, handler: echo }).state)).toMatchObject({
      a: 'skipped:branch_not_taken',
      b: 'completed',
    });
    const r = simulateJob(p, { inputs: { kind: 'lidar' }, handler: echo });
    expect(r.state.status).toBe('failed');
    expect(r.state.error).toContain('"lidar"');
  });

  it.each([
    ['<= 100', 100, 'big'],
    ['>= 100', 100, 'big'],
    ['< 100', 100, 'other'],
    ["in ['rgb', 'rgba']", 'rgba', 'big'],
    ["not in ['rgb', 'rgba']", 'dem', 'big'],
    ["== 'rgb'", 'rgb', 'big'],
  ])('list form: %s with %j (regression: <=, >= and in were always false)', (condition, value, expected) => {
    const p = planOf({
      inputs: { v: { type: typeof value === 'number' ? 'integer' : 'string' } },
      nodes: {
        start: { type: 'start', next: 'probe' },
        probe: task('check', { params: { v: '{{ inputs.v }}' } }),
        check: {
          type: 'conditional',
          condition_field: 'echoed.v',
          branches: [
            { name: 'hit', condition, next: 'big' },
            { condition: "== 'never'", next: 'small' },
            { default: true, next: 'other' },
          ],
        },
        big: task('end'),
        small: task('end'),
        other: task('end'),
        end: { type: 'end' },
      },
    });
    const r = simulateJob(p, { inputs: { v: value }, handler: echo });
    expect(r.state.status).toBe('completed');
    expect(r.state.nodes.check!.output).toMatchObject({ taken_branch: expected });
  });

  it('reads a nested field of a node that is not the immediate upstream (regression: one level, immediate node only)', () => {
    const p = planOf({
      nodes: {
        start: { type: 'start', next: 'validate' },
        validate: task('noise', { params: { raster_type: { type: 'dem', bands: 1 } } }),
        noise: task('check'),
        check: {
          type: 'conditional',
          condition_field: 'nodes.validate.output.echoed.raster_type.type',
          branches: [
            { condition: "== 'rgb'", next: 'rgb' },
            { condition: "== 'dem'", next: 'dem' },
          ],
        },
        rgb: task('end'),
        dem: task('end'),
        end: { type: 'end' },
      },
    });
    const r = simulateJob(p, { handler: echo });
    expect(r.state.nodes.check!.output).toMatchObject({ taken_branch: 'dem', value: 'dem' });
  });

  it('skips through depends_on edges too (regression: skip propagation ignored depends_on)', () => {
    const p = planOf({
      nodes: {
        start: { type: 'start', next: ['check', 'side'] },
        check: { type: 'conditional', condition: '{{ false }}', branches: { true: 'a', false: 'b' } },
        a: task(),
        b: task('end'),
        side: task(),
        after_a: { ...task('end'), depends_on: ['a', 'side'] },
        end: { type: 'end' },
      },
    });
    const r = simulateJob(p, { handler: echo });
    expect(r.state.status).toBe('completed');
    expect(statuses(r.state)).toMatchObject({ a: 'skipped:branch_not_taken', after_a: 'completed' });
    // after_a has a completed member (side) and a skipped one (a): all succeeded, one completed → it runs.
    const q = planOf({
      nodes: {
        start: { type: 'start', next: 'check' },
        check: { type: 'conditional', condition: '{{ false }}', branches: { true: 'a', false: 'b' } },
        a: task(),
        b: task('end'),
        only_a: { ...task('end'), depends_on: ['a'] },
        end: { type: 'end' },
      },
    });
    const s = simulateJob(q, { handler: echo });
    expect(statuses(s.state)).toMatchObject({
      a: 'skipped:branch_not_taken',
      only_a: 'skipped:branch_not_taken',
    });
  });

  it('any_of is not released by a skipped branch (regression)', () => {
    const p = planOf({
      nodes: {
        start: { type: 'start', next: 'check' },
        check: { type: 'conditional', condition: '{{ true }}', branches: { true: 'slow', false: 'never' } },
        slow: task(),
        never: task(),
        merge: { ...task('end'), depends_on: { any_of: ['slow', 'never'] } },
        end: { type: 'end' },
      },
    });
    const times: Record<string, number> = {};
    const r = simulateJob(p, {
      handler: (c) => {
        times[c.key] = c.now;
        return { ok: true, output: {}, durationMs: c.key === 'slow' ? 500 : 1 };
      },
    });
    expect(r.state.status).toBe('completed');
    expect(times.merge).toBe(500);
    expect(r.state.nodes.never!.status).toBe('skipped');
  });

  it('any_of whose members all failed or were skipped is skipped', () => {
    const p = planOf({
      nodes: {
        start: { type: 'start', next: ['a', 'b'] },
        a: task(undefined, { retry: { max_attempts: 0 } }),
        b: task(undefined, { retry: { max_attempts: 0 } }),
        merge: { ...task('end'), depends_on: { any_of: ['a', 'b'] } },
        end: { type: 'end' },
      },
    });
    const r = simulateJob(p, { handler: () => ({ ok: false, error: 'x' }) });
    expect(statuses(r.state)).toMatchObject({
      merge: 'skipped:upstream_failed',
      end: 'skipped:upstream_failed',
    });
    expect(r.state.status).toBe('failed');
  });

  it('a branch target with explicit depends_on stays gated by its conditional', () => {
    const p = planOf({
      nodes: {
        start: { type: 'start', next: ['check', 'prep'] },
        prep: task(),
        check: { type: 'conditional', condition: '{{ false }}', branches: { true: 'tile', false: 'single' } },
        tile: { ...task('end'), depends_on: ['prep'] },
        single: task('end'),
        end: { type: 'end' },
      },
    });
    const r = simulateJob(p, { handler: echo });
    expect(statuses(r.state)).toMatchObject({
      tile: 'skipped:branch_not_taken',
      single: 'completed',
      end: 'completed',
    });
  });
});

describe('fan-out and fan-in', () => {
  const fanPlan = (extra: Record<string, unknown> = {}, aggregation = 'collect') =>
    planOf({
      inputs: { xs: { type: 'array' } },
      nodes: {
        start: { type: 'start', next: 'split' },
        split: {
          type: 'fan_out',
          source: '{{ inputs.xs }}',
          task: {
            handler: 'echo',
            params: { item: '{{ item }}', index: '{{ index }}', key: '{{ item.k }}' },
            ...extra,
          },
          next: 'join',
        },
        join: { type: 'fan_in', aggregation, next: 'end' },
        end: { type: 'end' },
      },
    });

  it('passes item and index as native values (regression: coerced to strings)', () => {
    const seen: unknown[] = [];
    const r = simulateJob(fanPlan(), {
      inputs: { xs: [{ k: { deep: [1, 2] } }, { k: 7 }] },
      handler: (c) => {
        seen.push(c.params);
        return ok(c.params);
      },
    });
    expect(r.state.status).toBe('completed');
    expect(seen).toEqual([
      { item: { k: { deep: [1, 2] } }, index: 0, key: { deep: [1, 2] } },
      { item: { k: 7 }, index: 1, key: 7 },
    ]);
    expect(r.state.nodes.join!.output).toEqual({ results: seen, count: 2 });
  });

  it('an empty source completes with 0 children and the fan_in aggregates nothing', () => {
    const r = simulateJob(fanPlan(), { inputs: { xs: [] }, handler: echo });
    expect(r.state.status).toBe('completed');
    expect(r.state.nodes.split!.output).toEqual({ fan_out_count: 0, completed: 0, failed: 0 });
    expect(r.state.nodes.join!.output).toEqual({ results: [], count: 0 });
  });

  it('a non-array source fails the fan_out naming the type', () => {
    const p = planOf({
      inputs: { xs: { type: 'string' } },
      nodes: {
        start: { type: 'start', next: 'split' },
        split: { type: 'fan_out', source: '{{ inputs.xs }}', task: { handler: 'echo' }, next: 'join' },
        join: { type: 'fan_in', next: 'end' },
        end: { type: 'end' },
      },
    });
    const r = simulateJob(p, { inputs: { xs: 'abc' }, handler: echo });
    expect(r.state.status).toBe('failed');
    expect(r.state.nodes.split!.error).toMatch(/must yield a list; got a string/);
  });

  /** Runs a 20-child fan-out where every child takes 10 ms; returns the peak number in flight. */
  function peakConcurrency(plan: ReturnType<typeof planOf>) {
    let inFlight = 0;
    let peak = 0;
    const ends: number[] = [];
    const r = simulateJob(plan, {
      inputs: { xs: Array.from({ length: 20 }, (_, i) => i) },
      handler: (c) => {
        while (ends.length && ends[0]! <= c.now) {
          ends.shift();
          inFlight--;
        }
        inFlight++;
        peak = Math.max(peak, inFlight);
        ends.push(c.now + 10);
        ends.sort((a, b) => a - b);
        return { ok: true, output: c.index, durationMs: 10 };
      },
    });
    return { r, peak };
  }

  it('honours max_parallel', () => {
    const unlimited = peakConcurrency(fanPlan());
    expect(unlimited.r.state.status).toBe('completed');
    expect(unlimited.peak).toBe(20);
    const limited = peakConcurrency(
      planOf({
        inputs: { xs: { type: 'array' } },
        nodes: {
          start: { type: 'start', next: 'split' },
          split: {
            type: 'fan_out',
            source: '{{ inputs.xs }}',
            max_parallel: 3,
            task: { handler: 'echo' },
            next: 'join',
          },
          join: { type: 'fan_in', next: 'end' },
          end: { type: 'end' },
        },
      }),
    );
    expect(limited.r.state.status).toBe('completed');
    expect(limited.peak).toBe(3);
    expect(limited.r.state.nodes.join!.output).toMatchObject({ count: 20 });
  });

  it('a failed child makes the fan_in fail, naming up to 5 failed children', () => {
    const r = simulateJob(fanPlan({ retry: { max_attempts: 0 } }), {
      inputs: { xs: Array.from({ length: 10 }, (_, i) => i) },
      handler: (c) =>
        c.index! % 3 === 0 || c.index === 8 || c.index === 7 ? { ok: false, error: `bad ${c.index}` } : ok(),
    });
    expect(r.state.status).toBe('failed');
    expect(r.state.nodes.join!.error).toBe(
      'Fan-out children failed: split__0, split__3, split__6, split__7, split__8 and 1 more (6 of 10 children failed)',
    );
    expect(r.state.error).toBe('Node "split__0" failed: bad 0');
  });

  it.each([
    ['collect', [{ a: [1] }, { a: [2, 3] }], { results: [{ a: [1] }, { a: [2, 3] }], count: 2 }],
    ['concat', [[1, 2], [3]], { results: [1, 2, 3], count: 3 }],
    ['concat', [{ a: [1], b: 2 }, { a: [3] }], { results: [1, 2, 3], count: 3 }],
    ['sum', [1, 2.5, { x: 3, y: 'no', z: true }], { total: 6.5, count: 3 }],
    ['first', ['a', 'b'], { result: 'a', count: 2 }],
    ['last', ['a', 'b'], { result: 'b', count: 2 }],
  ])('aggregation %s', (aggregation, outputs, expected) => {
    const r = simulateJob(fanPlan({}, aggregation), {
      inputs: { xs: outputs },
      handler: (c) => ok((c.params as { item: unknown }).item),
    });
    expect(r.state.nodes.join!.output).toEqual(expected);
  });
});

describe('retries, backoff and timeouts', () => {
  const retryPlan = (retry: Record<string, unknown>, timeout = 60) =>
    planOf({
      nodes: {
        start: { type: 'start', next: 'a' },
        a: task('end', { retry, timeout_seconds: timeout }),
        end: { type: 'end' },
      },
    });

  it.each([
    [
      'exponential',
      { max_attempts: 4, backoff: 'exponential', initial_delay_seconds: 2, max_delay_seconds: 10 },
      [0, 2, 4, 8, 10],
    ],
    ['linear', { max_attempts: 3, backoff: 'linear', initial_delay_seconds: 1 }, [0, 1, 2, 3]],
    ['fixed', { max_attempts: 2, backoff: 'fixed', initial_delay_seconds: 5 }, [0, 5, 5]],
  ])('%s backoff between attempts (regression: no backoff)', (_n, retry, gaps) => {
    const times: number[] = [];
    const r = simulateJob(retryPlan(retry), {
      handler: (c) => {
        times.push(c.now);
        return { ok: false, error: `fail ${c.attempt}`, durationMs: 0 };
      },
    });
    expect(r.state.status).toBe('failed');
    // max_attempts N → N+1 attempts; gaps in seconds between the end of one and the start of the next.
    expect(times.map((t, i) => (i === 0 ? 0 : (t - times[i - 1]!) / 1000))).toEqual(gaps);
    expect(r.dispatches.map((d) => d.taskId)).toEqual(gaps.map((_, i) => `job_a_${i}`));
  });

  it('succeeds on a later attempt', () => {
    const r = simulateJob(retryPlan({ max_attempts: 3, initial_delay_seconds: 0 }), {
      handler: (c) => (c.attempt < 2 ? { ok: false, error: 'flaky' } : ok({ attempt: c.attempt })),
    });
    expect(r.state.status).toBe('completed');
    expect(r.state.nodes.a!.output).toEqual({ attempt: 2 });
  });

  it('an attempt past its deadline fails with "Task timed out after Ns" and is retried', () => {
    const r = simulateJob(retryPlan({ max_attempts: 1, initial_delay_seconds: 1 }, 5), {
      handler: (c) => (c.attempt === 0 ? { ok: true, output: 'late', durationMs: 60_000 } : ok('on time')),
    });
    expect(r.state.status).toBe('completed');
    expect(r.state.nodes.a!.output).toBe('on time');
    expect(r.events.find((e) => e.type === 'attempt_failed')).toMatchObject({
      error: 'Task timed out after 5s',
      at: 5000,
    });
  });

  it('a late result of an older attempt is ignored', () => {
    const plan = retryPlan({ max_attempts: 2, initial_delay_seconds: 0 });
    let s = initJobState(plan, 'j');
    const step = (now: number) => {
      for (const d of decide(plan, s, now)) {
        if (d.kind === 'start_job') s = apply(plan, s, { type: 'job_started', at: now });
        if (d.kind === 'complete')
          s = apply(plan, s, { type: 'node_completed', node: d.node, output: null, at: now });
        if (d.kind === 'dispatch') s = apply(plan, s, { type: 'dispatched', items: [d], at: now });
      }
    };
    step(0);
    step(0);
    step(0);
    expect(s.nodes.a).toMatchObject({ status: 'dispatched', attempts: 1 });
    s = apply(plan, s, { type: 'attempt_failed', key: 'a', attempt: 0, error: 'x', retryable: true, at: 1 });
    step(1);
    expect(s.nodes.a).toMatchObject({ status: 'dispatched', attempts: 2 });
    const before = s;
    s = apply(plan, s, { type: 'attempt_succeeded', key: 'a', attempt: 0, output: 'stale', at: 2 });
    expect(s).toBe(before);
    s = apply(plan, s, { type: 'attempt_succeeded', key: 'a', attempt: 1, output: 'fresh', at: 3 });
    expect(s.nodes.a).toMatchObject({ status: 'completed', output: 'fresh' });
    // A duplicate delivery of the same result changes nothing either.
    expect(apply(plan, s, { type: 'attempt_succeeded', key: 'a', attempt: 1, output: 'dup', at: 4 })).toBe(s);
  });
});

describe('cancel and rerun', () => {
  const plan = planOf({
    inputs: { xs: { type: 'array' } },
    nodes: {
      start: { type: 'start', next: 'split' },
      split: {
        type: 'fan_out',
        source: '{{ inputs.xs }}',
        max_parallel: 2,
        task: { handler: 'echo', retry: { max_attempts: 0 } },
        next: 'join',
      },
      join: { type: 'fan_in', next: 'after' },
      after: task('end'),
      end: { type: 'end' },
    },
  });

  it('cancel stops new dispatches and ends the job cancelled, naming what was in flight', () => {
    const r = simulateJob(plan, {
      inputs: { xs: [1, 2, 3, 4, 5, 6] },
      cancelAt: 15,
      handler: () => ({ ok: true, output: 1, durationMs: 10 }),
    });
    expect(r.state.status).toBe('cancelled');
    expect(r.dispatches.map((d) => d.key)).toEqual(['split__0', 'split__1', 'split__2', 'split__3']);
    const finish = r.decisions.flat().find((d) => d.kind === 'finish');
    expect(finish).toEqual({ kind: 'finish', status: 'cancelled', inFlight: ['split__2', 'split__3'] });
  });

  it('rerun runs only the failed children and what was skipped because of them; outputs are kept', () => {
    const first = simulateJob(plan, {
      inputs: { xs: [0, 1, 2, 3] },
      handler: (c) => (c.index === 2 ? { ok: false, error: 'bad' } : ok(`out${c.index}`)),
    });
    expect(first.state.status).toBe('failed');
    const fan = first.state.fanOuts.split!;
    const prev = {
      nodes: Object.fromEntries(Object.entries(first.state.nodes).map(([id, n]) => [id, { ...n }])),
      fanOuts: {
        split: {
          count: fan.count,
          failed: [2],
          attempts: [1],
          outputs: Array.from({ length: fan.count }, (_, i) => getChild(fan, i).o),
        },
      },
    };
    const again = simulateJob(plan, {
      inputs: { xs: [0, 1, 2, 3] },
      state: rerunJobState(plan, 'job', prev),
      handler: (c) => ok(`again${c.index ?? c.key}`),
    });
    expect(again.state.status).toBe('completed');
    expect(again.dispatches.map((d) => d.key)).toEqual(['split__2', 'after']);
    // Attempt numbers continue across runs, so task ids never repeat.
    expect(again.dispatches.map((d) => d.taskId)).toEqual(['job_split__2_1', 'job_after_0']);
    expect(again.state.nodes.join!.output).toEqual({ results: ['out0', 'out1', 'again2', 'out3'], count: 4 });
  });
});
