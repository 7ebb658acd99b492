// An integer setting read from the environment with zod: blank means the default, anything else must be
// an integer within bounds (the configuration loaders report every bad variable at once).
import { z } from 'zod';

export function intSetting(fallback: number, min: number, max: number) {
  return z
    .string()
    .optional()
    .transform((s, ctx) => {
      if (s === undefined || s.trim() === '') return fallback;
      const n = Number(s);
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `must be an integer between ${min} and ${max}, got "${s}"` });
        return z.NEVER;
      }
      return n;
    });
}
