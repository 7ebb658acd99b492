// .data/stack.json: where a running local stack (dagmaster start/run) can be reached, so that other
// commands (upload) use its storage instead of starting a second Azurite on the same data.
import { existsSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';

export interface StackFile {
  pid: number;
  url: string;
  storageConnectionString: string;
}

const fileOf = (root: string) => path.join(root, '.data', 'stack.json');

export function writeStackFile(root: string, s: StackFile): void {
  mkdirSync(path.dirname(fileOf(root)), { recursive: true });
  writeFileSync(fileOf(root), JSON.stringify(s, null, 2));
}

export function removeStackFile(root: string): void {
  rmSync(fileOf(root), { force: true });
}

/** The running stack, or undefined (no file, or its process is gone). */
export function readStackFile(root: string): StackFile | undefined {
  const f = fileOf(root);
  if (!existsSync(f)) return undefined;
  try {
    const s = JSON.parse(readFileSync(f, 'utf8')) as StackFile;
    process.kill(s.pid, 0);
    return s;
  } catch {
    return undefined;
  }
}
