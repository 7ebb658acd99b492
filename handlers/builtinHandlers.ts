// Built-in handlers with the names of the original system (SPEC §4). They run on both runners.
import { z } from 'zod';
import { abortableSleep } from './abortableSleep';
import type { HandlerDefinition } from './handlerTypes';
import { intLike, numberLike } from './numberLike';

const anyParams = z.record(z.string(), z.unknown());

export const echo: HandlerDefinition<Record<string, unknown>> = {
  name: 'echo',
  description: 'Returns its params; with steps > 1 runs that many checkpointed steps (step_delay s each).',
  runners: ['activity', 'container'],
  defaultRunner: 'activity',
  params: anyParams,
  // One step: returns its params. Several steps checkpoint (a side effect), so they are not light.
  light: (params) => params.steps === undefined || (intLike.safeParse(params.steps).data ?? 2) <= 1,
  async run(params, ctx) {
    const steps = params.steps === undefined ? 1 : intLike.parse(params.steps);
    const delay = params.step_delay === undefined ? 0 : numberLike.parse(params.step_delay);
    const base = { echoed_params: params, handler: 'echo', task_id: ctx.taskId };
    if (steps <= 1) return base;
    // Resume after the last finished step of an earlier attempt (SPEC §2 "Checkpoints").
    const saved = ctx.checkpoint?.state as { next_step?: number } | undefined;
    const first = typeof saved?.next_step === 'number' ? saved.next_step : 1;
    for (let step = first; step <= steps; step++) {
      if (delay > 0) await abortableSleep(delay * 1000, ctx.signal);
      await ctx.saveCheckpoint(`step_${step}`, { next_step: step + 1, steps });
      await ctx.progress(step, steps, `step ${step} of ${steps}`);
    }
    // completed_steps as the original: the names of every step, ["step_1", …].
    const completed_steps = Array.from({ length: steps }, (_, i) => `step_${i + 1}`);
    return { ...base, steps_completed: steps, completed_steps, resumed_from_step: first };
  },
};

export const helloWorld: HandlerDefinition<{ message?: string; name?: string }> = {
  name: 'hello_world',
  description: 'Returns {message}: the message param, or "Hello, <name>!".',
  runners: ['activity', 'container'],
  defaultRunner: 'activity',
  params: z.looseObject({ message: z.string().nullish(), name: z.string().nullish() }).transform((p) => ({
    message: p.message ?? undefined,
    name: p.name ?? undefined,
  })),
  light: true,
  async run(params) {
    return { message: params.message ?? `Hello, ${params.name ?? 'World'}!` };
  },
};

export const sleep: HandlerDefinition<{ duration_seconds: number }> = {
  name: 'sleep',
  description: 'Sleeps duration_seconds (default 1) and returns {slept_for}.',
  runners: ['activity', 'container'],
  defaultRunner: 'activity',
  params: z.looseObject({ duration_seconds: numberLike.pipe(z.number().min(0).max(86400)).default(1) }),
  async run(params, ctx) {
    await abortableSleep(params.duration_seconds * 1000, ctx.signal);
    return { slept_for: params.duration_seconds };
  },
};

export const fail: HandlerDefinition<{ error_message?: string }> = {
  name: 'fail',
  description: 'Always fails with error_message.',
  runners: ['activity', 'container'],
  defaultRunner: 'activity',
  params: z.looseObject({ error_message: z.string().optional() }),
  light: true,
  async run(params) {
    throw new Error(params.error_message ?? 'Intentional failure (fail handler)');
  },
};

export const flakyEcho: HandlerDefinition<
  Record<string, unknown> & { failure_rate: number; fail_first_attempts: number }
