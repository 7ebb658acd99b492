// An orchestration instance's status as the durable client reports it, with the one distinction the
// callers need: a definite "no such instance" (the extension answered 404) versus an error that says
// nothing about the instance (a 500, a timeout, a refused connection). durable-functions throws for
// both, so only the 404 message it builds is taken as "gone"; anything else is rethrown for the
// caller to retry later.
import type * as df from 'durable-functions';

export type InstanceLookup =
  | { found: true; runtimeStatus: string; output: unknown }
  /** The extension answered 404: the instance does not exist (never started, or purged). */
  | { found: false };

/** durable-functions' getStatus message for a 404 (DurableClient.getStatus, v3). */
const NOT_FOUND = /replied with HTTP 404 response/;

export async function lookupInstance(client: df.DurableClient, instanceId: string): Promise<InstanceLookup> {
  let st: df.DurableOrchestrationStatus | undefined;
  try {
    st = await client.getStatus(instanceId);
  } catch (err) {
    if (err instanceof Error && NOT_FOUND.test(err.message)) return { found: false };
    throw new Error(
      `Could not read the status of orchestration ${instanceId} (not a "not found": retried later): ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  if (typeof st?.runtimeStatus !== 'string')
    throw new Error(`The status of orchestration ${instanceId} has no runtimeStatus; retried later.`);
  return { found: true, runtimeStatus: st.runtimeStatus, output: st.output };
}
