// Every dagmaster command, in the order `dagmaster --help` lists them.
import type { Command } from './cliCommand';
import { schemaCommand, uploadCommand, validateCommand } from './fileCommands';
import { cancelCommand, jobsCommand } from './jobsCommand';
import { runCommand } from './runCommand';
import { startCommand } from './startCommand';
import { submitCommand } from './submitCommand';

export const COMMANDS: readonly Command[] = [
  validateCommand,
  runCommand,
  startCommand,
  submitCommand,
  jobsCommand,
  cancelCommand,
  uploadCommand,
  schemaCommand,
];
