// Counts the tasks a worker has in hand (DAG_WORKER_MAX_CONCURRENT): a queue loop reserves free
// slots before it receives, so that no message is leased that nobody will work on.
export class SlotPool {
  private used = 0;
  private readonly waiters: Array<() => void> = [];

  constructor(readonly size: number) {}

  get inUse(): number {
    return this.used;
  }

  /** Waits for at least one free slot and reserves up to `max` of them (0 once `cancelled` fires). */
  async acquireUpTo(max: number, cancelled: AbortSignal): Promise<number> {
    while (this.used >= this.size) {
      if (cancelled.aborted) return 0;
      await new Promise<void>((resolve) => {
        const wake = () => {
          cancelled.removeEventListener('abort', wake);
          resolve();
        };
        this.waiters.push(wake);
        cancelled.addEventListener('abort', wake, { once: true });
      });
    }
    if (cancelled.aborted) return 0;
    const n = Math.min(max, this.size - this.used);
    this.used += n;
    return n;
  }

  release(n = 1): void {
    if (n <= 0) return;
    this.used = Math.max(0, this.used - n);
    for (let i = 0; i < n && this.waiters.length; i++) this.waiters.shift()!();
  }
}
