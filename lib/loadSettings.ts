// The one pattern of every configuration loader (the database's, the Function App's, the raster
// handlers'): a zod schema over the environment variables parsed into a typed configuration, each
// problem naming its variable and the value it had. The loaders differ only in how they report.
import { z } from 'zod';

export type Settings = Record<string, string | undefined>;

export interface SettingProblem {
  /** The environment variable (the schema's key). */
  variable: string;
  /** Its value, as set (undefined when it was not). */
  value: string | undefined;
  message: string;
}

export type SettingsResult<T> = { ok: true; config: T } | { ok: false; problems: SettingProblem[] };

/** Parses `env` with `schema`: the typed configuration, or every problem in the schema's key order. */
export function parseSettings<S extends z.ZodType>(schema: S, env: Settings): SettingsResult<z.output<S>> {
  const r = schema.safeParse(env);
  if (r.success) return { ok: true, config: r.data };
  return {
    ok: false,
    problems: r.error.issues.map((i) => {
      const variable = i.path.map(String).join('.');
      return { variable, value: env[variable], message: i.message };
    }),
  };
}

const isBlank = (s: string | undefined) => s === undefined || s.trim() === '';

/** An integer setting within [min, max]; unset or blank: `fallback`. */
export const intSetting = (fallback: number, min: number, max: number, message?: string) =>
  z
    .string()
    .optional()
    .transform((s, ctx) => {
      if (isBlank(s)) return fallback;
      const n = Number(s);
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({
          code: 'custom',
          message: message ?? `must be an integer between ${min} and ${max}, got "${s}"`,
        });
        return z.NEVER;
      }
      return n;
    });

/** A trimmed string setting; unset or blank: undefined. */
export const optionalSetting = z
  .string()
  .optional()
  .transform((s) => (isBlank(s) ? undefined : s!.trim()));
