import { UsageError } from './cliCommand';

/** --port: 0..65535 (0 = a free port); anything else is a usage error. */
export function parsePort(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(n >= 0 && n <= 65535)) {
    throw new UsageError(`--port must be a port number from 0 to 65535 (0: a free port), got "${value}"`);
  }
  return n;
}
