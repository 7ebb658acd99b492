// Every dagmaster command, in the order `dagmaster --help` lists them.
import type { Command } from './cliCommand';
import { schemaCommand, uploadCommand, validateCommand } from './fileCommands';
import { cancelCommand, jobsCommand } from './jobsCommand';
import { runCommand } from './runCommand';
import { startCommand } from './startCommand';
import { submitCommand } from './submitCommand';
import { DB_USAGE, runDbCommand } from './dbCommand';
import { settingsCommand } from './settingsCommand';
import { workerCommand } from './workerCommand';

/** A command with subcommands: it parses each subcommand's arguments itself. */
const withSubcommands = (
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

const dbCommand = withSubcommands(
  'db',
  'db migrate | status | generate-migration <name> | new-migration <name> | seal',
  "The Postgres schema's versioned migrations (dagmaster db help).",
  DB_USAGE,
  runDbCommand,
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
