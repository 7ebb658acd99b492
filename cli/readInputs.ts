// A command's job inputs: --input JSON or --input-file F (a JSON object), never both. A missing or
// unreadable file and text that is not a JSON object are usage errors (exit 2) that say which.
import { readFileSync } from 'node:fs';
import { optionalString, UsageError, type CommandArgs } from './cliCommand';

export const INPUT_OPTIONS = {
  input: { type: 'string', value: 'JSON', description: 'the job inputs as a JSON object' },
  'input-file': { type: 'string', value: 'FILE', description: 'read the job inputs from a JSON file' },
} as const;

export function readInputs(args: CommandArgs): Record<string, unknown> {
  const inline = optionalString(args, 'input');
  const file = optionalString(args, 'input-file');
  if (inline !== undefined && file !== undefined)
    throw new UsageError('use --input or --input-file, not both');
  let text = inline;
  let from = '--input';
  if (file !== undefined) {
    from = `--input-file ${file}`;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new UsageError(
        code === 'ENOENT'
          ? `the input file ${file} does not exist`
          : code === 'EISDIR'
            ? `the input file ${file} is a directory`
            : `cannot read the input file ${file}: ${(err as Error).message}`,
      );
    }
  }
  if (text === undefined) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`the inputs (${from}) are not valid JSON: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new UsageError(
      `the inputs (${from}) must be a JSON object of input names to values, got ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}`,
    );
  }
  return value as Record<string, unknown>;
}
