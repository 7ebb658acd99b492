// The architecture's rules are enforced by ESLint (eslint.config.mjs): import zones, `pg` only in db/,
// and the determinism rules for dag/ and orchestrations/. These tests lint small snippets as if they lived
// in those folders, so a weakened config fails here.
import { ESLint } from 'eslint';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.join(__dirname, '..', '..');
// Snippets are linted as if they lived at paths that do not exist: the type-aware rules (which need
// the file in the TypeScript project) are tested apart, on a real file's path.
const eslint = new ESLint({
  cwd: ROOT,
  overrideConfig: {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: false } },
    rules: { '@typescript-eslint/no-floating-promises': 'off' },
  },
});

async function problems(file: string, code: string): Promise<string[]> {
  const [r] = await eslint.lintText(code, { filePath: file });
  return (r?.messages ?? []).map((m) => `${m.ruleId}: ${m.message}`);
}

describe('import zones', () => {
  it.each([
    ['dag/x.ts', "import pg from 'pg';\nexport const p = pg;\n"],
    ['dag/x.ts', "import { readFileSync } from 'node:fs';\nexport const r = readFileSync;\n"],
    ['dag/x.ts', "import { QueueClient } from '@azure/storage-queue';\nexport const q = QueueClient;\n"],
    ['dag/x.ts', "import { getJob } from '../db';\nexport const g = getJob;\n"],
    ['orchestrations/x.ts', "import pg from 'pg';\nexport const p = pg;\n"],
    [
      'orchestrations/x.ts',
      "import { runTasks } from '../activities/runTasks';\nexport const r = runTasks;\n",
    ],
    ['orchestrations/x.ts', "import { getJob } from '../db';\nexport const g = getJob;\n"],
    ['devhost/x.ts', "import { decide } from '../dag/decide';\nexport const d = decide;\n"],
    ['db/x.ts', "import { services } from '../functions/services';\nexport const s = services;\n"],
    ['handlers/x.ts', "import { services } from '../functions/services';\nexport const s = services;\n"],
    [
      'handlers/raster/x.ts',
      "import { runTasks } from '../../activities/runTasks';\nexport const r = runTasks;\n",
    ],
    ['handlers/x.ts', "import { ACTIVITY } from '../activities/contracts';\nexport const a = ACTIVITY;\n"],
    ['handlers/x.ts', "import { startDevHost } from '../devhost';\nexport const s = startDevHost;\n"],
    ['handlers/x.ts', "import { runCli } from '../cli/main';\nexport const r = runCli;\n"],
    ['functions/x.ts', "import { startDevHost } from '../devhost';\nexport const s = startDevHost;\n"],
    ['functions/x.ts', "import { runCli } from '../cli/main';\nexport const r = runCli;\n"],
    [
      'functions/x.ts',
      "import { startContainerWorker } from '../container-worker';\nexport const s = startContainerWorker;\n",
    ],
    ['cli/x.ts', "import { dagJob } from '../orchestrations/dagJob';\nexport const d = dagJob;\n"],
    ['cli/x.ts', "import { runTasks } from '../activities/runTasks';\nexport const r = runTasks;\n"],
    ['lib/x.ts', "import { getJob } from '../db';\nexport const g = getJob;\n"],
    ['lib/x.ts', "import { suggest } from '../dag/suggest';\nexport const s = suggest;\n"],
    ['lib/io/x.ts', "import { emitLog } from '../../handlers/telemetry';\nexport const e = emitLog;\n"],
    ['lib/x.ts', "import { readFileSync } from 'node:fs';\nexport const r = readFileSync;\n"],
    ['dag/x.ts', "import { createLogger } from '../lib/io/logger';\nexport const c = createLogger;\n"],
    [
      'orchestrations/x.ts',
      "import { QueueDirectory } from '../lib/io/queueDirectory';\nexport const q = QueueDirectory;\n",
    ],
  ])('%s: %s fails lint', async (file, code) => {
    expect((await problems(file, code)).some((p) => p.startsWith('no-restricted-imports'))).toBe(true);
  });

  it('allows what the architecture allows', async () => {
    expect(
      await problems(
        'orchestrations/x.ts',
        "import { ACTIVITY } from '../activities/contracts';\nexport const a = ACTIVITY;\n",
      ),
    ).toEqual([]);
    expect(await problems('dag/x.ts', "import { z } from 'zod';\nexport const s = z.string();\n")).toEqual(
      [],
    );
    for (const [file, code] of [
      ['functions/x.ts', "import { runTasks } from '../activities/runTasks';\nexport const r = runTasks;\n"],
      ['handlers/raster/x.ts', "import { getJob } from '../../db';\nexport const g = getJob;\n"],
      ['cli/x.ts', "import { startDevHost } from '../devhost';\nexport const s = startDevHost;\n"],
      ['dag/x.ts', "import { toBase64 } from '../lib/base64';\nexport const b = toBase64;\n"],
      ['devhost/x.ts', "import { createLogger } from '../lib/io/logger';\nexport const c = createLogger;\n"],
      ['lib/io/x.ts', "import { readFileSync } from 'node:fs';\nexport const r = readFileSync;\n"],
      ['lib/io/x.ts', "import { toBase64 } from '../base64';\nexport const b = toBase64;\n"],
    ]) {
      expect(await problems(file!, code!), file).toEqual([]);
    }
  });
});

