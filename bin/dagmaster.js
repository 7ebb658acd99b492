#!/usr/bin/env node
'use strict';
// The dagmaster command. Runs the compiled CLI (npm ci builds it through `prepare`); in a checkout
// without dist/ it falls back to the TypeScript sources through tsx.
const path = require('node:path');
const fs = require('node:fs');

const compiled = path.join(__dirname, '..', 'dist', 'cli', 'main.js');
if (fs.existsSync(compiled)) {
  require(compiled).main(process.argv.slice(2));
} else {
  require('tsx/cjs');
  require(path.join(__dirname, '..', 'cli', 'main.ts')).main(process.argv.slice(2));
}
