// What this process has read and written through system calls (Linux /proc/self/io: rchar/wchar), for
// benchmarks that report the bytes a job moves (its Postgres traffic, mostly): unlike wall time, it
// does not depend on how busy the shared machine is. Null where /proc is not available.
import { readFileSync } from 'node:fs';

export interface ProcessIo {
  readBytes: number;
  writtenBytes: number;
}

export function processIo(): ProcessIo | null {
  try {
    const fields = new Map(
      readFileSync('/proc/self/io', 'utf8')
        .trim()
        .split('\n')
        .map((line) => line.split(': ') as [string, string]),
    );
    return { readBytes: Number(fields.get('rchar')), writtenBytes: Number(fields.get('wchar')) };
  } catch {
    return null;
  }
}
