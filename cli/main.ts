// The dagmaster command (SPEC §6): dispatches to one command, each with its own --help; options
// are parsed strictly. Exit codes: 0 success, 1 failure (a job failed or was cancelled, a stack
// could not start, a service could not be reached), 2 usage errors, invalid workflows or inputs.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { commandHelp, parseCommandArgs, UsageError, type CliIO, type Command } from './cliCommand';
import { COMMANDS } from './commands';
import { suggest } from '../dag/suggest';
import { ApiError } from './jobClient';

export type { CliIO };

const stdio: CliIO = {
  out: (s) => process.stdout.write(s + '\n'),
  err: (s) => process.stderr.write(s + '\n'),
};

function usage(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.synopsis.length));
  const lines = ['usage: dagmaster <command> [options]', '', 'commands:'];
  for (const c of commands) {
    const first = c.summary.split('\n')[0]!;
    lines.push(
      c.synopsis.length <= 44
        ? `  ${c.synopsis.padEnd(Math.min(width, 44))}  ${first}`
        : `  ${c.synopsis}\n  ${' '.repeat(Math.min(width, 44))}  ${first}`,
    );
  }
  lines.push(
    '',
    '`dagmaster <command> --help` describes a command; `dagmaster --version` prints the version.',
  );
  return lines.join('\n');
}

/** The package's version (from its package.json, found from the sources or from dist/). */
export function version(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
    if (path.dirname(dir) === dir) return 'unknown';
  }
}

export async function runCli(argv: string[], io: CliIO = stdio): Promise<number> {
  const commands = COMMANDS;
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.err(usage(commands));
    return 2;
  }
  if (name === '-h' || name === '--help' || name === 'help') {
    const topic = rest[0] !== undefined ? commands.find((c) => c.name === rest[0]) : undefined;
    io.out(topic ? commandHelp(topic) : usage(commands));
    return 0;
  }
  if (name === '--version' || name === '-v' || name === 'version') {
    io.out(version());
    return 0;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    const near = suggest(
      name,
      commands.map((c) => c.name),
    );
    io.err(
      `dagmaster: unknown command "${name}"${near ? ` (did you mean "${near}"?)` : ''}\n\n${usage(commands)}`,
    );
    return 2;
  }
  if (!command.rawArgs && (rest.includes('--help') || rest.includes('-h'))) {
    io.out(commandHelp(command));
    return 0;
  }
  try {
    const args = command.rawArgs ? { positionals: rest, values: {} } : parseCommandArgs(command, rest);
    return await command.run(args, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`dagmaster ${name}: ${err.message}\n(dagmaster ${name} --help describes the command)`);
      return 2;
    }
    if (err instanceof ApiError) {
      io.err(`dagmaster ${name}: ${err.message}`);
      const details = (err.body as { error?: { details?: unknown } })?.error?.details;
      const list = Array.isArray(details)
        ? details
        : Array.isArray((details as { problems?: unknown })?.problems)
          ? (details as { problems: unknown[] }).problems
          : [];
      for (const d of list) {
        io.err(
          `  - ${typeof d === 'string' ? d : ((d as { message?: string }).message ?? JSON.stringify(d))}`,
        );
      }
      return err.status === 400 || err.status === 404 ? 2 : 1;
    }
    io.err(`dagmaster ${name}: ${(err as Error).message}`);
    return 1;
  }
}

export function main(argv: string[]): void {
  runCli(argv).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`dagmaster: ${(err as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
