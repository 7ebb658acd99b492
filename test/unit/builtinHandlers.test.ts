import { describe, expect, it } from 'vitest';
import { echo, fail, flakyEcho, helloWorld, sleep } from '../../handlers/builtinHandlers';
import { defaultRegistry } from '../../handlers/handlerRegistry';
import { handlerContext } from '../support/handlerContext';

const ctx = handlerContext;

describe('built-in handlers (SPEC §4)', () => {
  it('echo returns its params, handler and task id', async () => {
    expect(await echo.run(echo.params.parse({ a: 1 }), ctx().c)).toEqual({
      echoed_params: { a: 1 },
      handler: 'echo',
      task_id: 'j_n_0',
    });
  });

  it('echo with steps checkpoints after each step and resumes from the checkpoint', async () => {
    const first = ctx();
    await echo.run({ steps: '3' }, first.c);
    expect(first.saved.map((s) => s.phase)).toEqual(['step_1', 'step_2', 'step_3']);
    const resumed = ctx({ attempt: 1, checkpoint: { phase: 'step_2', state: { next_step: 3, steps: 3 } } });
    const out = await echo.run({ steps: 3 }, resumed.c);
    expect(resumed.saved.map((s) => s.phase)).toEqual(['step_3']);
    expect(out).toMatchObject({ steps_completed: 3, resumed_from_step: 3 });
  });

  it('hello_world: message param, else Hello, <name>!', async () => {
    expect(await helloWorld.run(helloWorld.params.parse({ message: 'hi' }), ctx().c)).toEqual({
      message: 'hi',
    });
    expect(await helloWorld.run(helloWorld.params.parse({ name: 'Ada' }), ctx().c)).toEqual({
      message: 'Hello, Ada!',
    });
    expect(await helloWorld.run(helloWorld.params.parse({}), ctx().c)).toEqual({ message: 'Hello, World!' });
  });

  it('sleep returns slept_for and stops when the signal fires', async () => {
    expect(await sleep.run(sleep.params.parse({ duration_seconds: '0.01' }), ctx().c)).toEqual({
      slept_for: 0.01,
    });
    const ac = new AbortController();
    const p = sleep.run({ duration_seconds: 60 }, ctx({ signal: ac.signal }).c);
    ac.abort(new Error('cancelled'));
    await expect(p).rejects.toThrow('cancelled');
  });

  it('fail always fails with error_message', async () => {
    await expect(fail.run({ error_message: 'nope' }, ctx().c)).rejects.toThrow('nope');
  });

  it('flaky_echo accepts numeric strings and honours the rate', async () => {
    expect(flakyEcho.params.parse({ failure_rate: '0.3' }).failure_rate).toBe(0.3);
    expect(flakyEcho.params.safeParse({ failure_rate: 'high' }).success).toBe(false);
    await expect(
      flakyEcho.run(flakyEcho.params.parse({ failure_rate: 1 }), ctx({ attempt: 2 }).c),
    ).rejects.toThrow('Random failure (rate=1, attempt=2)');
    expect(await flakyEcho.run(flakyEcho.params.parse({ failure_rate: 0 }), ctx().c)).toMatchObject({
      attempt: 0,
      handler: 'flaky_echo',
    });
  });

  it('the registry rejects duplicates and declares runners', () => {
    const r = defaultRegistry();
    expect(() => r.register(echo as never)).toThrow(/registered twice/);
    expect(r.catalog().get('echo')).toEqual({
      runners: ['activity', 'container'],
      defaultRunner: 'activity',
    });
    expect(r.catalog().get('raster.create_cog')).toMatchObject({
      runners: ['container'],
      defaultRunner: 'container',
    });
  });
});
