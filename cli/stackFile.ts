// .data/stack.json: where the local stack running on this .data/ (dagmaster start or run) can be
// reached, so that other commands use it: `upload` its storage, `submit`/`jobs`/`cancel` its API
// (and key), a second `run` its service. One .data/ holds one stack: the file names the process that
// owns it, and only that process removes it. It holds the API key, so it is private (mode 0600).
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

const StackFileSchema = z.object({
  pid: z.number().int().positive(),
  /** Which command owns the stack. */
  command: z.enum(['start', 'run']),
  url: z.string(),
  storageConnectionString: z.string(),
  apiKey: z.string().optional(),
  workflowsDir: z.string(),
  startedAt: z.string(),
});
export type StackFile = z.infer<typeof StackFileSchema>;

export const stackFilePath = (root: string): string => path.join(root, '.data', 'stack.json');

export function writeStackFile(root: string, s: StackFile): void {
  mkdirSync(path.dirname(stackFilePath(root)), { recursive: true });
  writeFileSync(stackFilePath(root), JSON.stringify(s, null, 2), { mode: 0o600 });
}

/** Removes the file only if this process (pid) wrote it: another stack's file is not ours. */
export function removeStackFile(root: string, pid: number = process.pid): void {
  const f = stackFilePath(root);
  const current = readRaw(f);
  if (current && current.pid !== pid) return;
  rmSync(f, { force: true });
}

/** The running stack, or undefined (no file, an unreadable one, or its process is gone). */
export function readStackFile(root: string): StackFile | undefined {
  const s = readRaw(stackFilePath(root));
  if (!s) return undefined;
  try {
    process.kill(s.pid, 0);
    return s;
  } catch (err) {
    // EPERM: the process exists but belongs to another user; it is still running.
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? s : undefined;
  }
}

function readRaw(file: string): StackFile | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const r = StackFileSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}
