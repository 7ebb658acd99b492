// A store call retried over a short blip (250 ms, 1 s, 3 s) before the failure is the caller's.
import { errorMessage } from '../handlers/executeHandler';
import type { Logger } from '../handlers/createLogger';

const DELAYS_MS = [250, 1000, 3000];

export async function withRetry<T>(log: Logger, what: string, fn: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= DELAYS_MS.length) throw err;
      log.warn(`could not ${what}; retrying`, { error: errorMessage(err), try: i + 1 });
      await new Promise((r) => setTimeout(r, DELAYS_MS[i]));
    }
  }
}
