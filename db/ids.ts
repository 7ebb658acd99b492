// Identifiers: sortable random job ids and the task id convention of SPEC §2.
import { randomBytes } from 'node:crypto';

const CROCKFORD = '0123456789abcdefghjkmnpqrstvwxyz';

/**
 * A ULID-like id: 10 characters of millisecond time then 16 random characters (80 bits), lowercase
 * Crockford base32, 26 characters in all. Ids sort by creation time, which keeps B-tree inserts local.
 */
export function newJobId(now: number = Date.now()): string {
  let t = now;
  let time = '';
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32]! + time;
    t = Math.floor(t / 32);
  }
  const bytes = randomBytes(16);
  let rand = '';
  for (let i = 0; i < 16; i++) rand += CROCKFORD[bytes[i]! % 32]!;
  return time + rand;
}

/** The id of one attempt of a node: `{job_id}_{node_id}_{attempt}` (attempt is 0-based). */
export function taskIdFor(jobId: string, nodeId: string, attempt: number): string {
  return `${jobId}_${nodeId}_${attempt}`;
}

/** The node id of a fan-out child: `<fanout_id>__<index>`. */
export function childNodeId(parentNodeId: string, index: number): string {
  return `${parentNodeId}__${index}`;
}
