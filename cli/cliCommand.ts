// What every dagmaster command is: a name, its usage and options (parsed strictly with
// node:util parseArgs, so an unknown, misspelt or repeated option is an error, not silently ignored),
// and the function that runs it and returns the exit code. Commands with subcommands (`db`) parse each
// subcommand's arguments the same way (parseCommandArgs with the subcommand's ArgsSpec).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { suggest } from '../dag/suggest';

export interface CliIO {
  out: (s: string) => void;
  err: (s: string) => void;
}

/** A mistake in how the command was called: exit 2 with the message and a pointer to --help. */
export class UsageError extends Error {}

type OptionSpec = NonNullable<ParseArgsConfig['options']>[string] & { description: string; value?: string };

export interface CommandArgs {
  positionals: string[];
  /** A string, true for a boolean option, a list for an option declared `multiple`. */
  values: Record<string, string | boolean | string[] | undefined>;
}

/** What parseCommandArgs needs to know: the command's name (for errors), options and positionals. */
export interface ArgsSpec {
  name: string;
  options: Record<string, OptionSpec>;
  /** How many positionals (min, max) and what they are called in errors. */
  positionals: { min: number; max: number; what: string };
}

export interface Command extends ArgsSpec {
  /** `run <workflow file|id> [options]` */
  synopsis: string;
  summary: string;
  /** Paragraphs printed by `dagmaster <name> --help` after the options. */
  details?: string;
  /** The command parses its own arguments (subcommands): they reach run() as positionals, unparsed. */
  rawArgs?: boolean;
  run(args: CommandArgs, io: CliIO): Promise<number>;
}

/** Parses a command's arguments; every problem is a UsageError that names it. */
export function parseCommandArgs(command: ArgsSpec, argv: string[]): CommandArgs {
  const options: NonNullable<ParseArgsConfig['options']> = {};
  for (const [name, o] of Object.entries(command.options)) {
    options[name] = {
      type: o.type,
      ...(o.short ? { short: o.short } : {}),
      ...(o.multiple ? { multiple: true } : {}),
    };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: true, tokens: true });
  } catch (err) {
    throw new UsageError(describeParseError(err as Error & { code?: string }, command));
  }
  // parseArgs keeps the last of a repeated option: a second value is more likely a mistake than a choice.
  const seen = new Map<string, number>();
  for (const t of parsed.tokens) if (t.kind === 'option') seen.set(t.name, (seen.get(t.name) ?? 0) + 1);
  for (const [name, n] of seen) {
    if (n > 1 && !command.options[name]?.multiple) throw new UsageError(`option --${name} given ${n} times`);
  }
  const positionals = parsed.positionals;
  const { min, max, what } = command.positionals;
  if (positionals.length < min) throw new UsageError(`name ${what}`);
  if (positionals.length > max) {
    throw new UsageError(
      `unexpected argument${positionals.length - max > 1 ? 's' : ''} ${positionals
        .slice(max)
        .map((p) => JSON.stringify(p))
        .join(', ')} (expected ${what})`,
    );
  }
  return { positionals, values: parsed.values as CommandArgs['values'] };
}

function describeParseError(err: Error & { code?: string }, command: ArgsSpec): string {
  const m = /'(-{1,2}[^']*)'/.exec(err.message);
  const option = m?.[1];
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${option ?? ''} for "${command.name}"${suggestOption(option, command)}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return option && command.options[option.replace(/^-+/, '').split(' ')[0]!]?.type === 'boolean'
        ? `option ${option.split(' ')[0]} takes no value`
        : `option ${option?.split(' ')[0] ?? ''} needs a value`;
    default:
      return err.message;
  }
}

function suggestOption(option: string | undefined, command: ArgsSpec): string {
  const names = Object.keys(command.options);
  if (!names.length) return ` ("${command.name}" takes no options)`;
  const bare = option?.replace(/^-+/, '').split('=')[0] ?? '';
  const close = suggest(bare, names);
  return close ? ` (did you mean --${close}?)` : ` (its options: ${names.map((n) => `--${n}`).join(', ')})`;
}

/** `dagmaster <name> --help`. */
export function commandHelp(command: Command): string {
  const lines = [`usage: dagmaster ${command.synopsis}`, '', command.summary];
  const opts = Object.entries(command.options);
  if (opts.length) {
    lines.push('', 'options:');
    const labels = opts.map(([name, o]) => `  --${name}${o.value ? ` ${o.value}` : ''}`);
    const width = Math.max(...labels.map((l) => l.length)) + 2;
    opts.forEach(([, o], i) => lines.push(labels[i]!.padEnd(width) + o.description));
  }
  if (command.details) lines.push('', command.details);
  return lines.join('\n');
}

export function optionalString(args: CommandArgs, name: string): string | undefined {
  const v = args.values[name];
  return typeof v === 'string' ? v : undefined;
}

/** The values of an option declared `multiple` (none: []). */
export function stringList(args: CommandArgs, name: string): string[] {
  const v = args.values[name];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}
