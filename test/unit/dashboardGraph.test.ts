// The dashboard's graph edges (functions/httpUi.ts workflowEdges): next, depends_on (list, all_of,
// any_of) and conditional branches in both forms, labelled, without duplicates.
import { describe, expect, it } from 'vitest';
import { workflowEdges } from '../../functions/workflowEdges';

describe('workflowEdges', () => {
  it('draws next, depends_on and both forms of branches, labelled, each edge once', () => {
    const edges = workflowEdges({
      start: { type: 'start', next: ['a', 'route'] },
      a: { type: 'task', next: 'join' },
      route: { type: 'conditional', branches: { true: 'b', false: 'c' }, default: 'c' },
      list: {
        type: 'conditional',
        depends_on: ['a'],
        branches: [
          { name: 'big', condition: 'x > 1', next: 'b' },
          { default: true, next: 'c' },
          { next: 'join' },
        ],
      },
      b: { type: 'task' },
      c: { type: 'task' },
      join: { type: 'task', depends_on: { all_of: ['a'], any_of: ['b', 'c'] } },
    });
    const key = (e: { from: string; to: string; label: string | null }) =>
      `${e.from}->${e.to}:${e.label ?? ''}`;
    expect(edges.map(key).sort()).toEqual(
      [
        'a->join:',
        'a->list:',
        'b->join:',
        'c->join:',
        'list->b:big',
        'list->c:default',
        'list->join:branch 3',
        'route->b:true',
        'route->c:false',
        'start->a:',
        'start->route:',
      ].sort(),
    );
  });

  it('ignores what is not a node map', () => {
    expect(workflowEdges({})).toEqual([]);
  });
});
