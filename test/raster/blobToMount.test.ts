// raster.blob_to_mount against Azurite: the blob lands byte for byte under input/<job>/<blob name>
// (also in several parallel ranges), names that would leave the mount are refused before anything is
// written, a missing blob is a non-retryable BLOB_NOT_FOUND; raster.validate reads a blob in place
// through /vsiaz/.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NonRetryableError } from '../../handlers/handlerTypes';
import { BlobToMountParams, blobToMount } from '../../handlers/raster/blobToMount';
import { downloadBlobToFile } from '../../handlers/raster/downloadBlob';
import { checkBlobName } from '../../handlers/raster/mountPaths';
import { ValidateParams, validateRaster } from '../../handlers/raster/validateRaster';
import { describeGdal, fakeCtx, itHasGdal, makeRaster, SPECS, tempDir, useAzurite, useEnv } from './support';

const mount = tempDir('b2m-mnt-');
const azurite = useAzurite();
useEnv(() => ({ DAG_WORKER_ETL_MOUNT_PATH: mount, DAG_STORAGE_CONNECTION: azurite().connectionString }));
afterAll(() => rmSync(mount, { recursive: true, force: true }));

const container = () =>
  BlobServiceClient.fromConnectionString(azurite().connectionString).getContainerClient('bronze');
const data = randomBytes(3 * 1024 * 1024 + 123);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

beforeAll(async () => {
  await container().createIfNotExists();
  await container().getBlockBlobClient('uploads/2026/scene one.tif').uploadData(data);
});

type Out = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const stage = (params: Record<string, unknown>, jobId = 'job-b2m') =>
  blobToMount.run(BlobToMountParams.parse(params), fakeCtx({ jobId })) as Promise<Out>;

describe('raster.blob_to_mount', () => {
  it('streams the blob to <mount>/input/<job>/<blob name> and reports size and throughput', async () => {
    const out = await stage({ blob_name: 'uploads/2026/scene one.tif', container_name: 'bronze' });
    expect(out).toMatchObject({
      local_path: path.join(mount, 'input', 'job-b2m', 'uploads', '2026', 'scene one.tif'),
      size_bytes: data.length,
      size_mb: Math.round((data.length / 2 ** 20) * 1000) / 1000,
      blob_name: 'uploads/2026/scene one.tif',
      container_name: 'bronze',
      source_uri: container().getBlobClient('uploads/2026/scene one.tif').url,
    });
    expect(out.duration_seconds).toBeGreaterThanOrEqual(0);
    expect(sha(readFileSync(out.local_path))).toBe(sha(data));
    // No temporary file is left beside it; a second run overwrites in place.
    expect(readdirSync(path.dirname(out.local_path))).toEqual(['scene one.tif']);
    const again = await stage({ blob_name: 'uploads/2026/scene one.tif', container_name: 'bronze' });
    expect(statSync(again.local_path).size).toBe(data.length);
  });

  it('downloads in parallel ranges, each pinned to the ETag', async () => {
    const blob = container().getBlobClient('uploads/2026/scene one.tif');
    const props = await blob.getProperties();
    const file = path.join(mount, 'ranged.bin');
    let progress = 0;
    await downloadBlobToFile(blob, file, {
      size: data.length,
      etag: props.etag!,
      concurrency: 3,
      chunkBytes: 256 * 1024,
      onProgress: (b) => (progress = b),
    });
    expect(sha(readFileSync(file))).toBe(sha(data));
    expect(progress).toBe(data.length);
    // A blob replaced since its ETag was read: the ranged download fails instead of mixing versions.
    await container().getBlockBlobClient('uploads/2026/scene one.tif').uploadData(data);
    await expect(
      downloadBlobToFile(blob, file, {
        size: data.length,
        etag: props.etag!,
        concurrency: 2,
        chunkBytes: 1024 * 1024,
      }),
    ).rejects.toMatchObject({ statusCode: 412 });
  });

  it.each([
    ['../escape.tif', /contains a "\.\." segment/],
    ['a/../../escape.tif', /contains a "\.\." segment/],
    ['/etc/passwd', /is absolute/],
    ['a//b.tif', /empty segment/],
    ['dir/', /empty segment/],
    ['a\\..\\b.tif', /backslash/],
  ])('refuses blob name %j before writing anything', async (name, msg) => {
    const before = existsSync(path.join(mount, 'input', 'job-bad'))
      ? readdirSync(path.join(mount, 'input', 'job-bad'))
      : [];
    const err = await stage({ blob_name: name, container_name: 'bronze' }, 'job-bad').catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(NonRetryableError);
    expect((err as Error).message).toMatch(msg);
    expect(
      existsSync(path.join(mount, 'input', 'job-bad'))
        ? readdirSync(path.join(mount, 'input', 'job-bad'))
        : [],
    ).toEqual(before);
    expect(existsSync(path.join(mount, '..', 'escape.tif'))).toBe(false);
  });

  it('a missing blob or container is BLOB_NOT_FOUND (non-retryable); params are checked', async () => {
    const err = await stage({ blob_name: 'nope.tif', container_name: 'bronze' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NonRetryableError);
    expect((err as Error).message).toMatch(
      /^BLOB_NOT_FOUND: bronze\/nope.tif does not exist .*dagmaster upload <file> bronze\/nope.tif/,
    );
    await expect(stage({ blob_name: 'x.tif', container_name: 'no-such-container' })).rejects.toThrow(
      /BLOB_NOT_FOUND/,
    );
    expect(BlobToMountParams.safeParse({ blob_name: '', container_name: 'bronze' }).success).toBe(false);
    expect(BlobToMountParams.safeParse({ blob_name: 'a.tif', container_name: 'Bad_Name' }).success).toBe(
      false,
    );
    expect(checkBlobName('ok/name with spaces.tif')).toEqual([]);
  });
});

describeGdal('raster.validate on a blob in place (/vsiaz/)', () => {
  itHasGdal();
  it('blob_path <container>/<blob> is read through GDAL without staging it', async () => {
    const file = makeRaster(path.join(tempDir('vsiaz-', mount), 'dem.tif'), SPECS.dem);
    await container().getBlockBlobClient('rasters/dem.tif').uploadFile(file);
    const out = (await validateRaster.run(
      ValidateParams.parse({ blob_path: 'bronze/rasters/dem.tif' }),
      fakeCtx(),
    )) as Out;
    expect(out).toMatchObject({
      valid: true,
      source_path: '/vsiaz/bronze/rasters/dem.tif',
      raster_type: { type: 'dem' },
      size_mb: Math.round((statSync(file).size / 2 ** 20) * 1000) / 1000,
    });
    await expect(
      validateRaster.run(ValidateParams.parse({ blob_path: 'bronze/rasters/missing.tif' }), fakeCtx()),
    ).rejects.toThrow(/BLOB_RESOLVE_FAILED: blob bronze\/rasters\/missing.tif does not exist/);
  });
});
