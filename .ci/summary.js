// Reads vitest's JSON report and prints the closing line CI reads: "N passed, N failed".
// Lint/typecheck failures and a test run that crashed before writing a report count as failures.
'use strict';
const fs = require('node:fs');

const [file, extraArg, rcArg] = process.argv.slice(2);
let passed = 0;
let failed = Number(extraArg || 0);
let report = null;
try {
  report = JSON.parse(fs.readFileSync(file, 'utf8'));
} catch {
  report = null;
}
if (report) {
  passed += report.numPassedTests || 0;
  failed += (report.numFailedTests || 0) + (report.numRuntimeErrorTestSuites || 0);
  // Files that failed to load report no tests; count each such file once.
  for (const r of report.testResults || []) {
    if (r.status === 'failed' && (!r.assertionResults || r.assertionResults.length === 0)) failed += 1;
  }
  const pending = (report.numPendingTests || 0) + (report.numTodoTests || 0);
  if (pending) console.log(`(${pending} skipped or todo)`);
} else {
  failed += 1;
}
if (Number(rcArg || 0) !== 0 && failed === 0) failed = 1;
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
