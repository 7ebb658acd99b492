// `dagmaster settings`: writes local.settings.json (what `func start`, `dagmaster worker` and
// `dagmaster db migrate` read) from local.settings.example.json, for an Azurite and a Postgres that are
// running now: both are checked before anything is written, and AzureWebJobsStorage gets Azurite's full
// connection string (the "UseDevelopmentStorage=true" shorthand is not enough for the worker and the
// app's own queue and blob clients, which take the endpoints from it).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createPool, loadDbConfig, pingDatabase } from '../db';
import { azuriteEndpoints } from '../devhost';
import { optionalString, UsageError, type CliIO, type Command, type CommandArgs } from './cliCommand';
import { LOCAL_SETTINGS } from './commandEnv';

export const settingsCommand: Command = {
  name: 'settings',
  synopsis: 'settings [--database-url URL] [--force]',
  summary: 'Write local.settings.json for a running Azurite and Postgres (the Core Tools path).',
  details: `Writes ./local.settings.json from local.settings.example.json for the Azurite (default 127.0.0.1:10000-10002,
as \`npx azurite\` starts it) and the Postgres (--database-url, else DATABASE_URL, else the example's) that are
running now. Refuses to overwrite an existing file without --force; --stdout prints it instead.`,
  options: {
    'database-url': { type: 'string', value: 'URL', description: 'the Postgres (default DATABASE_URL)' },
    'azurite-host': { type: 'string', value: 'H', description: "Azurite's host (default 127.0.0.1)" },
    'blob-port': { type: 'string', value: 'N', description: "Azurite's blob port (default 10000)" },
    'queue-port': { type: 'string', value: 'N', description: "Azurite's queue port (default 10001)" },
    'table-port': { type: 'string', value: 'N', description: "Azurite's table port (default 10002)" },
    force: { type: 'boolean', description: 'overwrite an existing local.settings.json' },
    stdout: { type: 'boolean', description: 'print the file instead of writing it' },
  },
  positionals: { min: 0, max: 0, what: 'no argument' },
  run: (args, io) => writeSettings(args, io),
};

function portOpen(host: string, port: number, timeoutMs = 1500): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

function port(args: CommandArgs, name: string, dflt: number): number {
  const v = optionalString(args, name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65535)
    throw new UsageError(`--${name} must be a port, got "${v}"`);
  return n;
}

async function writeSettings(args: CommandArgs, io: CliIO, root: string = process.cwd()): Promise<number> {
  const examplePath = path.join(root, 'local.settings.example.json');
  if (!existsSync(examplePath)) {
    io.err(`dagmaster settings: ${examplePath} not found: run it from the project root.`);
    return 1;
  }
  const example = JSON.parse(readFileSync(examplePath, 'utf8')) as {
    IsEncrypted?: boolean;
    Values: Record<string, string>;
    [k: string]: unknown;
  };
  const host = optionalString(args, 'azurite-host') ?? '127.0.0.1';
  const ports = {
    blob: port(args, 'blob-port', 10000),
    queue: port(args, 'queue-port', 10001),
    table: port(args, 'table-port', 10002),
  };
  const problems: string[] = [];
  for (const [service, n] of Object.entries(ports)) {
    if (!(await portOpen(host, n)))
      problems.push(
        `Azurite's ${service} service does not answer on ${host}:${n}: start Azurite in another terminal ` +
          '(`npx azurite --silent --location .data/azurite --skipApiVersionCheck`) or give its ports (--blob-port ...)',
      );
  }
  const databaseUrl =
    optionalString(args, 'database-url') ?? process.env.DATABASE_URL ?? example.Values.DATABASE_URL;
  if (!databaseUrl) problems.push('no Postgres: pass --database-url postgres://user@host:5432/db');
  else {
    let pool;
    try {
      pool = createPool(
        { ...loadDbConfig({ DATABASE_URL: databaseUrl }), poolMax: 1, connectTimeoutMs: 5000 },
        { onError: () => undefined },
      );
      await pingDatabase(pool);
    } catch (err) {
      problems.push(
        `Postgres does not answer at ${databaseUrl.replace(/:[^:@/]*@/, ':***@')} (${(err as Error).message}): ` +
          'start it, or pass --database-url',
      );
    } finally {
      await pool?.end().catch(() => undefined);
    }
  }
  if (problems.length) {
    for (const m of problems) io.err(`dagmaster settings: ${m}`);
    return 1;
  }
  const values: Record<string, string> = {
    ...example.Values,
    AzureWebJobsStorage: azuriteEndpoints(host, ports).connectionString,
    DATABASE_URL: databaseUrl!,
  };
  const text = `${JSON.stringify({ ...example, IsEncrypted: false, Values: values }, null, 2)}\n`;
  if (args.values.stdout === true) {
    io.out(text);
    return 0;
  }
  const target = path.join(root, LOCAL_SETTINGS);
  if (existsSync(target) && !args.values.force === true) {
    io.err(`dagmaster settings: ${target} exists; --force overwrites it (or --stdout prints the new one).`);
    return 1;
  }
  writeFileSync(target, text);
  io.out(
    `wrote ${LOCAL_SETTINGS} (Azurite on ${host}:${ports.blob}-${ports.table}, Postgres ${databaseUrl!.replace(/:[^:@/]*@/, ':***@')}). ` +
      'Next: `npx dagmaster db migrate`, `npx dagmaster worker`, `func start`.',
  );
  return 0;
}
