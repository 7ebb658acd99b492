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
