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
import { ArgsError, LOCAL_SETTINGS, one, parseArgs, rejectUnknown } from './commandEnv';

export const SETTINGS_USAGE = `usage: dagmaster settings [--database-url URL] [--azurite-host H] [--blob-port N]
                          [--queue-port N] [--table-port N] [--force] [--stdout]

Writes ./local.settings.json from local.settings.example.json for the Azurite (default 127.0.0.1:10000-10002,
as \`npx azurite\` starts it) and the Postgres (--database-url, else DATABASE_URL, else the example's) that are
running now. Refuses to overwrite an existing file without --force; --stdout prints it instead.`;

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

function port(p: ReturnType<typeof parseArgs>, name: string, dflt: number): number {
  const v = one(p, name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new ArgsError(`--${name} must be a port, got "${v}"`);
  return n;
}

export async function runSettingsCommand(
  args: string[],
  io: { out: (s: string) => void; err: (s: string) => void },
  root: string = process.cwd(),
): Promise<number> {
  const names = ['database-url', 'azurite-host', 'blob-port', 'queue-port', 'table-port'];
  const p = parseArgs(args, names);
  rejectUnknown(p, [...names, 'force', 'stdout', 'help']);
  if (p.switches.has('help')) {
    io.out(SETTINGS_USAGE);
    return 0;
  }
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
  const host = one(p, 'azurite-host') ?? '127.0.0.1';
  const ports = {
    blob: port(p, 'blob-port', 10000),
    queue: port(p, 'queue-port', 10001),
    table: port(p, 'table-port', 10002),
  };
  const problems: string[] = [];
  for (const [service, n] of Object.entries(ports)) {
    if (!(await portOpen(host, n)))
      problems.push(
        `Azurite's ${service} service does not answer on ${host}:${n}: start Azurite in another terminal ` +
          '(`npx azurite --silent --location .data/azurite --skipApiVersionCheck`) or give its ports (--blob-port ...)',
      );
  }
  const databaseUrl = one(p, 'database-url') ?? process.env.DATABASE_URL ?? example.Values.DATABASE_URL;
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
  if (p.switches.has('stdout')) {
    io.out(text);
    return 0;
  }
  const target = path.join(root, LOCAL_SETTINGS);
  if (existsSync(target) && !p.switches.has('force')) {
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
