import { describe, expect, it } from 'vitest';
import { RecentMax } from '../../container-worker/recentMax';

describe('RecentMax', () => {
  it('is the largest value within the window, up at once and down once the larger ones are old', () => {
    const m = new RecentMax(1000);
    expect(m.valueAt(0)).toBeUndefined();
    m.add(4, 0);
    m.add(16, 100);
    m.add(2, 200);
    expect(m.valueAt(500)).toBe(16);
    expect(m.valueAt(1099)).toBe(16);
    // 16 is older than the window: the largest since is 2.
    expect(m.valueAt(1101)).toBe(2);
    m.add(8, 1200);
    expect(m.valueAt(1300)).toBe(8);
    // The latest stays when nothing newer came.
    expect(m.valueAt(10_000)).toBe(8);
  });
});
