// App settings as the Functions host resolves them: `%NAME%` in trigger metadata (queue names,
// connection names, schedules, hub names) is replaced by the app setting (environment variable)
// NAME. A missing setting is a startup error, as on Azure.
import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { DevHostError } from './devHostError';

export type Env = Record<string, string | undefined>;

export function resolveAppSettings(value: string, env: Env, where: string): string {
  return value.replace(/%([^%]+)%/g, (_, name: string) => {
    const v = env[name];
    if (v === undefined) {
      throw new DevHostError(
        'config',
        `${where}: "${value}" refers to app setting %${name}%, which is not set. ` +
          `Set the environment variable ${name} (or add it to local.settings.json "Values" or the dev host "env" option).`,
      );
    }
    return v;
  });
}

const LocalSettings = z.object({
  Values: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
});

/**
 * Reads `local.settings.json` "Values" like Core Tools does. Variables already set in the environment
 * win. Returns the names that were applied (so the caller can restore the environment later).
 */
export function readLocalSettings(file: string): Record<string, string> {
  if (!existsSync(file)) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new DevHostError('config', `${file}: not valid JSON (${(err as Error).message})`);
  }
  const r = LocalSettings.safeParse(parsed);
  if (!r.success)
    throw new DevHostError('config', `${file}: ${r.error.issues.map((i) => i.message).join('; ')}`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.data.Values ?? {})) out[k] = String(v);
  return out;
}
