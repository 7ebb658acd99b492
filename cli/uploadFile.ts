// `dagmaster upload <file> <container>/<blob>`: puts a file into blob storage — the storage of a
// running local stack, AzureWebJobsStorage / DAG_STORAGE_CONNECTION when set, else a temporary
// Azurite on the local stack's data directory (.data/azurite), so `dagmaster run` finds it.
import { BlobServiceClient } from '@azure/storage-blob';
import { statSync } from 'node:fs';
import path from 'node:path';
import { launchAzurite } from '../devhost';
import { readStackFile } from './stackFile';

/** <container>/<blob>: a container name (3-63 lowercase letters, digits, dashes), a blob path. */
export const BLOB_TARGET = /^([a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])?)\/(.+)$/;

export async function uploadFile(
  file: string,
  target: string,
  opts: { say?: (s: string) => void; root?: string } = {},
): Promise<{ bytes: number; url: string }> {
  const m = BLOB_TARGET.exec(target);
  if (!m)
    throw new Error(
      `"${target}" is not <container>/<blob> (container: 3-63 lowercase letters, digits, dashes)`,
    );
  const [, container, blob] = m as unknown as [string, string, string];
  if (blob.split('/').some((p) => p === '..' || p === '.'))
    throw new Error(`blob name "${blob}" must not contain . or .. segments`);
  const size = statSync(file).size;
  const root = opts.root ?? process.cwd();
  let conn = process.env.DAG_STORAGE_CONNECTION ?? process.env.AzureWebJobsStorage;
  let stop: (() => Promise<void>) | undefined;
  if (!conn || conn === 'UseDevelopmentStorage=true') {
    const running = readStackFile(root);
    if (running) conn = running.storageConnectionString;
    else {
      opts.say?.('starting Azurite on .data/azurite for the upload…');
      const a = await launchAzurite({ location: path.join(root, '.data', 'azurite') });
      conn = a.connectionString;
      stop = () => a.stop();
    }
  }
  try {
    const service = BlobServiceClient.fromConnectionString(conn);
    const c = service.getContainerClient(container);
    await c.createIfNotExists();
    const b = c.getBlockBlobClient(blob);
    await b.uploadFile(file, { blockSize: 8 * 1024 * 1024, concurrency: 4 });
    return { bytes: size, url: b.url };
  } finally {
    await stop?.();
  }
}
