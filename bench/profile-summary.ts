// `npx tsx bench/profile-summary.ts <name> <file.cpuprofile> [what was profiled]`: groups the CPU time
// of a V8 profile (node --cpu-prof) by component and records it in bench/results/<name>.json, so that
// "where the time goes" is written down next to the throughput it explains.
// Not a benchmark itself (run.ts runs *.bench.ts only).
import { readFileSync } from 'node:fs';
import { record } from './lib/record';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Component of a sampled function, from its source URL. */
export function component(url: string, fn: string): string {
  if (!url) {
    if (fn === '(garbage collector)') return 'V8 garbage collector';
    if (fn === '(idle)') return 'idle';
    if (/^(writev|writeBuffer|writeLatin1String|writeUtf8String)$/.test(fn))
      return 'socket writes (HTTP and Postgres)';
    return 'V8/native other';
  }
  if (url.startsWith('node:')) return 'Node core (http, net, streams, timers)';
  const pkg = url.includes('node_modules/') ? url.split('node_modules/').pop()! : '';
  if (pkg) {
    if (/^(@azure\/(core-|storage-|abort)|@typespec|fast-xml-parser|strnum)/.test(pkg))
      return 'Azure Storage SDK (queue HTTP, XML)';
    if (/^(axios|follow-redirects|form-data)/.test(pkg)) return 'durable client HTTP to the host (axios)';
    if (/^pg/.test(pkg)) return 'Postgres driver (pg)';
    if (/^(durable-functions|@azure\/functions)/.test(pkg)) return 'durable-functions SDK (replay)';
    if (/^zod/.test(pkg)) return 'zod (validation)';
    if (/^(tsx|esbuild|get-tsconfig)/.test(pkg)) return 'tsx (module loading)';
    return `npm: ${pkg
      .split('/')
      .slice(0, pkg.startsWith('@') ? 2 : 1)
      .join('/')}`;
  }
  const m = /\/(activities|container-worker|dag|db|devhost|functions|handlers|orchestrations)\//.exec(url);
  return m ? `src/${m[1]}` : 'other';
}

function main(): void {
  const [name, file, what] = process.argv.slice(2);
  if (!name || !file) throw new Error('usage: profile-summary <name> <file.cpuprofile> [what]');
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  /** Whether a sample ran under the pg driver (its socket writes are the statements it sends). */
  const underPg = (id: number): boolean => {
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at))
      if (/node_modules\/pg(-protocol)?\//.test(byId.get(at)!.callFrame.url)) return true;
    return false;
  };
  const us = new Map<string, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const n = byId.get(p.samples[i]!)!;
    let k = component(n.callFrame.url, n.callFrame.functionName);
    // A socket write is one system call: per statement for Postgres, per request for HTTP.
    if (k === 'socket writes (HTTP and Postgres)')
      k = underPg(n.id) ? 'socket writes: Postgres statements' : 'socket writes: HTTP';
    us.set(k, (us.get(k) ?? 0) + (p.timeDeltas[i] ?? 0));
  }
  const total = [...us.values()].reduce((a, b) => a + b, 0);
  const busy = total - (us.get('idle') ?? 0);
  const rows = [...us.entries()]
    .filter(([k]) => k !== 'idle')
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => ({
      component: k,
      cpuMs: Math.round(v / 1000),
      shareOfBusy: Math.round((v / busy) * 1000) / 10,
    }));
  record({
    name,
    results: {
      profiledSeconds: Math.round(total / 1e4) / 100,
      busySeconds: Math.round(busy / 1e4) / 100,
      idleShare: Math.round(((us.get('idle') ?? 0) / total) * 1000) / 10,
      byComponent: rows,
    },
    notes: `CPU profile (node --cpu-prof) of ${what ?? file}, self time by component; one Node process.`,
  });
}

main();
