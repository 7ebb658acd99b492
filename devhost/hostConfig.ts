// host.json, validated with zod, reduced to the settings the dev host honours. Unknown settings are
// accepted (the real host.json has many); settings the dev host reads are type-checked and
// explained when wrong.
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { resolveAppSettings, type Env } from './appSettings';
import { DevHostError } from './devHostError';
import { parseTimeSpanMs } from './timeSpan';

const duration = z.union([z.string(), z.number()]);

const HostJson = z.looseObject({
  version: z.string().optional(),
  extensions: z
    .looseObject({
      durableTask: z
        .looseObject({
          hubName: z.string().min(1).optional(),
          maxConcurrentActivityFunctions: z.number().int().positive().optional(),
          maxConcurrentOrchestratorFunctions: z.number().int().positive().optional(),
        })
        .optional(),
      queues: z
        .looseObject({
          batchSize: z.number().int().min(1).max(32).optional(),
          newBatchThreshold: z.number().int().min(0).optional(),
          maxPollingInterval: duration.optional(),
          visibilityTimeout: duration.optional(),
          maxDequeueCount: z.number().int().min(1).optional(),
          messageEncoding: z.enum(['base64', 'none']).optional(),
        })
        .optional(),
      http: z.looseObject({ routePrefix: z.string().optional() }).optional(),
    })
    .optional(),
});

export interface HostConfig {
  /** Where host.json was read from (undefined: defaults). */
  file: string | undefined;
  hubName: string;
  maxConcurrentActivityFunctions: number;
  maxConcurrentOrchestratorFunctions: number;
  queues: {
    batchSize: number;
    newBatchThreshold: number;
    maxPollingIntervalMs: number;
    visibilityTimeoutMs: number;
    maxDequeueCount: number;
    messageEncoding: 'base64' | 'none';
  };
  routePrefix: string;
}

/** Defaults of the Functions host (queues extension 5.x, Durable extension 2.x) unless noted. */
export function defaultHostConfig(): HostConfig {
  const cores = Math.max(1, os.cpus().length);
  return {
    file: undefined,
    // Core Tools' local default is "TestHubName"; the dev host uses a readable name.
    hubName: 'DevHostHub',
    maxConcurrentActivityFunctions: 10 * cores,
    maxConcurrentOrchestratorFunctions: 10 * cores,
    queues: {
      batchSize: 16,
      newBatchThreshold: Math.floor((16 * cores) / 2),
      // The host's default is 1 minute; a dev host polling that slowly feels broken, so the dev host
      // caps idle polling at 1 s unless host.json says otherwise.
      maxPollingIntervalMs: 1000,
      visibilityTimeoutMs: 0,
      maxDequeueCount: 5,
      messageEncoding: 'base64',
    },
    routePrefix: 'api',
  };
}

/** Finds host.json: the given path, else the app entry's directory and its parents. */
export function findHostJson(appEntry: string): string | undefined {
  let dir = path.dirname(path.resolve(appEntry));
  for (;;) {
    const candidate = path.join(dir, 'host.json');
    if (existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

export function loadHostConfig(file: string | undefined, env: Env): HostConfig {
  const config = defaultHostConfig();
  if (!file) return config;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new DevHostError('config', `${file}: cannot read host.json (${(err as Error).message})`);
  }
  const r = HostJson.safeParse(raw);
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new DevHostError('config', `${file}: invalid host.json: ${problems}`);
  }
  const ext = r.data.extensions;
  const dt = ext?.durableTask;
  const q = ext?.queues;
  config.file = file;
  if (dt?.hubName)
    config.hubName = resolveAppSettings(dt.hubName, env, `${file} extensions.durableTask.hubName`);
  if (dt?.maxConcurrentActivityFunctions)
    config.maxConcurrentActivityFunctions = dt.maxConcurrentActivityFunctions;
  if (dt?.maxConcurrentOrchestratorFunctions)
    config.maxConcurrentOrchestratorFunctions = dt.maxConcurrentOrchestratorFunctions;
  if (q) {
    const at = (k: string) => `${file} extensions.queues.${k}`;
    if (q.batchSize !== undefined) {
      config.queues.batchSize = q.batchSize;
      config.queues.newBatchThreshold = Math.floor((q.batchSize * Math.max(1, os.cpus().length)) / 2);
    }
    if (q.newBatchThreshold !== undefined) config.queues.newBatchThreshold = q.newBatchThreshold;
    if (q.maxPollingInterval !== undefined)
      config.queues.maxPollingIntervalMs = Math.max(
        100,
        parseTimeSpanMs(q.maxPollingInterval, at('maxPollingInterval')),
      );
    if (q.visibilityTimeout !== undefined)
      config.queues.visibilityTimeoutMs = parseTimeSpanMs(q.visibilityTimeout, at('visibilityTimeout'));
    if (q.maxDequeueCount !== undefined) config.queues.maxDequeueCount = q.maxDequeueCount;
    if (q.messageEncoding !== undefined) config.queues.messageEncoding = q.messageEncoding;
  }
  if (ext?.http?.routePrefix !== undefined)
    config.routePrefix = ext.http.routePrefix.replace(/^\/+|\/+$/g, '');
  return config;
}
