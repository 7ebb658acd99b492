// Partitioning a wide fan-out into chunks run by sub-orchestrations (SPEC §2: no single
// orchestration history grows without bound), with max_parallel honoured across them.
import type { JobState } from './jobState';
import type { ChunkSpec } from './initJobState';

export const DEFAULT_CHUNK_SIZE = 500;

export interface ChunkPlan {
  chunks: ChunkSpec[];
  /** How many chunks run at the same time. */
  concurrency: number;
}

/**
 * Splits children [0, count) — or only `indices` on a rerun — into chunks of at most `chunkSize`.
 * With max_parallel M, c = ceil(M / chunkSize) chunks run at once with a window of floor(M / c)
 * each, so at most M children are ever in flight across all chunks.
 */
export function planChunks(
  count: number,
  chunkSize: number,
  maxParallel?: number,
  indices?: number[],
  attempts?: number[],
): ChunkPlan {
  const size = Math.max(1, Math.floor(chunkSize));
  const chunks: ChunkSpec[] = [];
  if (indices) {
    const attemptOf = new Map(indices.map((i, k) => [i, attempts?.[k] ?? 0]));
    const byChunk = new Map<number, number[]>();
    for (const i of [...attemptOf.keys()].sort((a, b) => a - b)) {
      if (i < 0 || i >= count) continue;
      const k = Math.floor(i / size);
      const list = byChunk.get(k) ?? [];
      list.push(i);
      byChunk.set(k, list);
    }
    for (const [k, list] of [...byChunk.entries()].sort((a, b) => a[0] - b[0])) {
      chunks.push({
        from: k * size,
        to: Math.min(count, (k + 1) * size),
        indices: list,
        ...(attempts ? { attempts: list.map((i) => attemptOf.get(i)!) } : {}),
      });
    }
  } else {
    for (let from = 0; from < count; from += size) chunks.push({ from, to: Math.min(count, from + size) });
  }
  if (maxParallel === undefined) return { chunks, concurrency: Math.max(1, chunks.length) };
  const concurrency = Math.max(1, Math.min(chunks.length, Math.ceil(maxParallel / size)));
  const window = Math.max(1, Math.min(size, Math.floor(maxParallel / concurrency)));
  return { chunks: chunks.map((c) => ({ ...c, window })), concurrency };
}

export interface ChunkSummary {
  failed: number;
  failedSample: number[];
  firstError?: { key: string; error: string };
  cancelled: boolean;
}

/** What a finished chunk reports to its fan-out. */
export function chunkSummary(state: JobState, fanOut: string): ChunkSummary {
  const fan = state.fanOuts[fanOut];
  const firstError =
    state.failedNode !== undefined ? { key: state.failedNode, error: state.failedError ?? '' } : undefined;
  return {
    failed: fan?.failed ?? 0,
    failedSample: fan?.failedSample ?? [],
    ...(firstError ? { firstError } : {}),
    cancelled: state.status === 'cancelled',
  };
}
