// The product version, read once from package.json (shown by the probes).
import { readFileSync } from 'node:fs';
import path from 'node:path';

function readVersion(): string {
  for (const dir of [path.join(__dirname, '..'), path.join(__dirname, '..', '..')]) {
    try {
      return (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string })
        .version;
    } catch {
      // compiled (dist/functions) or source (functions/): try the next candidate
    }
  }
  return 'unknown';
}

export const version = readVersion();
