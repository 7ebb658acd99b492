// The layout of the ETL mount (DAG_WORKER_ETL_MOUNT_PATH), shared by every worker replica:
//   input/<job_id>/<blob name>        blobs staged by raster.blob_to_mount
//   work/<job_id>/<node_id>/          intermediate files of one node (warped VRTs, partial COGs)
//   output/<job_id>/...               COGs before upload
// Scoping by job keeps two jobs on the same blob name from overwriting each other's files. No path
// a caller gives may leave the mount.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { NonRetryableError } from '../handlerTypes';

/** Checks a blob name before it becomes a path: no absolute names, no `.`/`..` or empty segments. */
export function checkBlobName(name: string): string[] {
  const problems: string[] = [];
  if (!name) problems.push('is empty');
  if (name.length > 1024) problems.push('is longer than 1024 characters');
  if (name.startsWith('/') || /^[A-Za-z]:[\\/]/.test(name)) problems.push('is absolute');
  if (name.includes('\0')) problems.push('contains a NUL character');
  if (name.includes('\\')) problems.push('contains a backslash');
  const segs = name.split('/');
  if (segs.some((s) => s === '..')) problems.push('contains a ".." segment');
  if (segs.some((s) => s === '.')) problems.push('contains a "." segment');
  if (!name.startsWith('/') && segs.some((s) => s === ''))
    problems.push('contains an empty segment ("//" or a trailing "/")');
  return problems;
}

/** A single path segment from an id (job or node id): safe characters only. */
export function safeSegment(id: string): string {
  const s = id.replace(/[^A-Za-z0-9._-]/g, '_');
  return s === '' || s === '.' || s === '..' ? '_' : s;
}

/** Throws unless `p` is inside `mount` (after resolving `..`). */
export function requireInsideMount(mount: string, p: string, what: string): string {
  const root = path.resolve(mount);
  const abs = path.resolve(root, p);
  const rel = path.relative(root, abs);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new NonRetryableError(
      `${what} ${JSON.stringify(p)} is outside the ETL mount ${root} (DAG_WORKER_ETL_MOUNT_PATH): raster handlers only read and write there`,
    );
  }
  return abs;
}

/** The staged source raster `local_path`: inside the mount and present (blob_to_mount put it there). */
export function stagedSource(mount: string, localPath: string): string {
  const src = requireInsideMount(mount, localPath, 'local_path');
  if (!existsSync(src)) {
    throw new NonRetryableError(
      `FILE_NOT_FOUND: ${src} does not exist (was raster.blob_to_mount run on this mount?)`,
    );
  }
  return src;
}

export function inputPath(mount: string, jobId: string, blobName: string): string {
  const problems = checkBlobName(blobName);
  if (problems.length) {
    throw new NonRetryableError(
      `blob_name ${JSON.stringify(blobName)} ${problems.join(', ')}: it must be a relative blob path such as "uploads/raster.tif"`,
    );
  }
  return requireInsideMount(
    mount,
    path.join('input', safeSegment(jobId), ...blobName.split('/')),
    'blob_name',
  );
}

export function workDir(mount: string, jobId: string, nodeId: string): string {
  return path.join(path.resolve(mount), 'work', safeSegment(jobId), safeSegment(nodeId));
}

export function outputDir(mount: string, jobId: string): string {
  return path.join(path.resolve(mount), 'output', safeSegment(jobId));
}

/**
 * The source's path as it was in blob storage when the file was staged by blob_to_mount
 * (input/<job>/<blob name>); otherwise just its file name. COG blob names mirror it.
 */
export function sourceRelativePath(mount: string, localPath: string): string {
  const rel = path.relative(path.join(path.resolve(mount), 'input'), path.resolve(localPath));
  if (!rel.startsWith('..') && !path.isAbsolute(rel)) {
    const parts = rel.split(path.sep);
    if (parts.length >= 2) return parts.slice(1).join('/');
  }
  return path.basename(localPath);
}

/** Joins blob path parts, dropping empty ones and stray slashes. */
export function joinBlobPath(...parts: Array<string | undefined | null>): string {
  return parts
    .filter((p): p is string => !!p)
    .flatMap((p) => p.split('/'))
    .filter((s) => s !== '' && s !== '.')
    .join('/');
}
