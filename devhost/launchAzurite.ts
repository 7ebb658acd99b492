// Starts Azurite (the Storage emulator, npm package `azurite`, pure Node) as a child process on
// loopback ports (0 = pick free ones) with a data directory (default: a temp dir removed on stop).
// --skipApiVersionCheck lets newer @azure/storage-* clients talk to it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
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
  // In memory there is no data directory (Azurite refuses --location with --inMemoryPersistence).
  const tempDir =
    options.location || options.inMemory
      ? undefined
      : mkdtempSync(path.join(os.tmpdir(), 'devhost-azurite-'));
  const location = options.inMemory ? undefined : (options.location ?? tempDir!);
  if (location) mkdirSync(location, { recursive: true });
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
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const ports: Record<string, number> = {};
  let output = '';
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new DevHostError(
              'launcher',
              `Azurite did not start within ${options.startTimeoutMs ?? 30_000} ms:\n${output}`,
            ),
          ),
        options.startTimeoutMs ?? 30_000,
      );
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        for (const m of output.matchAll(
          /Azurite (Blob|Queue|Table) service is successfully listening at http:\/\/[^:]+:(\d+)/g,
        )) {
          ports[m[1]!] = Number(m[2]);
        }
        if (ports.Blob && ports.Queue && ports.Table) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(
          new DevHostError('launcher', `Azurite exited with code ${code} before it was ready:\n${output}`),
        );
      });
    });
  } catch (err) {
    child.kill('SIGKILL');
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
    throw err;
  }
  child.stdout!.resume();
  child.stderr!.resume();
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
