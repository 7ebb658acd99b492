// Streams a blob to a file in ranges: `concurrency` range requests of `chunkBytes` each, written at
// their offsets as the bytes arrive (memory stays at a few stream buffers whatever the blob's size).
// Every range is pinned to the blob's ETag, so a blob overwritten during the copy fails the download
// (412) instead of producing a file mixing two versions.
import type { BlobClient } from '@azure/storage-blob';
import { createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface DownloadOptions {
  size: number;
  etag?: string;
  concurrency: number;
  chunkBytes: number;
  signal?: AbortSignal;
  /** Called with the bytes written so far. */
  onProgress?: (bytes: number) => void;
}

export async function downloadBlobToFile(blob: BlobClient, file: string, o: DownloadOptions): Promise<void> {
  // Created (empty) first: every range then writes into it at its own offset.
  await (await open(file, 'w')).close();
  if (o.size === 0) return;
  const ranges: Array<[number, number]> = [];
  for (let off = 0; off < o.size; off += o.chunkBytes)
    ranges.push([off, Math.min(o.chunkBytes, o.size - off)]);
  let next = 0;
  let written = 0;
  const worker = async () => {
    while (next < ranges.length) {
      o.signal?.throwIfAborted();
      const [offset, count] = ranges[next++]!;
      const res = await blob.download(offset, count, {
        ...(o.signal ? { abortSignal: o.signal } : {}),
        ...(o.etag ? { conditions: { ifMatch: o.etag } } : {}),
        // The SDK resumes a broken body stream from where it stopped.
        maxRetryRequests: 5,
      });
      const body = res.readableStreamBody;
      if (!body) throw new Error(`blob ${blob.name}: range ${offset}+${count} returned no body`);
      let got = 0;
      const counter = new Transform({
        transform(chunk: Buffer, _enc, done) {
          got += chunk.length;
          written += chunk.length;
          o.onProgress?.(written);
          done(null, chunk);
        },
      });
      await pipeline(
        body,
        counter,
        createWriteStream(file, { flags: 'r+', start: offset, highWaterMark: 1024 * 1024 }),
        o.signal ? { signal: o.signal } : {},
      );
      if (got !== count)
        throw new Error(`blob ${blob.name}: range ${offset}+${count} ended after ${got} bytes`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency, ranges.length) }, worker));
}
