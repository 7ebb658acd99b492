// Housekeeping of the shared ETL mount (input/<job>, work/<job>, output/<job>): a job's files are
// removed once the job has ended and its retention has passed. Completed and cancelled jobs go
// after `completedMs`; failed ones are kept for `failedMs` (longer) because a rerun of a failed job
// resumes from its failed nodes and reads what the earlier nodes staged. A directory whose job
// Postgres does not know (purged, or never created) goes when it is older than `failedMs`. Running
// jobs are never touched: a job's status is read again just before its files go, so a rerun that
// started during the sweep keeps them. Every replica may sweep: removal is idempotent.
import type { Dirent } from 'node:fs';
import { readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { jobEnds, type JobEnd, type Queryable } from '../db';

/** The per-job areas of the mount (handlers/raster/mountPaths.ts). */
export const ETL_AREAS = ['input', 'work', 'output'] as const;

export interface EtlRetention {
  /** After a job completed or was cancelled. */
  completedMs: number;
  /** After a job failed (it may be rerun), and for directories of unknown jobs. */
  failedMs: number;
}

export interface SweepReport {
  /** Directories removed, relative to the mount (e.g. "input/01j…"). */
  removed: string[];
  /** Job directories kept (running, or within their retention). */
  kept: number;
  /** Directories that could not be removed, with why. */
  errors: string[];
}

export async function sweepEtlMount(
  db: Queryable,
  schema: string,
  mount: string,
  retention: EtlRetention,
  now: number = Date.now(),
): Promise<SweepReport> {
  const dirs: Array<{ area: string; name: string }> = [];
  for (const area of ETL_AREAS) {
    let entries: Dirent[];
    try {
      entries = await readdir(path.join(mount, area), { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    for (const e of entries) if (e.isDirectory()) dirs.push({ area, name: e.name });
  }
  const report: SweepReport = { removed: [], kept: 0, errors: [] };
  if (!dirs.length) return report;
  const ends = new Map(
    (await jobEnds(db, schema, [...new Set(dirs.map((d) => d.name))])).map((j) => [j.jobId, j]),
  );
  const isDue = (job: JobEnd) =>
    job.endedAt !== null &&
    job.endedAt.getTime() + (job.status === 'failed' ? retention.failedMs : retention.completedMs) <= now;
  for (const d of dirs) {
    const rel = `${d.area}/${d.name}`;
    const abs = path.join(mount, d.area, d.name);
    const job = ends.get(d.name);
    let due: boolean;
    if (job) {
      // Looked at again right before the removal: a rerun may have begun since the first read.
      due = isDue(job) && (await jobEnds(db, schema, [d.name])).every(isDue);
    } else {
      // Unknown to this database: judged by age, with the longest retention.
      const s = await stat(abs).catch(() => undefined);
      due = s !== undefined && s.mtimeMs + retention.failedMs <= now;
    }
    if (!due) {
      report.kept++;
      continue;
    }
    try {
      await rm(abs, { recursive: true, force: true });
      report.removed.push(rel);
    } catch (err) {
      report.errors.push(`${rel}: ${(err as Error).message}`);
    }
  }
  return report;
}
