// uploadWithChecksum against real Azurite: the sha256 is computed in the same read as the upload,
// for a small file (one request) and for one above 32 MiB (parallel blocks, then one commit), and the
// blob appears only with its content type and checksum metadata.
import { createHash, randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, describe, expect, it } from 'vitest';
import { uploadWithChecksum } from '../../handlers/raster/uploadWithChecksum';
import { tempDir, useAzurite } from './support';

const MiB = 2 ** 20;
const dir = tempDir('upload-checksum-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const azurite = useAzurite();
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('uploadWithChecksum', () => {
  it.each([
    ['small (one request)', 3 * MiB + 1],
    ['above 32 MiB (blocks and a commit)', 33 * MiB + 5],
  ])('%s: content, sha256, content type and metadata', async (name, bytes) => {
    const c = BlobServiceClient.fromConnectionString(azurite().connectionString).getContainerClient('uwc');
    await c.createIfNotExists();
    const blob = c.getBlockBlobClient(`${bytes}.bin`);
    const file = path.join(dir, `${bytes}.bin`);
    const data = randomBytes(bytes);
    writeFileSync(file, data);
    let metadataFor: string | undefined;
    const r = await uploadWithChecksum(blob, file, {
      contentType: 'image/tiff; application=geotiff',
      blockBytes: name.startsWith('small') ? undefined : 4 * MiB,
      metadata: (s) => {
        metadataFor = s;
        return { file_checksum: `1220${s}` };
      },
    });
    expect(r).toEqual({ sha256: sha256(data), size: bytes });
    expect(metadataFor).toBe(sha256(data));
    expect((await blob.downloadToBuffer()).equals(data)).toBe(true);
    const props = await blob.getProperties();
    expect(props.contentType).toBe('image/tiff; application=geotiff');
    expect(props.metadata).toEqual({ file_checksum: `1220${sha256(data)}` });
  });
});
