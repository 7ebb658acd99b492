import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadWorkflow } from '../../dag/loadWorkflow';
import { simulateJob } from '../../dag/simulateJob';
import { validateInputs } from '../../dag/validateInputs';
import { catalog } from '../support/workflows';

const dir = path.join(__dirname, '..', '..', 'workflows');

describe('shipped workflows run to completion (simulated, handlers echo their params)', () => {
  it.each([
    ['example_branching', { count: 12 }, ['measure', 'split_work', 'report']],
    ['example_branching', { count: 3 }, ['measure', 'do_inline', 'report']],
    [
      'example_fan_out',
      {
        tiles: [
          { id: 'a', size: 3 },
          { id: 'b', size: 5 },
        ],
      },
      ['list_tiles', 'per_tile__0', 'per_tile__1'],
    ],
    ['example_routing', { kind: 'dem', size_mb: 120 }, ['inspect', 'elevation_path', 'summary']],
    ['example_routing', { kind: 'rgba', size_mb: 1 }, ['inspect', 'imagery_path', 'summary']],
    [
      'fan_out_test',
      { item_list: ['alpha', 'bravo', 'charlie'] },
      ['prepare', 'split__0', 'split__1', 'split__2'],
    ],
    ['echo_test', { message: 'hi' }, ['echo_handler']],
    ['hello_world', {}, ['hello']],
  ])('%s %j', (id, given, ran) => {
    const r = loadWorkflow(readFileSync(path.join(dir, `${id}.yaml`), 'utf8'), id, { handlers: catalog });
    const inputs = validateInputs(r.workflow!, given);
    expect(inputs.ok).toBe(true);
    const s = simulateJob(r.plan!, {
      inputs: (inputs as { value: Record<string, unknown> }).value,
      handler: (c) => ({ ok: true, output: { echoed_params: c.params } }),
    });
    expect(s.state.status).toBe('completed');
    expect(s.dispatches.map((d) => d.key)).toEqual(ran);
  });
});
