// Backoff between attempts (SPEC §2: retries honour the policy; the original system had none).
import { DEFAULT_RETRY, type RetryPolicy } from './workflowModel';

/**
 * Seconds to wait before the next attempt after attempt `failedAttempt` (0-based) failed.
 * fixed: initial; linear: initial × n; exponential: initial × 2^(n-1); n = the retry number (1 for
 * the first retry). Capped at max_delay_seconds.
 */
export function retryDelaySeconds(policy: RetryPolicy | undefined, failedAttempt: number): number {
  const p = policy ?? DEFAULT_RETRY;
  const n = failedAttempt + 1;
  let delay: number;
  switch (p.backoff) {
    case 'fixed':
      delay = p.initial_delay_seconds;
      break;
    case 'linear':
      delay = p.initial_delay_seconds * n;
      break;
    case 'exponential':
      delay = p.initial_delay_seconds * 2 ** Math.min(n - 1, 30);
      break;
  }
  return Math.min(delay, p.max_delay_seconds);
}

/** How many retries a failed attempt may have (N retries after the first attempt). */
export function maxRetries(policy: RetryPolicy | undefined): number {
  return (policy ?? DEFAULT_RETRY).max_attempts;
}
