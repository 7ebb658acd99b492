// bin/dagmaster.js runs the compiled CLI only while it is current: a source edited after the build
// (a working checkout) or no build at all runs the TypeScript sources, so that `run`, `start` and
// `db generate-migration` never use stale code or models.
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const repo = path.resolve(__dirname, '../..');
const root = mkdtempSync(path.join(tmpdir(), 'dagmaster-bin-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

mkdirSync(path.join(root, 'bin'));
copyFileSync(path.join(repo, 'bin', 'dagmaster.js'), path.join(root, 'bin', 'dagmaster.js'));
symlinkSync(path.join(repo, 'node_modules'), path.join(root, 'node_modules'));
mkdirSync(path.join(root, 'cli'));
mkdirSync(path.join(root, 'db', 'deep'), { recursive: true });
const source = path.join(root, 'cli', 'main.ts');
writeFileSync(source, "export function main(): void { console.log('sources'); }\n");
const deepSource = path.join(root, 'db', 'deep', 'model.ts');
writeFileSync(deepSource, 'export const x: number = 1;\n');
const compiled = path.join(root, 'dist', 'cli', 'main.js');

const at = (file: string, seconds: number) => utimesSync(file, seconds, seconds);
const run = () =>
  execFileSync(process.execPath, [path.join(root, 'bin', 'dagmaster.js')], { encoding: 'utf8' }).trim();

describe('bin/dagmaster.js', () => {
  it('without a build: the sources', () => {
    expect(run()).toBe('sources');
  });

  it('a build newer than every source: the build; a source edited since (however deep): the sources', () => {
    mkdirSync(path.dirname(compiled), { recursive: true });
    writeFileSync(compiled, "exports.main = () => console.log('dist');\n");
    at(source, 1_000_000);
    at(deepSource, 1_000_000);
    at(compiled, 2_000_000);
    expect(run()).toBe('dist');
    at(deepSource, 3_000_000);
    expect(run()).toBe('sources');
    at(compiled, 4_000_000);
    expect(run()).toBe('dist');
  });
});
