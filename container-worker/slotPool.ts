// Counts the tasks a worker has in hand (DAG_WORKER_MAX_CONCURRENT): a queue loop reserves free
// slots before it receives, so that no task is leased that nobody will work on.
export class SlotPool {
  private used = 0;
  private readonly waiters: Array<() => void> = [];

  constructor(readonly size: number) {}

  get inUse(): number {
    return this.used;
  }

  /**
   * Waits for `want` free slots (at most the pool's size) — or for one, once `patienceMs` have passed
   * — and reserves up to `max` of them; 0 once `cancelled` fires.
   */
  async acquireUpTo(max: number, cancelled: AbortSignal, want = 1, patienceMs = 0): Promise<number> {
    const since = Date.now();
    const enough = Math.max(1, Math.min(want, this.size));
    for (;;) {
      if (cancelled.aborted) return 0;
      const free = this.size - this.used;
      const waited = Date.now() - since;
      if (free >= enough || (free >= 1 && waited >= patienceMs)) break;
      await this.wait(cancelled, free >= 1 && Number.isFinite(patienceMs) ? patienceMs - waited : undefined);
    }
    const n = Math.min(max, this.size - this.used);
    this.used += n;
    return n;
  }

  release(n = 1): void {
    if (n <= 0) return;
    this.used = Math.max(0, this.used - n);
    // Every waiter looks again: one may want more slots than were released.
    for (const wake of this.waiters.splice(0)) wake();
  }

  private wait(cancelled: AbortSignal, ms: number | undefined): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(() => wake(), Math.max(0, ms));
      const wake = () => {
        if (timer) clearTimeout(timer);
        cancelled.removeEventListener('abort', wake);
        const i = this.waiters.indexOf(wake);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve();
      };
      this.waiters.push(wake);
      cancelled.addEventListener('abort', wake, { once: true });
    });
  }
}
