// `npm run bench [name-filter]`: runs every bench/*.bench.ts in its own process (so peak RSS and GC are
// per benchmark) and lists the results written to bench/results/.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const filter = process.argv[2];
const files = readdirSync(__dirname)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => !filter || f.includes(filter))
  .sort();
let failed = 0;
for (const f of files) {
  console.log(`\n--- ${f}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--expose-gc', path.join(__dirname, f)], {
    stdio: 'inherit',
  });
  if (r.status !== 0) failed++;
}
console.log(`\n${files.length - failed} benchmarks ran, ${failed} failed`);
process.exit(failed ? 1 : 0);
