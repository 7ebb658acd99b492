// Retries for the product's own bookkeeping activities (loadJob, recordTransitions): they only
// fail on infrastructure faults (a Postgres failover), which a few spaced retries ride out. No
// retryTimeoutInMilliseconds: it hangs JS orchestrations (durable-js #629, durable-notes.md).
import * as df from 'durable-functions';

export function retryOptions(): df.RetryOptions {
  const r = new df.RetryOptions(2000, 6);
  r.backoffCoefficient = 2;
  r.maxRetryIntervalInMilliseconds = 30_000;
  return r;
}
