// Fan-in aggregations (SPEC §1). Outputs arrive in child index order, completed children only.
import type { Aggregation } from './workflowModel';

export function aggregateFanIn(
  aggregation: Aggregation,
  outputs: readonly unknown[],
): Record<string, unknown> {
  switch (aggregation) {
    case 'collect':
      return { results: [...outputs], count: outputs.length };
    case 'concat': {
      // Lists are flattened one level, whether an output is a list or holds lists under its keys.
      const results: unknown[] = [];
      for (const o of outputs) {
        if (Array.isArray(o)) results.push(...o);
        else if (o !== null && typeof o === 'object') {
          for (const v of Object.values(o)) {
            if (Array.isArray(v)) results.push(...v);
            else results.push(v);
          }
        } else results.push(o);
      }
      return { results, count: results.length };
    }
    case 'sum': {
      // Numbers, and the numeric values of object outputs; booleans are not numbers here.
      let total = 0;
      let count = 0;
      const add = (v: unknown) => {
        if (typeof v === 'number' && Number.isFinite(v)) {
          total += v;
          count++;
        }
      };
      for (const o of outputs) {
        if (o !== null && typeof o === 'object' && !Array.isArray(o)) Object.values(o).forEach(add);
        else if (Array.isArray(o)) o.forEach(add);
        else add(o);
      }
      return { total, count };
    }
    case 'first':
      return { result: outputs.length ? outputs[0] : null, count: outputs.length };
    case 'last':
      return { result: outputs.length ? outputs[outputs.length - 1] : null, count: outputs.length };
  }
}