> = {
  name: 'flaky_echo',
  description:
    'Fails with probability failure_rate (default 0.2), or deterministically while attempt < fail_first_attempts; else echoes its params plus attempt.',
  runners: ['activity', 'container'],
  defaultRunner: 'activity',
  params: z.looseObject({
    failure_rate: numberLike.pipe(z.number().min(0).max(1)).default(0.2),
    fail_first_attempts: intLike.pipe(z.number().min(0)).default(0),
  }),
  light: true,
  async run(params, ctx) {
    if (ctx.attempt < params.fail_first_attempts) {
      throw new Error(
        `Planned failure (attempt ${ctx.attempt} < fail_first_attempts ${params.fail_first_attempts})`,
      );
    }
    if (Math.random() < params.failure_rate) {
      throw new Error(`Random failure (rate=${params.failure_rate}, attempt=${ctx.attempt})`);
    }
    // retry_count: the original's name of the 0-based attempt.
    return {
      echoed_params: params,
      handler: 'flaky_echo',
      task_id: ctx.taskId,
      attempt: ctx.attempt,
      retry_count: ctx.attempt,
    };
  },
};

export const multiPhase: HandlerDefinition<{ phases: number; phase_delay: number }> = {
  name: 'multi_phase',
  description:
    'Runs `phases` phases (default 3), checkpointing after each and resuming after the last finished one on retry; returns {phases_completed, results}.',
  runners: ['activity', 'container'],
  defaultRunner: 'activity',
  params: z.looseObject({
    phases: intLike.pipe(z.number().int().min(1).max(1000)).default(3),
    phase_delay: numberLike.pipe(z.number().min(0).max(3600)).default(0),
  }),
  async run(params, ctx) {
    const saved = ctx.checkpoint?.state as { results?: unknown } | undefined;
    const results = Array.isArray(saved?.results) ? saved.results.filter((r) => typeof r === 'string') : [];
    for (let phase = results.length + 1; phase <= params.phases; phase++) {
      if (params.phase_delay > 0) await abortableSleep(params.phase_delay * 1000, ctx.signal);
      results.push(`phase_${phase}_complete`);
      await ctx.saveCheckpoint(`phase_${phase}`, { results });
      await ctx.progress(phase, params.phases, `phase ${phase}`);
    }
    return { phases_completed: params.phases, results };
  },
};

const MB = 1024 * 1024;

export const sizeCheck: HandlerDefinition<{ size_bytes: number }> = {
  name: 'size_check',
  description:
    'Routing info by size: {size_bytes, route: light (< 100 MB) | medium (< 1 GB) | heavy, recommended_queue}.',
  runners: ['activity', 'container'],
  defaultRunner: 'activity',
  params: z.looseObject({ size_bytes: numberLike.pipe(z.number().min(0)).default(0) }),
  async run({ size_bytes }) {
    const [route, recommended_queue] =
      size_bytes < 100 * MB
        ? ['light', 'functionapp-tasks']
        : size_bytes < 1024 * MB
          ? ['medium', 'container-tasks']
          : ['heavy', 'container-tasks-heavy'];
    return { size_bytes, route, recommended_queue };
  },
};

export const chunkProcessor: HandlerDefinition<{ chunk_id: unknown; chunk_data: unknown }> = {
  name: 'chunk_processor',
  description: 'Processes one chunk of a fan-out: {chunk_id, processed: true, item_count}.',
  runners: ['activity', 'container'],
  defaultRunner: 'activity',
  params: z.looseObject({ chunk_id: z.unknown().default('unknown'), chunk_data: z.unknown().default({}) }),
  async run({ chunk_id, chunk_data }) {
    const item_count = Array.isArray(chunk_data)
      ? chunk_data.length
      : typeof chunk_data === 'object' && chunk_data !== null
        ? Object.keys(chunk_data).length
        : 1;
    return { chunk_id: chunk_id ?? 'unknown', processed: true, item_count };
  },
};

export const BUILTIN_HANDLERS: ReadonlyArray<HandlerDefinition<never>> = [
  echo,
  helloWorld,
  sleep,
  fail,
  flakyEcho,
  multiPhase,
  sizeCheck,
  chunkProcessor,
] as unknown as ReadonlyArray<HandlerDefinition<never>>;
