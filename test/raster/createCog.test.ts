// raster.create_cog with real GDAL and Azurite: every raster type becomes a COG that GDAL's own COG
// validator accepts, reprojected to EPSG:4326 with the band count kept (an internal mask where the
// source had no nodata), uploaded to silver-cogs with its sha256 and facts as metadata; a checkpoint
// lets a retry upload without converting again; cancel kills GDAL.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { launchAzurite } from '../../devhost';
import { CreateCogParams, createCog } from '../../handlers/raster/createCog';
import { loadRasterConfig } from '../../handlers/raster/rasterConfig';
import { buildItem } from '../../handlers/raster/stacDocuments';
import { validateStac } from '../../handlers/raster/stacValidator';
import { ValidateParams, validateRaster } from '../../handlers/raster/validateRaster';
import { isAlive } from '../worker/support';
import {
  describeGdal,
  fakeCtx,
  gdalTranslateWrapper,
  itHasGdal,
  makeRaster,
  readCalls,
  run,
  SPECS,
  tempDir,
  useAzurite,
  useEnv,
  validateCog,
  type RasterName,
} from './support';

const mount = tempDir('cog-mnt-');
const wrapDir = path.join(mount, 'bin');
const callLog = path.join(mount, 'gdal_translate.log');
const azurite = useAzurite();
useEnv(() => ({
  DAG_WORKER_ETL_MOUNT_PATH: mount,
  DAG_STORAGE_CONNECTION: azurite().connectionString,
  DAG_STORAGE_SILVER_COGS_CONTAINER: 'silver-cogs',
  PATH: `${gdalTranslateWrapper(wrapDir, callLog)}:${process.env.PATH}`,
}));
const files = {} as Record<RasterName, string>;
beforeAll(() => {
  for (const name of Object.keys(SPECS) as RasterName[]) {
    try {
      files[name] = makeRaster(path.join(mount, 'input', 'job1', 'uploads', `${name}.tif`), SPECS[name]);
    } catch {
      // without GDAL: the "installed" test reports it
    }
  }
});
afterAll(() => rmSync(mount, { recursive: true, force: true }));

type Out = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const validate = (local_path: string, extra: Record<string, unknown> = {}) =>
  validateRaster.run(ValidateParams.parse({ local_path, ...extra }), fakeCtx()) as Promise<Out>;
const cog = (params: Record<string, unknown>, ctx = fakeCtx({ jobId: 'job1', nodeId: 'create_cog' })) =>
  createCog.run(CreateCogParams.parse(params), ctx) as Promise<Out>;

async function download(
  container: string,
  blob: string,
): Promise<{ file: string; metadata: Record<string, string> }> {
  const c = BlobServiceClient.fromConnectionString(azurite().connectionString)
    .getContainerClient(container)
    .getBlobClient(blob);
  const file = path.join(tempDir('dl-', mount), path.basename(blob));
  await c.downloadToFile(file);
  const props = await c.getProperties();
  return { file, metadata: props.metadata ?? {} };
}

const gdalinfo = (file: string) => JSON.parse(run('gdalinfo', ['-json', file])) as Out;

