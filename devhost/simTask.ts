// The replay shim's tasks (replayShim.ts).
/** A synchronous stand-in for a .NET Task: continuations run inline, as under DTFx's scheduler. */
export class SimTask {
  done = false;
  failed = false;
  private continuations: (() => void)[] | undefined;
  complete(failed: boolean): void {
    if (this.done) return;
    this.done = true;
    this.failed = failed;
    const c = this.continuations;
    this.continuations = undefined;
    if (c) for (const f of c) f();
  }
  then(f: () => void): void {
    if (this.done) f();
    else (this.continuations ??= []).push(f);
  }
  static completed(failed = false): SimTask {
    const t = new SimTask();
    t.complete(failed);
    return t;
  }
}
