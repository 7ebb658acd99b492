// Writes a benchmark result to bench/results/<name>.json with the machine and the date, so every
// recorded number says where and when it was measured.
import { writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface BenchRecord {
  name: string;
  /** What the issue asks for, e.g. "≥ 1000 children/s". */
  target?: string;
  /** Whether the measured numbers meet the target (undefined when there is no target). */
  pass?: boolean;
  results: Record<string, unknown>;
  notes?: string;
}

export function machine(): Record<string, unknown> {
  const cpus = os.cpus();
  return {
    hostname: os.hostname(),
    cpus: cpus.length,
    cpuModel: cpus[0]?.model,
    memGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    // The machine is shared (other processes, other benchmarks): load average when the result was
    // recorded (1, 5, 15 min), so that noisy numbers can be told apart.
    loadAvg: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

export function record(r: BenchRecord): string {
  const dir = path.join(__dirname, '..', 'results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${r.name}.json`);
  const body = { ...r, date: new Date().toISOString(), machine: machine() };
  writeFileSync(file, JSON.stringify(body, null, 2) + '\n');
  console.log(
    `${r.name}: ${JSON.stringify(r.results)}${r.pass === undefined ? '' : r.pass ? ' PASS' : ' FAIL'}`,
  );
  return file;
}

/** Median of a list of numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
