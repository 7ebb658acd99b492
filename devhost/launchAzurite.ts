// Starts Azurite (the Storage emulator, npm package `azurite`, pure Node) as a child process on
// loopback ports (0 = pick free ones) with a data directory (default: a temp dir removed on stop).
// --skipApiVersionCheck lets newer @azure/storage-* clients talk to it.
import { spawn, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { DevHostError } from './devHostError';
import type { Logger } from './logger';

export interface AzuriteOptions {
  /** Data directory (default: a fresh temp dir, deleted by stop()). */
  location?: string;
  host?: string;
  blobPort?: number;
  queuePort?: number;
  tablePort?: number;
  /** Keep data in memory only. */
  inMemory?: boolean;
  logger?: Logger;
  startTimeoutMs?: number;
  /**
   * Run Azurite in a process group of its own, so that a terminal's Ctrl-C (sent to the caller's
   * foreground group) or a kill of that group does not stop it while the caller still needs it
   * (the CLI records a job's cancel before it stops the stack); stop() ends it. With a `location`,
   * an Azurite left running there by a process that died is stopped first (it holds the data).
   */
  ownProcessGroup?: boolean;
}

export interface AzuriteInstance {
  connectionString: string;
  blobEndpoint: string;
  queueEndpoint: string;
  tableEndpoint: string;
  pid: number;
  stop(): Promise<void>;
}

// The well-known development account of the Storage emulators.
const account = 'devstoreaccount1';
const accountKey = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export async function launchAzurite(options: AzuriteOptions = {}): Promise<AzuriteInstance> {
  const host = options.host ?? '127.0.0.1';
  // In memory there is no data directory (Azurite refuses --location with --inMemoryPersistence);
  // a temp dir then holds only its log.
  const tempDir = options.location ? undefined : mkdtempSync(path.join(os.tmpdir(), 'devhost-azurite-'));
  const location = options.inMemory ? undefined : (options.location ?? tempDir!);
  const logDir = options.location ?? tempDir!;
  mkdirSync(logDir, { recursive: true });
  // Resolved from the dev host's own installation first, then from the current directory.
  let bin: string | undefined;
  for (const from of [__filename, path.join(process.cwd(), 'noop.js')]) {
    try {
      const req = createRequire(from);
      bin = path.join(path.dirname(req.resolve('azurite/package.json')), 'dist', 'src', 'azurite.js');
      break;
    } catch {
      // try the next place
    }
  }
  if (!bin) throw new DevHostError('launcher', 'Azurite is not installed: npm install --save-dev azurite');
  const args = [
    bin,
    '--skipApiVersionCheck',
    '--silent',
    '--disableTelemetry',
    ...(location ? ['--location', location] : []),
    '--blobHost',
    host,
    '--blobPort',
    String(options.blobPort ?? 0),
    '--queueHost',
    host,
    '--queuePort',
    String(options.queuePort ?? 0),
    '--tableHost',
    host,
    '--tablePort',
    String(options.tablePort ?? 0),
    ...(options.inMemory ? ['--inMemoryPersistence'] : []),
  ];
  const pidFile = options.location ? path.join(options.location, 'azurite.pid') : undefined;
  if (pidFile) await stopLeftover(pidFile, options.logger);
  // Its output goes to a file, not a pipe: an Azurite in its own process group outlives a killed
  // parent, and writing to the broken pipe would then crash it.
  const logFile = path.join(logDir, 'azurite.log');
  const logFd = openSync(logFile, 'w');
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', logFd, logFd],
    detached: options.ownProcessGroup === true,
  });
  closeSync(logFd);
  const ports: Record<string, number> = {};
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  try {
    await new Promise<void>((resolve, reject) => {
      const started = Date.now();
      const poll = setInterval(() => {
        const output = readFileSync(logFile, 'utf8');
        for (const m of output.matchAll(
          /Azurite (Blob|Queue|Table) service is successfully listening at http:\/\/[^:]+:(\d+)/g,
        )) {
          ports[m[1]!] = Number(m[2]);
        }
        if (ports.Blob && ports.Queue && ports.Table) {
          clearInterval(poll);
          resolve();
        } else if (Date.now() - started > startTimeoutMs) {
          clearInterval(poll);
          reject(
            new DevHostError('launcher', `Azurite did not start within ${startTimeoutMs} ms:\n${output}`),
          );
        }
      }, 25);
      child.once('exit', (code) => {
        clearInterval(poll);
        reject(
          new DevHostError(
            'launcher',
            `Azurite exited with code ${code} before it was ready:\n${readFileSync(logFile, 'utf8')}`,
          ),
        );
      });
    });
  } catch (err) {
    child.kill('SIGKILL');
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
    throw err;
  }
  if (pidFile) writeFileSync(pidFile, `${child.pid}\n${bin}\n`);
  const endpoints = azuriteEndpoints(host, { blob: ports.Blob!, queue: ports.Queue!, table: ports.Table! });
  options.logger?.info(`Azurite started (pid ${child.pid})`, {
    blobEndpoint: endpoints.blobEndpoint,
    queueEndpoint: endpoints.queueEndpoint,
  });
  let stopped: Promise<void> | undefined;
  return {
    ...endpoints,
    pid: child.pid!,
    stop: () =>
      (stopped ??= (async () => {
        await stopChild(child, 5000);
        if (pidFile) rmSync(pidFile, { force: true });
        if (tempDir) rmSync(tempDir, { recursive: true, force: true });
      })()),
  };
}

/** SIGTERM, then SIGKILL after graceMs; resolves when the child has exited. */
/** The endpoints and connection string of an Azurite (its well-known development account) on host:ports. */
export function azuriteEndpoints(
  host: string,
  ports: { blob: number; queue: number; table: number },
): { connectionString: string; blobEndpoint: string; queueEndpoint: string; tableEndpoint: string } {
  const blobEndpoint = `http://${host}:${ports.blob}/${account}`;
  const queueEndpoint = `http://${host}:${ports.queue}/${account}`;
  const tableEndpoint = `http://${host}:${ports.table}/${account}`;
  return {
    connectionString:
      `DefaultEndpointsProtocol=http;AccountName=${account};AccountKey=${accountKey};` +
      `BlobEndpoint=${blobEndpoint};QueueEndpoint=${queueEndpoint};TableEndpoint=${tableEndpoint};`,
    blobEndpoint,
    queueEndpoint,
    tableEndpoint,
  };
}

export function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Stops an Azurite that a dead process left running on the same data directory (its pid file). */
async function stopLeftover(pidFile: string, logger: Logger | undefined): Promise<void> {
  if (!existsSync(pidFile)) return;
  const [pidText, script] = readFileSync(pidFile, 'utf8').split('\n');
  const pid = Number(pidText);
  rmSync(pidFile, { force: true });
  if (!pid || !script || !isAlive(pid)) return;
  // Only a process that still runs this Azurite script: pids are reused.
  let cmdline = '';
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return; // no /proc (not Linux): leave it alone rather than kill a stranger
  }
  if (!cmdline.includes(script)) return;
  logger?.warn(`stopping the Azurite (pid ${pid}) left running on ${path.dirname(pidFile)}`);
  process.kill(pid, 'SIGTERM');
  for (let waited = 0; isAlive(pid); waited += 50) {
    if (waited >= 5000) {
      process.kill(pid, 'SIGKILL');
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
