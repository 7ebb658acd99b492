// Group commit for one-statement writes that clients wait on: a call goes out at once when none is
// in flight; the calls that arrive meanwhile wait and go out together in the next statement — one
// round trip and one WAL flush for all of them, with no timer adding latency to a lone call.

export class GroupCommit<I, O> {
  private waiting: { items: I[]; resolve(o: O[]): void; reject(e: unknown): void }[] = [];
  private busy = false;

  /**
   * @param write writes the items of several calls in one statement and answers one output per
   *   item, in order; if it throws, every call of that statement rejects with its error.
   * @param maxItems items per statement (a single larger call still goes out alone).
   */
  constructor(
    private readonly write: (items: I[]) => Promise<O[]>,
    private readonly maxItems: number,
  ) {}

  run(items: I[]): Promise<O[]> {
    if (!items.length) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.waiting.push({ items, resolve, reject });
      if (!this.busy) void this.drain();
    });
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
          const out = await this.write(calls.flatMap((c) => c.items));
          if (out.length !== count)
            throw new Error(`group commit: ${out.length} outputs for ${count} items (a statement bug)`);
          let at = 0;
          for (const c of calls) {
            c.resolve(out.slice(at, at + c.items.length));
            at += c.items.length;
          }
        } catch (err) {
          for (const c of calls) c.reject(err);
        }
      }
    } finally {
      this.busy = false;
    }
  }
}
