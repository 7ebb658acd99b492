// The periodic sweep of the ETL mount (sweepEtlMount): one at a time, the first soon after start; a
// failure is logged and the next interval tries again.
import type { DbPool } from '../db';
import type { Logger } from '../handlers/createLogger';
import { errorMessage } from '../handlers/executeHandler';
import { untraced } from '../handlers/telemetry';
import type { HealthReport } from './workerStats';
import { sweepEtlMount, type EtlRetention } from './sweepEtlMount';

export interface EtlCleanup {
  mountPath: string;
  retention: EtlRetention;
  intervalMs: number;
}

export class EtlSweeper {
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  private sweeps = 0;
  private removed = 0;
  private lastSweepAt: string | null = null;
  private lastErrors: string[] = [];

  constructor(
    private readonly c: EtlCleanup,
    private readonly deps: { pool: DbPool; schema: string; log: Logger; stopping: AbortSignal },
  ) {}

  start(): void {
    const every = Math.max(1000, this.c.intervalMs);
    this.timer = setInterval(() => void untraced(() => this.sweep()), every);
    // The first sweep soon after start, not a whole interval later.
    setTimeout(() => void this.sweep(), Math.min(every, 10_000)).unref();
  }

  /** No more sweeps; resolves when the one under way (if any) ended. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.sweeping;
  }

  report(): NonNullable<HealthReport['etl_cleanup']> {
    return {
      mount_path: this.c.mountPath,
      sweeps: this.sweeps,
      removed_dirs: this.removed,
      last_sweep_at: this.lastSweepAt,
      last_errors: this.lastErrors,
    };
  }

  private sweep(): Promise<void> {
    const { pool, schema, log, stopping } = this.deps;
    if (this.sweeping || stopping.aborted) return this.sweeping ?? Promise.resolve();
    this.sweeping = (async () => {
      try {
        const r = await sweepEtlMount(pool, schema, this.c.mountPath, this.c.retention);
        this.sweeps++;
        this.removed += r.removed.length;
        this.lastSweepAt = new Date().toISOString();
        this.lastErrors = r.errors.slice(0, 20);
        if (r.removed.length)
          log.info('ETL mount: files of ended jobs removed', { removed: r.removed, kept: r.kept });
        if (r.errors.length)
          log.warn('ETL mount: some directories could not be removed', { errors: r.errors });
      } catch (err) {
        this.lastErrors = [errorMessage(err)];
        log.warn('ETL mount sweep failed; the next one tries again', { error: errorMessage(err) });
      } finally {
        this.sweeping = undefined;
      }
    })();
    return this.sweeping;
  }
}
