// Ctrl-C (and SIGTERM/SIGHUP) for commands that must finish something before they exit: the first
// signal asks for an orderly end, the second quits at once. The embedded Postgres and Azurite run in
// process groups of their own, so the terminal's Ctrl-C reaches only this process.
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export class Interrupts {
  /** How many signals arrived. */
  count = 0;
  private readonly handler = () => {
    this.count++;
    if (this.count === 1) this.on.first();
    else this.on.second();
  };

  constructor(private readonly on: { first: () => void; second: () => void }) {}

  install(): void {
    for (const s of SIGNALS) process.on(s, this.handler);
  }

  uninstall(): void {
    for (const s of SIGNALS) process.off(s, this.handler);
  }
}
