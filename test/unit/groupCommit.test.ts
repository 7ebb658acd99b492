// GroupCommit (lib/groupCommit.ts): concurrent calls share a statement, each gets its own
// outputs in order, a bad call fails alone, and a lone call never waits.
import { describe, expect, it } from 'vitest';
import { GroupCommit, isStatementError } from '../../lib/groupCommit';

/** An error as pg throws it for a statement the server refused. */
function pgError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code, severity: 'ERROR' });
}

function recorder(fail?: (items: number[]) => boolean) {
  const statements: number[][] = [];
  const g = new GroupCommit<number, string>(async (items) => {
    statements.push(items);
    await new Promise((r) => setTimeout(r, 5));
    if (fail?.(items)) throw pgError('23514', `statement of ${items.join(',')} failed`);
    return items.map((i) => `out${i}`);
  }, 4);
  return { g, statements };
}

describe('GroupCommit', () => {
  it('sends a lone call at once and groups the calls that arrive while it is in flight', async () => {
    const { g, statements } = recorder();
    const results = await Promise.all([g.run([1]), g.run([2]), g.run([3, 4]), g.run([5, 6])]);
    expect(results).toEqual([['out1'], ['out2'], ['out3', 'out4'], ['out5', 'out6']]);
    expect(statements).toEqual([[1], [2, 3, 4], [5, 6]]); // at most 4 items per statement
    expect(await g.run([])).toEqual([]);
    expect(statements).toHaveLength(3);
  });

  it('a call larger than the bound goes out alone, whole', async () => {
    const { g, statements } = recorder();
    await Promise.all([g.run([1]), g.run([2, 3, 4, 5, 6, 7])]);
    expect(statements).toEqual([[1], [2, 3, 4, 5, 6, 7]]);
  });

  it('a failed shared statement is written again call by call: only the bad call fails', async () => {
    const { g, statements } = recorder((items) => items.includes(2));
    const r = await Promise.allSettled([g.run([1]), g.run([2]), g.run([3]), g.run([4, 5, 6])]);
    expect(statements).toEqual([[1], [2, 3], [2], [3], [4, 5, 6]]);
    expect(r.map((x) => x.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect((r[1] as PromiseRejectedResult).reason.message).toBe('statement of 2 failed');
    expect((r[2] as PromiseFulfilledResult<string[]>).value).toEqual(['out3']);
  });

  it('a statement answering the wrong number of outputs fails its calls instead of misrouting them', async () => {
    const g = new GroupCommit<number, number>(async (items) => items.slice(1), 10);
    await expect(g.run([1, 2])).rejects.toThrow(/1 outputs for 2 items/);
  });

  it('when the database is unreachable every call of the statement fails at once, none tried again', async () => {
    const statements: number[][] = [];
    const g = new GroupCommit<number, number>(async (items) => {
      statements.push(items);
      await new Promise((r) => setTimeout(r, 5));
      throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    }, 10);
    const r = await Promise.allSettled([g.run([1]), g.run([2]), g.run([3])]);
    expect(r.every((x) => x.status === 'rejected')).toBe(true);
    expect(statements).toEqual([[1], [2, 3]]);
  });

  it('tells a failure of the statement itself from the database being in trouble', () => {
    expect(isStatementError(pgError('23505', 'duplicate key'))).toBe(true);
    expect(isStatementError(pgError('40P01', 'deadlock detected'))).toBe(true);
    expect(isStatementError(Object.assign(new Error('too long'), { code: 'VALIDATION' }))).toBe(true);
    expect(isStatementError(pgError('57P01', 'terminating connection due to administrator command'))).toBe(
      false,
    );
    expect(isStatementError(pgError('08006', 'connection failure'))).toBe(false);
    expect(isStatementError(pgError('53300', 'too many connections'))).toBe(false);
    expect(isStatementError(Object.assign(new Error('x'), { code: 'EPIPE' }))).toBe(false);
    expect(isStatementError(new Error('Connection terminated unexpectedly'))).toBe(false);
    expect(isStatementError(null)).toBe(false);
  });
});
