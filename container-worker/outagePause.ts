// An infrastructure fault (Postgres or storage unreachable): receiving stops until both answer again,
// so that a backlog does not burn its dequeue counts (and end in the poison queue) during an outage.
import { query, sql, type DbPool } from '../db';
import { errorMessage } from '../handlers/executeHandler';
import type { Logger } from '../handlers/createLogger';
import type { QueueDirectory } from '../lib/io/queueDirectory';
import type { WorkerStats } from './workerStats';

export class OutagePause {
  /** Set while paused: resolves when receiving may resume. */
  current: Promise<void> | undefined;

  constructor(
    private readonly deps: {
      pool: DbPool;
      queues: QueueDirectory;
      /** The queue whose answer stands for storage's. */
      probeQueue: string;
      log: Logger;
      counters: WorkerStats;
      stopping: AbortSignal;
    },
  ) {}

  pause(): void {
    const { pool, queues, probeQueue, log, counters, stopping } = this.deps;
    if (this.current || stopping.aborted) return;
    counters.pauses++;
    this.current = (async () => {
      for (let wait = 1000; !stopping.aborted; wait = Math.min(wait * 2, 15_000)) {
        await this.sleep(wait);
        try {
          await query(pool, sql`SELECT 1`);
          await queues.client(probeQueue).getProperties();
          log.info('Postgres and the queues answer again: receiving resumes');
          break;
        } catch (err) {
          log.warn('still waiting for Postgres / the queues', { error: errorMessage(err) });
        }
      }
      this.current = undefined;
    })();
  }

  /** Waits ms, or less when the worker stops. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const signal = this.deps.stopping;
      if (signal.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}
