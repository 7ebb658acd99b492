// `npm run bench [name-filter] [-- --compare]`: runs every bench/*.bench.ts in its own process (so peak
// RSS and GC are per benchmark) and lists the results written to bench/results/. With --compare, each
// result file a benchmark rewrote is printed beside its previous recording (the committed numbers):
// every number of `results`, then pass/fail, date and load average of both.
import { readdirSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const args = process.argv.slice(2);
const compare = args.includes('--compare');
const filter = args.find((a) => !a.startsWith('--'));
const resultsDir = path.join(__dirname, 'results');

type Json = Record<string, unknown>;
const readResults = (): Map<string, Json> => {
  const out = new Map<string, Json>();
  for (const f of readdirSync(resultsDir).filter((x) => x.endsWith('.json'))) {
    try {
      out.set(f, JSON.parse(readFileSync(path.join(resultsDir, f), 'utf8')) as Json);
    } catch {
      // an unreadable file has no previous numbers
    }
  }
  return out;
};

/** Every number (and boolean/string leaf) of a results object, by dotted path. */
export function leaves(v: unknown, prefix = ''): Map<string, unknown> {
  const out = new Map<string, unknown>();
  if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v as Json)) {
      for (const [kk, vv] of leaves(x, prefix ? `${prefix}.${k}` : k)) out.set(kk, vv);
    }
  } else out.set(prefix, v);
  return out;
}

const fmt = (v: unknown) => (v === undefined ? '—' : typeof v === 'string' ? v : JSON.stringify(v));

function printComparison(file: string, before: Json | undefined, after: Json): void {
  const loads = (r: Json | undefined) => fmt((r?.machine as Json | undefined)?.loadAvg);
  console.log(`\n== ${file}  (${after.target ?? 'no target'})`);
  console.log(`   ${'before'.padStart(24)} ${'now'.padStart(24)}`);
  const row = (k: string, b: unknown, a: unknown) =>
    console.log(`   ${fmt(b).padStart(24)} ${fmt(a).padStart(24)}  ${k}`);
  row('date', before?.date, after.date);
  row('load average', loads(before), loads(after));
  row('pass', before?.pass, after.pass);
  const b = leaves(before?.results);
  const a = leaves(after.results);
  for (const k of new Set([...b.keys(), ...a.keys()])) row(k, b.get(k), a.get(k));
}

const files = readdirSync(__dirname)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => !filter || f.includes(filter))
  .sort();
const before = compare ? readResults() : new Map<string, Json>();
let failed = 0;
for (const f of files) {
  console.log(`\n--- ${f}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--expose-gc', path.join(__dirname, f)], {
    stdio: 'inherit',
  });
  if (r.status !== 0) failed++;
}
if (compare) {
  for (const [file, now] of readResults()) {
    const prev = before.get(file);
    if (prev && prev.date === now.date) continue; // not rewritten by this run
    printComparison(file, prev, now);
  }
}
console.log(`\n${files.length - failed} benchmarks ran, ${failed} failed`);
process.exit(failed ? 1 : 0);
