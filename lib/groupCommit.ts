// Group commit for one-statement writes that callers wait on: a call goes out at once when none is
// in flight; the calls that arrive meanwhile wait and go out together in the next statement — one
// round trip and one WAL flush for all of them, with no timer adding latency to a lone call. A
// statement is all or nothing, so when a shared one fails because of what it carried (bad input, a
// constraint, a deadlock) its calls are tried again one by one: a call with bad input fails alone
// instead of failing the others with it. When the database itself is in trouble (connection lost,
// out of resources, shutting down) every call fails at once, without one slow try after another.

interface Call<I, O> {
  items: I[];
  resolve(o: O[]): void;
  reject(e: unknown): void;
}

export class GroupCommit<I, O> {
  private waiting: Call<I, O>[] = [];
  private busy = false;

  /**
   * @param write writes the items of several calls in one statement and answers one output per
   *   item, in order. It must be all or nothing (one statement): a failed shared statement is
   *   written again call by call, and each call rejects with its own error.
   * @param maxItems items per statement (a single larger call still goes out alone).
   * @param isolate whether a failed shared statement is worth writing again call by call.
   */
  constructor(
    private readonly write: (items: I[]) => Promise<O[]>,
    private readonly maxItems: number,
    private readonly isolate: (err: unknown) => boolean = isStatementError,
  ) {}

  run(items: I[]): Promise<O[]> {
    if (!items.length) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.waiting.push({ items, resolve, reject });
      if (!this.busy) void this.drain();
    });
  }

  private async writeAll(calls: Call<I, O>[], count: number): Promise<O[]> {
    const out = await this.write(calls.flatMap((c) => c.items));
    if (out.length !== count)
      throw new Error(`group commit: ${out.length} outputs for ${count} items (a statement bug)`);
    return out;
  }

  private settle(calls: Call<I, O>[], out: O[]): void {
    let at = 0;
    for (const c of calls) {
      c.resolve(out.slice(at, at + c.items.length));
      at += c.items.length;
    }
  }

  private async drain(): Promise<void> {
    this.busy = true;
    try {
      while (this.waiting.length) {
        let n = 0;
        let count = 0;
        while (n < this.waiting.length && (n === 0 || count + this.waiting[n]!.items.length <= this.maxItems))
          count += this.waiting[n++]!.items.length;
        const calls = this.waiting.splice(0, n);
        try {
          this.settle(calls, await this.writeAll(calls, count));
        } catch (err) {
          if (calls.length === 1 || !this.isolate(err)) for (const c of calls) c.reject(err);
          else
            for (const c of calls) {
              try {
                c.resolve(await this.writeAll([c], c.items.length));
              } catch (own) {
                c.reject(own);
              }
            }
        }
      }
    } finally {
      this.busy = false;
    }
  }
}

/** DbError codes (db/errors.ts) of input refused before it was sent. */
const INPUT_CODES = new Set(['VALIDATION', 'INVALID_TRANSITION', 'CONFLICT']);

/**
 * Whether a failed statement failed because of what it carried rather than because the database is
 * unreachable: an input refused before sending, or a server error (pg's, with a SQLSTATE and a
 * severity) other than connection (08), resources (53), operator intervention (57) or system (58).
 */
export function isStatementError(err: unknown): boolean {
  const e = err as { code?: unknown; severity?: unknown } | null;
  if (!e || typeof e.code !== 'string') return false;
  if (INPUT_CODES.has(e.code)) return true;
  return typeof e.severity === 'string' && /^[0-9A-Z]{5}$/.test(e.code) && !/^(08|53|57|58)/.test(e.code);
}
