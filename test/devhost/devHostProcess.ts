// Runs the dev host as a child process (devhost/main.ts under tsx) for tests that kill it.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export interface HostProcess {
  child: ChildProcess;
  url: string;
  output: () => string;
}

const root = path.resolve(__dirname, '../..');

export function spawnDevHost(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 30_000,
): Promise<HostProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'devhost/main.ts'), ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`dev host did not start within ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    const onData = (c: Buffer) => {
      out += c.toString();
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1]!, output: () => out });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`dev host exited (${code ?? signal}) before it was ready:\n${out}`));
    });
  });
}

export function waitForExit(child: ChildProcess, timeoutMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
  });
}
