// The job orchestration validates and compiles its pinned workflow once per execution, not on every
// replay (orchestrations/pinnedPlan.ts); what it reuses must be what a fresh parse gives, frozen.
import { describe, expect, it } from 'vitest';
import { dump } from 'js-yaml';
import { loadWorkflow } from '../../dag/loadWorkflow';
import { defaultRegistry } from '../../handlers/handlerRegistry';
import { pinnedPlan, pinnedPlanStats } from '../../orchestrations/pinnedPlan';

function loadOutput(nodes = 3): Record<string, unknown> {
  const defs: Record<string, unknown> = { start: { type: 'start', next: 'n0' }, end: { type: 'end' } };
  for (let i = 0; i < nodes; i++)
    defs[`n${i}`] = {
      type: 'task',
      handler: 'echo',
      params: { i },
      next: i < nodes - 1 ? `n${i + 1}` : 'end',
    };
  const r = loadWorkflow(dump({ workflow_id: 'pin', name: 'pin', nodes: defs }), 'pin.yaml', {
    handlers: defaultRegistry().catalog(),
  });
  if (!r.plan) throw new Error(r.issues[0]?.message);
  // As replayed: a fresh object parsed from the history's JSON each time.
  return JSON.parse(
    JSON.stringify({
      ok: true,
      workflow: r.plan.workflow,
      placement: {},
      chunkSize: 100,
      activityBatchSize: 100,
      cancelled: false,
    }),
  ) as Record<string, unknown>;
}

describe('pinnedPlan', () => {
  it('parses and compiles once per execution; replays reuse the same frozen plan', () => {
    const before = { ...pinnedPlanStats };
    const first = pinnedPlan('job-a:1@1000', loadOutput());
    const again = pinnedPlan('job-a:1@1000', loadOutput());
    expect(pinnedPlanStats.compiled - before.compiled).toBe(1);
    expect(pinnedPlanStats.reused - before.reused).toBe(1);
    expect(again).toBe(first);
    if (!first.ok) throw new Error('expected ok');
    expect(first.plan.order).toEqual(expect.arrayContaining(['start', 'n0', 'n1', 'n2', 'end']));
    // A replay that changed the cached plan would change every later replay: it throws instead.
    expect(Object.isFrozen(first.plan.deps.n1)).toBe(true);
    expect(() => (first.plan.order as string[]).push('x')).toThrow(TypeError);
    expect(() => {
      (first.loaded.workflow.nodes as Record<string, unknown>).n9 = {};
    }).toThrow(TypeError);
  });

  it('another execution of the same instance (a restart: another first-episode time) parses its own result', () => {
    const a = pinnedPlan('job-b:1@1000', loadOutput(2));
    const b = pinnedPlan('job-b:1@2000', loadOutput(4));
    if (!a.ok || !b.ok) throw new Error('expected ok');
    expect(Object.keys(a.loaded.workflow.nodes)).toHaveLength(4);
    expect(Object.keys(b.loaded.workflow.nodes)).toHaveLength(6);
  });

  it('a value that does not match what the key cached is parsed again, never served from the cache', () => {
    const a = pinnedPlan('job-c:1@1000', loadOutput(2));
    const b = pinnedPlan('job-c:1@1000', loadOutput(5));
    expect(b).not.toBe(a);
    if (!b.ok) throw new Error('expected ok');
    expect(Object.keys(b.loaded.workflow.nodes)).toHaveLength(7);
  });

  it('a failed load is returned as is and not cached; an invalid result is rejected by the schema', () => {
    const before = pinnedPlanStats.compiled;
    expect(pinnedPlan('job-d:1@1000', { ok: false, error: 'no such job' })).toEqual({
      ok: false,
      loaded: { ok: false, error: 'no such job' },
    });
    expect(pinnedPlanStats.compiled).toBe(before);
    expect(() => pinnedPlan('job-e:1@1000', { ok: true, workflow: { nodes: 'x' } })).toThrow();
  });
});
