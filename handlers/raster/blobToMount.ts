// raster.blob_to_mount: stages a blob on the ETL mount so that GDAL works on local disk (workers have
// little RAM; the mount is large). The file appears under its final name only when it is complete
// (written as <name>.part-…, checked, renamed), so a retry or another node never reads half a file.
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { NonRetryableError, type HandlerDefinition } from '../handlerTypes';
import { rasterHandler } from './rasterHandler';
import { isNotFound } from './blobService';
import { downloadBlobToFile } from './downloadBlob';
import { inputPath } from './mountPaths';
import { requiredString } from './rasterParams';

const CONTAINER = /^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/;
const CHUNK_BYTES = 32 * 1024 * 1024;

export const BlobToMountParams = z.looseObject({
  blob_name: requiredString('blob_name'),
  container_name: requiredString('container_name').pipe(
    z
      .string()
      .regex(
        CONTAINER,
        'container_name must be a blob container name (3-63 lowercase letters, digits, dashes)',
      ),
  ),
});
export type BlobToMountParams = z.infer<typeof BlobToMountParams>;

export const blobToMount: HandlerDefinition<BlobToMountParams> = rasterHandler({
  name: 'raster.blob_to_mount',
  description: 'Streams a blob to <DAG_WORKER_ETL_MOUNT_PATH>/input/<job_id>/<blob_name>.',
  params: BlobToMountParams,
  async run(p, ctx, config) {
    const local = inputPath(config.mountPath, ctx.jobId, p.blob_name);
    const blob = ctx.blobs
      .service(p.container_name)
      .getContainerClient(p.container_name)
      .getBlobClient(p.blob_name);
    const started = Date.now();
    let props;
    try {
      props = await blob.getProperties({ abortSignal: ctx.signal });
    } catch (err) {
      if (isNotFound(err)) {
        throw new NonRetryableError(
          `BLOB_NOT_FOUND: ${p.container_name}/${p.blob_name} does not exist in ${blob.accountName || 'the storage account'} (upload it: dagmaster upload <file> ${p.container_name}/${p.blob_name})`,
        );
      }
      throw err;
    }
    const size = props.contentLength ?? 0;
    mkdirSync(path.dirname(local), { recursive: true });
    const part = `${local}.part-${process.pid}-${randomBytes(4).toString('hex')}`;
    let lastReport = 0;
    try {
      await downloadBlobToFile(blob, part, {
        size,
        ...(props.etag ? { etag: props.etag } : {}),
        concurrency: config.transferConcurrency,
        chunkBytes: CHUNK_BYTES,
        signal: ctx.signal,
        onProgress: (bytes) => {
          // A heartbeat with progress every few seconds, not per chunk (each is a Postgres write).
          if (Date.now() - lastReport < 3000) return;
          lastReport = Date.now();
          void ctx
            .progress(bytes, size, `${(bytes / 2 ** 20).toFixed(0)} of ${(size / 2 ** 20).toFixed(0)} MiB`)
            .catch(() => undefined);
        },
      });
      const got = (await stat(part)).size;
      if (got !== size)
        throw new Error(`${p.container_name}/${p.blob_name}: wrote ${got} bytes, the blob has ${size}`);
      await rename(part, local);
    } finally {
      await rm(part, { force: true });
    }
    const seconds = (Date.now() - started) / 1000;
    const sizeMb = size / 2 ** 20;
    return {
      local_path: local,
      size_bytes: size,
      size_mb: Math.round(sizeMb * 1000) / 1000,
      duration_seconds: Math.round(seconds * 1000) / 1000,
      // MiB per second, as the original system reported it.
      throughput_mbps: seconds > 0 ? Math.round((sizeMb / seconds) * 100) / 100 : null,
      blob_name: p.blob_name,
      container_name: p.container_name,
      source_uri: blob.url,
      etag: props.etag ?? null,
      content_type: props.contentType ?? null,
    };
  },
});
