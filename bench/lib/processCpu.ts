// CPU time of other processes (Linux /proc/<pid>/stat: utime + stime), for benchmarks whose work is
// shared with helpers on the same machine — Azurite, the Postgres server — so that each one's cost
// is reported apart from the product's. Null where /proc is not available.
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** CPU seconds a process has used so far (null: no such process, or no /proc). */
export function processCpuSeconds(pid: number): number | null {
  return readStat(pid)?.cpuSeconds ?? null;
}

/** A process's command name and CPU seconds, from one read of /proc/<pid>/stat. */
function readStat(pid: number): { name: string; cpuSeconds: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces; after it: state is field 3, utime 14, stime 15.
    const close = stat.lastIndexOf(')');
    const f = stat.slice(close + 2).split(' ');
    return {
      name: stat.slice(stat.indexOf('(') + 1, close),
      cpuSeconds: (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND,
    };
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
    const stat = readStat(Number(p)); // null: the process ended meanwhile
    if (stat?.name === name) out.set(Number(p), stat.cpuSeconds);
  }
  return out;
}

/** CPU seconds the processes named `name` used between two cpuSecondsByPid snapshots (new ones count whole). */
export function cpuSecondsBetween(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, s] of after) total += s - (before.get(pid) ?? 0);
  return total;
}
