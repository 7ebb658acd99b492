#!/usr/bin/env node
'use strict';
// The dagmaster command. Runs the compiled CLI (npm ci builds it through `prepare`), unless the
// TypeScript sources beside it changed since that build — in a working checkout dist/ goes stale as
// soon as a file is edited, and `run`, `start` or `db generate-migration` would then use the old
// code and models without a word — or there is no dist/: then it runs the sources through tsx.
const path = require('node:path');
const fs = require('node:fs');

const root = path.join(__dirname, '..');
const compiled = path.join(root, 'dist', 'cli', 'main.js');
/** The folders tsconfig.build.json compiles. */
const SOURCES = [
  'activities',
  'cli',
  'container-worker',
  'dag',
  'db',
  'devhost',
  'functions',
  'handlers',
  'lib',
  'orchestrations',
];

/** True when a source file is newer than the build (a few ms for the ~330 files). */
function changedSince(builtMs) {
  const stack = SOURCES.map((d) => path.join(root, d));
  while (stack.length) {
    const dir = stack.pop();
    let entries;
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) stack.push(p);
      else if (e.name.endsWith('.ts') && fs.statSync(p).mtimeMs > builtMs) return true;
    }
  }
  return false;
}

let builtMs;
try {
  builtMs = fs.statSync(compiled).mtimeMs;
} catch {
  builtMs = undefined;
}
if (builtMs !== undefined && !changedSince(builtMs)) {
  require(compiled).main(process.argv.slice(2));
} else {
  require('tsx/cjs');
  require(path.join(root, 'cli', 'main.ts')).main(process.argv.slice(2));
}
