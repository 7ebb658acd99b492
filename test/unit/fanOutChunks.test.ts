import { describe, expect, it } from 'vitest';
import { planChunks } from '../../dag/fanOutChunks';

describe('fan-out partitioning', () => {
  it('splits into chunks of at most chunkSize', () => {
    expect(planChunks(1200, 500)).toEqual({
      chunks: [
        { from: 0, to: 500 },
        { from: 500, to: 1000 },
        { from: 1000, to: 1200 },
      ],
      concurrency: 3,
    });
    expect(planChunks(0, 500)).toEqual({ chunks: [], concurrency: 1 });
  });

  it.each([
    [10, 1, 10],
    [750, 2, 375],
    [1000, 2, 500],
    [1200, 3, 400],
    [100_000, 4, 500],
  ])(
    'max_parallel %i → %i chunks at once with a window of %i (never more than max_parallel in flight)',
    (m, c, w) => {
      const p = planChunks(2000, 500, m);
      expect(p.concurrency).toBe(c);
      expect(p.chunks.every((x) => x.window === w)).toBe(true);
      expect(p.concurrency * w).toBeLessThanOrEqual(m);
    },
  );

  it('a rerun runs only the given indices, grouped by their chunk', () => {
    expect(planChunks(1200, 500, undefined, [1100, 3, 7, 3])).toEqual({
      chunks: [
        { from: 0, to: 500, indices: [3, 7] },
        { from: 1000, to: 1200, indices: [1100] },
      ],
      concurrency: 2,
    });
  });
});
