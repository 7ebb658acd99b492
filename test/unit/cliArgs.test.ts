// Every dagmaster command, subcommands included, parses its arguments one way (cli/cliCommand.ts over
// node:util parseArgs): unknown, misspelt, repeated options and stray arguments are usage errors (exit 2)
// that name the problem, before anything runs (no database, no Azurite here).
import { describe, expect, it } from 'vitest';
import { parseCommandArgs, type ArgsSpec } from '../../cli/cliCommand';
import { runCli } from '../../cli/main';

async function run(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { out: (s) => out.push(s), err: (s) => err.push(s) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('argument errors are usage errors (exit 2) before anything runs', () => {
  it.each([
    [['db', 'migrate', '--schem', 'x'], 'unknown option --schem for "db migrate" (did you mean --schema?)'],
    [['db', 'migrate', 'extra'], 'unexpected argument "extra"'],
    [['db', 'status', '--schema', 'a', '--schema', 'b'], 'option --schema given 2 times'],
    [['db', 'status', '--json=yes'], 'option --json takes no value'],
    [['db', 'new-migration'], 'name the migration, e.g. backfill_owner'],
    [['settings', '--force', '--force'], 'option --force given 2 times'],
    [
      ['settings', '--databse-url', 'x'],
      'unknown option --databse-url for "settings" (did you mean --database-url?)',
    ],
    [['settings', '--blob-port'], 'option --blob-port needs a value'],
    [['settings', '--blob-port', 'x'], '--blob-port must be a port, got "x"'],
    [['worker', 'extra'], 'unexpected argument "extra"'],
    [['worker', '--queues', 'q'], '"worker" takes no options'],
  ])('dagmaster %j', async (argv, message) => {
    const r = await run(argv);
    expect(r.code).toBe(2);
    expect(r.err).toContain(message);
  });

  it('--help describes settings, worker and a db subcommand (exit 0)', async () => {
    expect(await run(['settings', '--help'])).toMatchObject({
      code: 0,
      out: expect.stringContaining('--stdout'),
    });
    expect(await run(['worker', '--help'])).toMatchObject({
      code: 0,
      out: expect.stringContaining('DAG_WORKER_'),
    });
    expect(await run(['db', 'migrate', '--help'])).toMatchObject({
      code: 0,
      out: expect.stringContaining('--grant'),
    });
  });
});

describe('parseCommandArgs', () => {
  const spec: ArgsSpec = {
    name: 'x',
    options: {
      grant: { type: 'string', multiple: true, description: '' },
      schema: { type: 'string', description: '' },
      json: { type: 'boolean', description: '' },
    },
    positionals: { min: 0, max: 1, what: 'one name' },
  };

  it('keeps every value of a multiple option, in order, in both spellings', () => {
    expect(parseCommandArgs(spec, ['--grant', 'a', '--grant=b:1', 'n', '--json'])).toEqual({
      positionals: ['n'],
      values: { grant: ['a', 'b:1'], json: true },
    });
  });
});
