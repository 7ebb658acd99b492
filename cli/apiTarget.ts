// Where API commands (submit, jobs, cancel) send their requests: --url, else DAG_API_URL, else the
// local stack running on this directory's .data/ (its stack file has the URL and the key), else the
// default local address. The key: --key, else DAG_API_KEY, else the running stack's.
import { optionalString, type CommandArgs } from './cliCommand';
import { readStackFile } from './stackFile';

export const DEFAULT_URL = 'http://127.0.0.1:7071';

export const API_OPTIONS = {
  url: {
    type: 'string',
    value: 'URL',
    description: `the API (default: DAG_API_URL, else the stack running on .data/, else ${DEFAULT_URL})`,
  },
  key: {
    type: 'string',
    value: 'KEY',
    description: "the function key (default: DAG_API_KEY, else the running stack's)",
  },
} as const;

export function apiTarget(args: CommandArgs, root = process.cwd()): { url: string; key?: string } {
  const explicitUrl = optionalString(args, 'url') ?? (process.env.DAG_API_URL || undefined);
  const stack = explicitUrl ? undefined : readStackFile(root);
  const url = explicitUrl ?? stack?.url ?? DEFAULT_URL;
  const key = optionalString(args, 'key') ?? (process.env.DAG_API_KEY || undefined) ?? stack?.apiKey;
  return { url, ...(key ? { key } : {}) };
}
