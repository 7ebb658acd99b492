// The settings the stand-alone commands (`db`, `worker`) read: the environment, then the "Values" of
// ./local.settings.json for anything the environment does not set, exactly as Core Tools gives them
// to the Function App. So `func start`, `dagmaster worker` and `dagmaster db migrate` share one file.
import path from 'node:path';
import { readLocalSettings } from '../devhost/appSettings';

export type Env = Record<string, string | undefined>;

export const LOCAL_SETTINGS = 'local.settings.json';

export function commandEnv(root: string = process.cwd(), env: Env = process.env): Env {
  const file = readLocalSettings(path.join(root, LOCAL_SETTINGS));
  const out: Env = { ...file };
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}

/** Small argument parser: `--name value`, `--name=value`, repeatable flags, positionals. */
export interface ParsedArgs {
  positional: string[];
  values: Map<string, string[]>;
  switches: Set<string>;
}

export function parseArgs(args: string[], withValue: readonly string[]): ParsedArgs {
  const out: ParsedArgs = { positional: [], values: new Map(), switches: new Set() };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('--')) {
      out.positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    if (!withValue.includes(name)) {
      if (eq > 0) throw new ArgsError(`--${name} takes no value`);
      out.switches.add(name);
      continue;
    }
    const v = eq > 0 ? a.slice(eq + 1) : args[++i];
    if (v === undefined) throw new ArgsError(`--${name} needs a value`);
    out.values.set(name, [...(out.values.get(name) ?? []), v]);
  }
  return out;
}

export class ArgsError extends Error {}

export function one(p: ParsedArgs, name: string): string | undefined {
  const v = p.values.get(name);
  if (v && v.length > 1) throw new ArgsError(`--${name} given ${v.length} times`);
  return v?.[0];
}

export function rejectUnknown(p: ParsedArgs, known: readonly string[]): void {
  for (const n of [...p.values.keys(), ...p.switches]) {
    if (!known.includes(n)) throw new ArgsError(`unknown option --${n}`);
  }
}
