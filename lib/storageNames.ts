// Azure Storage naming: queue names and blob container names follow the same rule, and a connection
// string is usable only when it names an account or endpoint.

/** A queue or blob container name: 3-63 lowercase letters, digits and single dashes, alphanumeric at both ends. */
export const STORAGE_NAME = /^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/;

/**
 * A connection string that names an account or endpoint; undefined for none and for the emulator
 * shorthand "UseDevelopmentStorage=true" (the SDK's clients need the endpoints it leaves out).
 */
export function usableConnectionString(s: string | undefined): string | undefined {
  const v = s?.trim();
  if (!v || v === 'UseDevelopmentStorage=true') return undefined;
  return /AccountName=|QueueEndpoint=/i.test(v) ? v : undefined;
}
