// CPU time of other processes (Linux /proc/<pid>/stat: utime + stime), for benchmarks whose work is
// shared with helpers on the same machine — Azurite, the Postgres server — so that each one's cost
// is reported apart from the product's. Null where /proc is not available.
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** CPU seconds a process has used so far (null: no such process, or no /proc). */
export function processCpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which may hold spaces: state is field 3, utime 14, stime 15.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

/** CPU seconds used so far by every process named `name` (e.g. the Postgres server's backends), by pid. */
export function cpuSecondsByPid(name: string): Map<number, number> {
  const out = new Map<number, number>();
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return out;
  }
  for (const p of pids) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) !== name) continue;
      const s = processCpuSeconds(Number(p));
      if (s !== null) out.set(Number(p), s);
    } catch {
      // the process ended meanwhile
    }
  }
  return out;
}

/** CPU seconds the processes named `name` used between two cpuSecondsByPid snapshots (new ones count whole). */
export function cpuSecondsBetween(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, s] of after) total += s - (before.get(pid) ?? 0);
  return total;
}
