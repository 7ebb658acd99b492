// Packs the task messages of one enqueue call into queue messages: in order, per queue, at most
// `perMessage(queue)` tasks in one, and each within a Storage Queue message once encoded
// ({v: 1, tasks: […]}: lib/containerMessages ContainerTaskBatchSchema). A message too big to share
// goes alone (its own size was checked when it was built: params_in_db).
import { QUEUE_MESSAGE_MAX_BYTES, TASKS_PER_MESSAGE_MAX } from '../lib/containerMessages';

const EMPTY_BATCH_JSON_BYTES = JSON.stringify({ v: 1, tasks: [] }).length;

/** The size on the queue (base64) of {"v":1,"tasks":[a,b,…]} whose tasks' JSON sizes add up to jsonBytes. */
const batchBytes = (jsonBytes: number, count: number) =>
  4 * Math.ceil((EMPTY_BATCH_JSON_BYTES + jsonBytes + count - 1) / 3);

export function packTaskMessages<T>(
  items: readonly T[],
  queueOf: (item: T) => string,
  messageOf: (item: T) => unknown,
  perMessage: (queue: string) => number,
): T[][] {
  const packs: T[][] = [];
  const open = new Map<string, { pack: T[]; bytes: number }>();
  for (const item of items) {
    const queue = queueOf(item);
    const limit = Math.min(TASKS_PER_MESSAGE_MAX, Math.max(1, perMessage(queue)));
    const bytes = Buffer.byteLength(JSON.stringify(messageOf(item)), 'utf8');
    const current = open.get(queue);
    if (
      current &&
      current.pack.length < limit &&
      batchBytes(current.bytes + bytes, current.pack.length + 1) <= QUEUE_MESSAGE_MAX_BYTES
    ) {
      current.pack.push(item);
      current.bytes += bytes;
      continue;
    }
    const pack = [item];
    packs.push(pack);
    open.set(queue, { pack, bytes });
  }
  return packs;
}