describeGdal('raster.create_cog', () => {
  itHasGdal();

  it.each([
    ['rgb', {}, 'JPEG', 3],
    ['rgba', {}, 'WEBP', 4],
    ['dem', {}, 'LERC_DEFLATE', 1],
    ['categorical', {}, 'DEFLATE', 1],
    ['multispectral', {}, 'DEFLATE', 6],
    ['nocrs', { input_crs: 'EPSG:4326' }, 'JPEG', 3],
  ] as const)(
    '%s → a valid COG in EPSG:4326 (%j), %s, %i bands, uploaded with checksum and facts',
    async (name, vparams, compress, bands) => {
      const v = await validate(files[name], vparams);
      const out = await cog({
        local_path: files[name],
        validation: v,
        target_crs: 'EPSG:4326',
        output_tier: 'analysis',
        output_folder: '',
      });
      expect(out).toMatchObject({
        cog_container: 'silver-cogs',
        cog_blob: `uploads/${name}_cog.tif`,
        target_crs: 'EPSG:4326',
        reprojected: name !== 'categorical' && name !== 'nocrs',
        raster_type: v.raster_type.type,
        epsg: 4326,
        cog_local_path: null,
      });
      expect(out.file_checksum).toMatch(/^1220[0-9a-f]{64}$/);
      const { file, metadata } = await download(out.cog_container, out.cog_blob);
      const check = validateCog(file);
      expect(check.valid, check.output).toBe(true);
      expect(out.file_checksum).toBe(`1220${createHash('sha256').update(readFileSync(file)).digest('hex')}`);
      expect(out.size_bytes).toBe(readFileSync(file).length);
      expect(metadata.file_checksum).toBe(out.file_checksum);
      const facts = JSON.parse(metadata.raster_info!);
      expect(facts).toMatchObject({ epsg: 4326, shape: out.shape, bbox: out.bbox });
      const info = gdalinfo(file);
      expect(info.metadata.IMAGE_STRUCTURE.COMPRESSION).toContain(compress === 'JPEG' ? 'JPEG' : compress);
      expect(info.bands).toHaveLength(bands);
      expect(info.stac['proj:epsg']).toBe(4326);
      // The facts (computed from the grid, not read back) are those of the written file.
      expect(facts.shape).toEqual([info.size[1], info.size[0]]);
      const gt = info.geoTransform as number[];
      [gt[1], gt[2], gt[0], gt[4], gt[5], gt[3]].forEach((x, i) =>
        expect(facts.transform[i]).toBeCloseTo(x!, 9),
      );
      expect(facts.overview_levels).toBe(info.bands[0].overviews?.length ?? 0);
      // Outside the footprint of a reprojected source without nodata: a mask, not an alpha band.
      if (name === 'rgb' || name === 'multispectral')
        expect(info.bands[0].mask.flags).toContain('PER_DATASET');
      if (name === 'dem') expect(info.bands[0].noDataValue).toBe(-9999);
      // The local COG is gone after the upload; the mount keeps only the input.
      expect(existsSync(path.join(mount, 'output', 'job1', 'create_cog', `${name}_cog.tif`))).toBe(false);
    },
  );

  it('a scene across the antimeridian (UTM 60S, Fiji): bounds west > east, a COG with continuous longitudes, a split STAC geometry', async () => {
    // x 700–900 km in UTM zone 60S runs from 178.9°E to 179.2°W.
    const file = makeRaster(path.join(mount, 'input', 'job1', 'uploads', 'fiji.tif'), {
      width: 400,
      height: 300,
      bands: 3,
      dtype: 'Byte',
      srs: 'EPSG:32760',
      geotransform: [700_000, 500, 0, 8_150_000, 0, -500],
      colorInterp: ['Red', 'Green', 'Blue'],
    });
    const v = await validate(file);
    const [w, s, e, n] = v.bounds as [number, number, number, number];
    expect(w).toBeGreaterThan(178.8);
    expect(e).toBeLessThan(-179.1);
    expect(e).toBeGreaterThan(-179.3);
    expect([s, n].every((y) => y > -18.2 && y < -16.6)).toBe(true);

    const out = await cog({ local_path: file, validation: v, target_crs: 'EPSG:4326', output_folder: '' });
    const { file: cogFile } = await download(out.cog_container, out.cog_blob);
    const check = validateCog(cogFile);
    expect(check.valid, check.output).toBe(true);
    const info = gdalinfo(cogFile);
    // GDAL alone writes this scene as a 360°-wide strip a few pixels high; here the grid keeps the
    // scene's shape and runs past 180°.
    const [width, height] = info.size as [number, number];
    expect(width).toBeGreaterThan(300);
    expect(height).toBeGreaterThan(200);
    const gt = info.geoTransform as number[];
    expect(gt[0]).toBeCloseTo(w, 1);
    expect(gt[0]! + gt[1]! * width).toBeGreaterThan(180);
    expect(out.bbox[0]).toBeGreaterThan(out.bbox[2]); // west > east: across the antimeridian
    expect(out.bbox[0]).toBeCloseTo(w, 2);
    expect(out.bbox[2]).toBeCloseTo(e, 1);

    const item = buildItem(loadRasterConfig(process.env), {
      id: 'fiji',
      collectionId: 'pacific',
      datetime: '2026-11-27T00:00:00Z',
      href: 'https://example.com/fiji.tif',
      facts: out as never,
    });
    expect(item.geometry).toMatchObject({ type: 'MultiPolygon' });
    const polys = (item.geometry as { coordinates: number[][][][] }).coordinates;
    expect(polys.map((p) => [p[0]![0]![0], p[0]![1]![0]])).toEqual([
      [out.bbox[0], 180],
      [-180, out.bbox[2]],
    ]);
    expect(validateStac(item, 'item')).toEqual({ valid: true, errors: [] });
  });

  it('a polar scene (EPSG:3031 round the South Pole) is every longitude down to -90, not an antimeridian crossing', async () => {
    const file = makeRaster(path.join(mount, 'input', 'job1', 'uploads', 'pole.tif'), {
      width: 200,
      height: 200,
      bands: 1,
      dtype: 'Float32',
      srs: 'EPSG:3031',
      geotransform: [-1_000_000, 10_000, 0, 1_000_000, 0, -10_000],
      nodata: -9999,
    });
    const v = await validate(file);
    expect(v.bounds[0]).toBe(-180);
    expect(v.bounds[1]).toBe(-90);
    expect(v.bounds[2]).toBe(180);
    expect(v.bounds[3]).toBeGreaterThan(-78);
    expect(v.bounds[3]).toBeLessThan(-76);
    const out = await cog({ local_path: file, validation: v, target_crs: 'EPSG:4326', output_folder: '' });
    const { file: cogFile } = await download(out.cog_container, out.cog_blob);
    const info = gdalinfo(cogFile);
    const gt = info.geoTransform as number[];
    const [width, height] = info.size as [number, number];
    // GDAL's own extent: the whole ring of longitudes, down to (nearly) the pole.
    expect(gt[0]).toBeLessThan(-179);
    expect(gt[0]! + gt[1]! * width).toBeGreaterThan(179);
    expect(gt[3]! + gt[5]! * height).toBeLessThan(-89);
    expect(out.bbox[0]).toBeLessThan(out.bbox[2]);
  });

  it('with DAG_STORAGE_SILVER_CONNECTION the COG goes to the silver account, not the input account', async () => {
    const silver = await launchAzurite();
    process.env.DAG_STORAGE_SILVER_CONNECTION = silver.connectionString;
    try {
      const v = await validate(files.rgb);
      const out = await cog({
        local_path: files.rgb,
        validation: v,
        output_folder: 'separate-account',
        target_crs: 'EPSG:4326',
      });
      expect(out.cog_url.startsWith(silver.blobEndpoint)).toBe(true);
      const inSilver = BlobServiceClient.fromConnectionString(silver.connectionString)
        .getContainerClient('silver-cogs')
        .getBlobClient(out.cog_blob);
      const inInput = BlobServiceClient.fromConnectionString(azurite().connectionString)
        .getContainerClient('silver-cogs')
        .getBlobClient(out.cog_blob);
      expect(await inSilver.exists()).toBe(true);
      expect(await inInput.exists()).toBe(false);
      expect((await inSilver.getProperties()).metadata?.file_checksum).toBe(out.file_checksum);
    } finally {
      delete process.env.DAG_STORAGE_SILVER_CONNECTION;
      await silver.stop();
    }
  });

  it('a larger raster gets overviews (and stays valid); output_folder prefixes the blob', async () => {
    const big = makeRaster(path.join(mount, 'input', 'job1', 'big.tif'), {
      ...SPECS.rgb,
      width: 1500,
      height: 1100,
    });
    const v = await validate(big);
    const out = await cog({
      local_path: big,
      validation: v,
      target_crs: 'native',
      output_folder: 'project/2026',
    });
    expect(out).toMatchObject({ cog_blob: 'project/2026/big_cog.tif', reprojected: false, epsg: 32633 });
    expect(out.overview_levels).toBeGreaterThanOrEqual(1);
    const { file } = await download('silver-cogs', out.cog_blob);
    const check = validateCog(file);
    expect(check.valid, check.output).toBe(true);
    expect(gdalinfo(file).bands[0].overviews.length).toBe(out.overview_levels);
  });

  it('output_tier archive on imagery validated for analysis: lossless deflate', async () => {
    const v = await validate(files.rgb);
    const out = await cog({
      local_path: files.rgb,
      validation: v,
      output_tier: 'archive',
      output_folder: 'archive',
    });
    expect(out.compression_profile).toMatchObject({ compression: 'deflate', level: 9, lossy: false });
    const { file } = await download('silver-cogs', out.cog_blob);
    expect(gdalinfo(file).metadata.IMAGE_STRUCTURE.COMPRESSION).toBe('DEFLATE');
  });

  it('a retry after the conversion uploads the converted COG without running GDAL again', async () => {
    const v = await validate(files.dem);
    const first = fakeCtx({ jobId: 'job1', nodeId: 'resume_cog' });
    const a = await cog(
      { local_path: files.dem, validation: v, keep_local: true, output_folder: 'resume' },
      first,
    );
    expect(first.checkpoints.map((c) => c.phase)).toEqual(['converted']);
    const before = readCalls(callLog).length;
    const second = fakeCtx({ jobId: 'job1', nodeId: 'resume_cog', checkpoint: first.checkpoints[0]! });
    const b = await cog(
      { local_path: files.dem, validation: v, keep_local: true, output_folder: 'resume' },
      second,
    );
    expect(readCalls(callLog).length).toBe(before);
    expect(b).toMatchObject({
      resumed_from_checkpoint: true,
      file_checksum: a.file_checksum,
      cog_blob: a.cog_blob,
    });
    // Different inputs: the checkpoint is not reused.
    const c = await cog(
      {
        local_path: files.dem,
        validation: v,
        keep_local: true,
        output_folder: 'resume',
        target_crs: 'native',
      },
      fakeCtx({ jobId: 'job1', nodeId: 'resume_cog', checkpoint: first.checkpoints[0]! }),
    );
    expect(c.resumed_from_checkpoint).toBe(false);
    expect(readCalls(callLog).length).toBe(before + 2);
  });

  it('invalid inputs: a failed validation, a path outside the mount, a bad output_folder', async () => {
    const bad = await validate(files.float64, { strict: false });
    expect(
      CreateCogParams.safeParse({ local_path: files.float64, validation: bad }).error?.issues[0]?.message,
    ).toMatch(/the raster failed raster.validate \(valid: false\).*BIT_DEPTH_POLICY_VIOLATION/);
    const v = await validate(files.rgb);
    await expect(cog({ local_path: '/etc/hostname', validation: v })).rejects.toThrow(
      /outside the ETL mount/,
    );
    expect(
      CreateCogParams.safeParse({ local_path: files.rgb, validation: v, output_folder: '../up' }).success,
    ).toBe(false);
    expect(CreateCogParams.safeParse({ local_path: files.rgb }).error?.issues[0]?.message).toMatch(
      /validation is required/,
    );
  });

  it('cancel while GDAL runs: the process group is killed and the attempt fails as aborted', async () => {
    const slowDir = path.join(mount, 'slowbin');
    const slowLog = path.join(mount, 'slow.log');
    gdalTranslateWrapper(slowDir, slowLog, 60);
    const saved = process.env.PATH;
    process.env.PATH = `${slowDir}:${saved}`;
    try {
      const v = await validate(files.categorical);
      const ac = new AbortController();
      const p = cog(
        { local_path: files.categorical, validation: v, output_folder: 'cancel' },
        fakeCtx({ signal: ac.signal }),
      );
      p.catch(() => undefined);
      const deadline = Date.now() + 20_000;
      while (!readCalls(slowLog).some((c) => c.kind === 'start') && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      const pid = readCalls(slowLog)[0]!.pid;
      expect(isAlive(pid)).toBe(true);
      ac.abort(new Error('The job was cancelled while the task was running'));
      const err = (await p.catch((e: unknown) => e)) as Error & { aborted?: boolean };
      expect(err.aborted).toBe(true);
      expect(err.message).toMatch(/stopped .*The job was cancelled/);
      const until = Date.now() + 10_000;
      while (isAlive(pid) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      expect(isAlive(pid)).toBe(false);
    } finally {
      process.env.PATH = saved;
    }
  });
});
