// durable-functions 3.5.0 (pinned) ships no types for its test helper; the spec replay calls the SDK's
// Orchestrator through it, as the SDK's own tests do.
declare module 'durable-functions/lib/src/util/testingUtils' {
  export function createOrchestrator(fn: unknown): (trigger: unknown, context: unknown) => Promise<unknown>;
}
