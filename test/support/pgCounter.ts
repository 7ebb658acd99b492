// Counts Postgres round trips made in this process, per connection application_name (the app's
// pool says DAG_DB_APPLICATION_NAME, default "rmhdagmaster"; the dev host's Durable store "devhost"),
// by wrapping pg.Client.prototype.query once. Every query call is one round trip (node-postgres
// sends one statement per call and waits for its answer).
import pg from 'pg';

const counts = new Map<string, number>();
let installed = false;

export function installPgCounter(): void {
  if (installed) return;
  installed = true;
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  proto.query = function (
    this: { connectionParameters?: { application_name?: string } },
    ...args: unknown[]
  ) {
    const app = this.connectionParameters?.application_name ?? 'unknown';
    counts.set(app, (counts.get(app) ?? 0) + 1);
    return original.apply(this, args);
  };
}

/** Round trips so far per application_name. */
export function pgCounts(): Record<string, number> {
  return Object.fromEntries(counts);
}

/**
 * Counts the statements sent in this process that `match` (by text or prepared-statement name)
 * until `stop()` is called, which also restores pg. For tests that need the round trips of one kind.
 */
export function countStatements(match: (q: { text: string; name?: string }) => boolean): {
  count(): number;
  stop(): void;
} {
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  let n = 0;
  proto.query = function (this: unknown, ...args: unknown[]) {
    const q = args[0] as { text?: string; name?: string } | string;
    const text = typeof q === 'string' ? q : (q?.text ?? '');
    if (match({ text, ...(typeof q === 'object' && q?.name ? { name: q.name } : {}) })) n++;
    return original.apply(this, args);
  };
  return {
    count: () => n,
    stop: () => {
      proto.query = original;
    },
  };
}
