// Workflows of the original system pass some numbers as strings (e.g. failure_rate: "0.3"), so
// built-in handlers accept numeric strings where they expect numbers (SPEC §4).
import { z } from 'zod';

const NUMERIC = /^\s*-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$/;

export const numberLike = z.union([
  z.number(),
  z
    .string()
    .regex(NUMERIC, 'expected a number or a numeric string')
    .transform((s) => Number(s)),
]);

export const intLike = numberLike.pipe(z.number().int());
