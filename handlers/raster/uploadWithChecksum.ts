// Uploads a file as a block blob while computing its sha256 in the same read: blocks are staged in
// parallel as they are read and hashed, then one commit publishes the blob with its content type
// and metadata (which may depend on the checksum). Until that commit nothing is visible, so a reader
// never sees a blob without its metadata. Files up to 32 MiB go up in one request.
import type { BlockBlobClient } from '@azure/storage-blob';
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';

export interface UploadOptions {
  blockBytes?: number;
  concurrency?: number;
  signal?: AbortSignal;
  contentType: string;
  /** Metadata for the commit, given the sha256 (hex) of the file. */
  metadata: (sha256Hex: string) => Promise<Record<string, string>> | Record<string, string>;
}

/** Files up to this size go up in a single request (held in memory meanwhile). */
const SINGLE_PUT_MAX = 32 * 2 ** 20;

/** The sha256 multihash (0x12 = sha2-256, 0x20 = 32 bytes) of a hex digest, as STAC's file:checksum writes it. */
export const multihash = (sha256Hex: string) => `1220${sha256Hex}`;

export async function uploadWithChecksum(
  blob: BlockBlobClient,
  file: string,
  o: UploadOptions,
): Promise<{ sha256: string; size: number }> {
  const concurrency = o.concurrency ?? 4;
  const fh = await open(file, 'r');
  const fileSize = (await fh.stat()).size;
  if (fileSize <= SINGLE_PUT_MAX) {
    // Small enough to hold: one Put Blob request instead of staged blocks and a commit.
    try {
      const buf = await fh.readFile();
      const sha256 = createHash('sha256').update(buf).digest('hex');
      await blob.upload(buf, buf.length, {
        blobHTTPHeaders: { blobContentType: o.contentType },
        metadata: await o.metadata(sha256),
        ...(o.signal ? { abortSignal: o.signal } : {}),
      });
      return { sha256, size: buf.length };
    } finally {
      await fh.close();
    }
  }
  // Blocks of 8 MiB (50,000 blocks: blobs up to 390 GiB), at least `concurrency` of them.
  const blockBytes =
    o.blockBytes ??
    Math.min(8 * 2 ** 20, Math.max(2 ** 20, Math.ceil(fileSize / concurrency / 2 ** 16) * 2 ** 16));
  const hash = createHash('sha256');
  const ids: string[] = [];
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  let size = 0;
  try {
    for (let i = 0; ; i++) {
      o.signal?.throwIfAborted();
      if (failure) throw failure;
      const buf = Buffer.allocUnsafe(blockBytes);
      const { bytesRead } = await fh.read(buf, 0, blockBytes, null);
      if (bytesRead === 0) break;
      const block = bytesRead === blockBytes ? buf : buf.subarray(0, bytesRead);
      hash.update(block);
      size += bytesRead;
      const id = Buffer.from(String(i).padStart(6, '0')).toString('base64');
      ids.push(id);
      const p: Promise<void> = blob
        .stageBlock(id, block, bytesRead, o.signal ? { abortSignal: o.signal } : {})
        .then(
          () => undefined,
          (err: unknown) => {
            failure ??= err;
          },
        )
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
      if (inFlight.size >= concurrency) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    if (failure) throw failure;
  } finally {
    await fh.close();
  }
  const sha256 = hash.digest('hex');
  const metadata = await o.metadata(sha256);
  await blob.commitBlockList(ids, {
    blobHTTPHeaders: { blobContentType: o.contentType },
    metadata,
    ...(o.signal ? { abortSignal: o.signal } : {}),
  });
  return { sha256, size };
}
