// Every dagmaster command, in the order `dagmaster --help` lists them.
import type { Command } from './cliCommand';
import { schemaCommand, uploadCommand, validateCommand } from './fileCommands';
import { cancelCommand, jobsCommand } from './jobsCommand';
import { runCommand } from './runCommand';
import { startCommand } from './startCommand';
import { submitCommand } from './submitCommand';
import { DB_USAGE, runDbCommand } from './dbCommand';
import { runSettingsCommand, SETTINGS_USAGE } from './settingsCommand';
import { runWorkerCommand, WORKER_USAGE } from './workerCommand';

/** The commands with subcommands or options of their own (they parse their arguments themselves). */
const own = (
  name: string,
  synopsis: string,
  summary: string,
  usage: string,
  run: (args: string[], io: { out: (s: string) => void; err: (s: string) => void }) => Promise<number>,
): Command => ({
  name,
  synopsis,
  summary,
  details: usage,
  options: {},
  positionals: { min: 0, max: Infinity, what: 'its arguments' },
  rawArgs: true,
  run: (args, io) => run(args.positionals, io),
});

const dbCommand = own(
  'db',
  'db migrate | status | generate-migration <name> | new-migration <name> | seal',
  "The Postgres schema's versioned migrations (dagmaster db help).",
  DB_USAGE,
  runDbCommand,
);
const workerCommand = own(
  'worker',
  'worker',
  'The container worker alone, on the environment and ./local.settings.json.',
  WORKER_USAGE,
  runWorkerCommand,
);
const settingsCommand = own(
  'settings',
  'settings [--database-url URL] [--force]',
  'Write local.settings.json for a running Azurite and Postgres (the Core Tools path).',
  SETTINGS_USAGE,
  runSettingsCommand,
);

export const COMMANDS: readonly Command[] = [
  validateCommand,
  runCommand,
  startCommand,
  submitCommand,
  jobsCommand,
  cancelCommand,
  uploadCommand,
  schemaCommand,
  dbCommand,
  workerCommand,
  settingsCommand,
];
