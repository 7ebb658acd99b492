// The largest value seen within a time window (the tasks per message a queue loop plans its slots
// for): up at once, back down once the larger values are older than the window.
export class RecentMax {
  private readonly seen: Array<{ value: number; at: number }> = [];

  constructor(private readonly windowMs: number) {}

  add(value: number, now = Date.now()): void {
    // Kept in decreasing order of value: a smaller, older entry can never be the max again.
    while (this.seen.length && this.seen[this.seen.length - 1]!.value <= value) this.seen.pop();
    this.seen.push({ value, at: now });
  }

  /** The largest value added within the window (undefined before the first). */
  get value(): number | undefined {
    return this.valueAt(Date.now());
  }

  valueAt(now: number): number | undefined {
    while (this.seen.length > 1 && this.seen[0]!.at < now - this.windowMs) this.seen.shift();
    return this.seen[0]?.value;
  }
}
