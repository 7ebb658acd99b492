// Shared helpers for the dev host tests.
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { startDevHost, type DevHost, type DevHostOptions, type HistoryEvent } from '../../devhost';
import { EventType } from '../../devhost/historyEvents';

export const fixtures = path.resolve(__dirname, '../fixtures/devhost');
export const sampleApp = path.join(fixtures, 'sampleApp.ts');

/** Starts one host for the whole file (memory store, test mode on) and stops it afterwards. */
export function useDevHost(options: Partial<DevHostOptions> = {}): () => DevHost {
  let host: DevHost | undefined;
  beforeAll(async () => {
    host = await startDevHost({ appEntry: sampleApp, testMode: true, ...options });
  });
  afterAll(async () => {
    await host?.stop();
  });
  return () => {
    if (!host) throw new Error('dev host not started');
    return host;
  };
}

export function count(history: HistoryEvent[], type: number, name?: string): number {
  return history.filter((e) => e.EventType === type && (name === undefined || e.Name === name)).length;
}

export function scheduledNames(history: HistoryEvent[]): string[] {
  return history
    .filter(
      (e) =>
        e.EventType === EventType.TaskScheduled || e.EventType === EventType.SubOrchestrationInstanceCreated,
    )
    .map((e) => `${e.EventId}:${e.Name}`);
}

export async function waitFor<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