describe('pg only in db/', () => {
  const usesPg = "import pg from 'pg';\nexport const p = new pg.Pool();\n";
  const pgProblems = async (file: string, code: string) =>
    (await problems(file, code)).filter((p) => p.startsWith('@typescript-eslint/no-restricted-imports'));

  it.each([
    'functions/x.ts',
    'handlers/x.ts',
    'handlers/raster/x.ts',
    'activities/x.ts',
    'cli/x.ts',
    'container-worker/x.ts',
    'devhost/x.ts',
    'lib/io/x.ts',
  ])('%s may not import pg', async (file) => {
    expect(await pgProblems(file, usesPg)).not.toEqual([]);
    expect(await pgProblems(file, "import { Pool } from 'pg-pool';\nexport const p = Pool;\n")).not.toEqual(
      [],
    );
  });

  it('db/ and the dev host store may; a type-only import (a pool in a signature) is fine anywhere', async () => {
    expect(await problems('db/x.ts', usesPg)).toEqual([]);
    expect(await problems('devhost/store/x.ts', usesPg)).toEqual([]);
    expect(await problems('functions/x.ts', "import type pg from 'pg';\nexport type P = pg.Pool;\n")).toEqual(
      [],
    );
  });
});

describe('determinism in dag/, orchestrations/ and the pure lib/', () => {
  it.each([
    ['Date.now()', 'export const t = Date.now();\n'],
    ['new Date()', 'export const t = new Date();\n'],
    ['Math.random()', 'export const r = Math.random();\n'],
    ['process.env', 'export const e = process.env.X;\n'],
    ['setTimeout', 'setTimeout(() => undefined, 1);\n'],
  ])('%s fails lint', async (_name, code) => {
    for (const dir of ['dag', 'orchestrations', 'lib']) {
      expect(
        (await problems(`${dir}/x.ts`, code)).some((p) => p.startsWith('no-restricted-syntax')),
        dir,
      ).toBe(true);
    }
    expect(await problems('functions/x.ts', code)).toEqual([]);
  });

  it('new Date(ms) from an argument is fine', async () => {
    expect(await problems('dag/x.ts', 'export const t = (ms: number) => new Date(ms);\n')).toEqual([]);
  });
});

describe('type-aware rules', () => {
  const typed = new ESLint({ cwd: ROOT });
  it('a promise that is neither awaited nor handled fails lint; void, await and .catch pass', async () => {
    const lint = async (code: string) => {
      const [r] = await typed.lintText(code, { filePath: path.join(ROOT, 'cli', 'parsePort.ts') });
      return (r?.messages ?? []).map((m) => m.ruleId);
    };
    const f = 'async function f(): Promise<number> {\n  return 1;\n}\n';
    expect(await lint(`${f}export function g(): void {\n  f();\n}\n`)).toContain(
      '@typescript-eslint/no-floating-promises',
    );
    for (const ok of ['void f();', 'await f();', 'f().catch(() => undefined);']) {
      expect(await lint(`${f}export async function g(): Promise<void> {\n  ${ok}\n}\n`)).toEqual([]);
    }
  }, 120_000);
});

describe('small modules', () => {
  const lines = (n: number) =>
    Array.from({ length: n }, (_, i) => `export const v${i} = ${i};`).join('\n') + '\n';

  it.each(['dag/x.ts', 'functions/x.ts', 'container-worker/x.ts', 'devhost/x.ts', 'lib/x.ts'])(
    'a production file over 500 lines is an error (%s)',
    async (file) => {
      expect(await problems(file, lines(501))).toContain(
        'max-lines: File has too many lines (501). Maximum allowed is 500.',
      );
      expect((await problems(file, lines(500))).filter((p) => p.startsWith('max-lines'))).toEqual([]);
    },
  );

  it('tests and benchmarks may be longer', async () => {
    expect(
      (await problems('test/unit/x.test.ts', lines(600))).filter((p) => p.startsWith('max-lines')),
    ).toEqual([]);
    expect((await problems('bench/x.bench.ts', lines(600))).filter((p) => p.startsWith('max-lines'))).toEqual(
      [],
    );
  });
});
