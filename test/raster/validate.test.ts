// raster.validate with real GDAL on rasters generated at test time: each type is recognised with its
// profile and tiers; a raster without CRS, a float64 raster, a CRS conflict and an impossible type hint
// give the documented errors; a missing GDAL gives the documented message.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { NonRetryableError } from '../../handlers/handlerTypes';
import { classifyGdalFailure, GdalDataError } from '../../handlers/raster/gdalErrors';
import { gdalInfo } from '../../handlers/raster/gdalInfo';
import { sampleBlockPixels } from '../../handlers/raster/readSampleBlocks';
import { runGdal } from '../../handlers/raster/runGdal';
import { ValidateParams, validateRaster } from '../../handlers/raster/validateRaster';
import { describeGdal, fakeCtx, itHasGdal, makeRaster, SPECS, tempDir, type RasterName } from './support';

const mount = tempDir('validate-mnt-');
const files = {} as Record<RasterName, string>;
let savedMount: string | undefined;

beforeAll(() => {
  savedMount = process.env.DAG_WORKER_ETL_MOUNT_PATH;
  process.env.DAG_WORKER_ETL_MOUNT_PATH = mount;
  for (const name of Object.keys(SPECS) as RasterName[]) {
    try {
      files[name] = makeRaster(path.join(mount, 'input', 'job', `${name}.tif`), SPECS[name]);
    } catch {
      // without GDAL: the "installed" test reports it
    }
  }
});
afterAll(() => {
  if (savedMount === undefined) delete process.env.DAG_WORKER_ETL_MOUNT_PATH;
  else process.env.DAG_WORKER_ETL_MOUNT_PATH = savedMount;
  rmSync(mount, { recursive: true, force: true });
});

const validate = (params: Record<string, unknown>) =>
  validateRaster.run(ValidateParams.parse(params), fakeCtx()) as Promise<Record<string, any>>; // eslint-disable-line @typescript-eslint/no-explicit-any

describeGdal('raster.validate', () => {
  itHasGdal();

  it.each([
    ['rgb', 'rgb', 'high', 'jpeg', 'cubic', ['visualization', 'analysis', 'archive']],
    ['rgba', 'rgba', 'high', 'webp', 'cubic', ['visualization', 'analysis', 'archive']],
    ['dem', 'dem', 'high', 'lerc_deflate', 'average', ['analysis', 'archive']],
    ['categorical', 'categorical', 'high', 'deflate', 'mode', ['analysis', 'archive']],
    ['multispectral', 'multispectral', 'high', 'deflate', 'average', ['analysis', 'archive']],
  ] as const)(
    '%s → type %s (%s), profile %s / %s overviews, tiers %j',
    async (name, type, confidence, compression, ovr, tiers) => {
      const out = await validate({
        local_path: files[name],
        input_crs: '',
        raster_type: 'auto',
        output_tier: 'analysis',
      });
      const spec = SPECS[name];
      expect(out.valid).toBe(true);
      expect(out.raster_type).toMatchObject({ type, confidence: confidence.toUpperCase(), detected: type });
      expect(out.raster_type.evidence.length).toBeGreaterThan(1);
      expect(out.compression_profile).toMatchObject({
        compression,
        overview_resampling: ovr,
        tier: 'analysis',
      });
      expect(out.applicable_tiers).toEqual(tiers);
      expect(out.shape).toEqual([spec.height, spec.width]);
      expect(out.band_count).toBe(spec.bands);
      expect(out.source_crs).toBe(spec.srs);
      expect(out.crs_source).toBe('file_metadata');
      expect(out.errors).toEqual([]);
      // bounds are WGS 84 longitude/latitude; native_bounds in the file's CRS
      const [w, s, e, n] = out.bounds as [number, number, number, number];
      expect(w).toBeGreaterThanOrEqual(-180);
      expect(e).toBeLessThanOrEqual(180);
      expect(s).toBeGreaterThanOrEqual(-90);
      expect(n).toBeLessThanOrEqual(90);
      expect(w).toBeLessThan(e);
      expect(out.native_bounds[0]).toBe(spec.geotransform[0]);
      expect(out.estimated_compressed_mb).toBeGreaterThan(0);
      expect(out.size_mb).toBeGreaterThan(0);
    },
  );

  it('reports dtype, nodata and the bounds of a UTM raster in WGS 84', async () => {
    const out = await validate({ local_path: files.dem });
    expect(out).toMatchObject({ dtype: 'float32', nodata: -9999, source_epsg: 32633 });
    // 500 000 m E / 4 000 000 m N in UTM 33N is about 15°E 36.1°N
    expect(out.bounds[0]).toBeCloseTo(15, 2);
    expect(out.bounds[3]).toBeCloseTo(36.1447, 3);
    expect(out.compression_profile).toMatchObject({
      gdal_compress: 'LERC_DEFLATE',
      max_z_error: 0,
      reproject_resampling: 'bilinear',
    });
  });

  it('16-bit RGB cannot be JPEG: lossless deflate with a predictor, no visualization tier', async () => {
    const f = makeRaster(path.join(mount, 'input', 'job', 'rgb16.tif'), { ...SPECS.rgb, dtype: 'UInt16' });
    const out = await validate({ local_path: f });
    expect(out.raster_type.type).toBe('rgb');
    expect(out.compression_profile).toMatchObject({ compression: 'deflate', predictor: 2, lossy: false });
    expect(out.compression_profile.note).toContain('8-bit');
    expect(out.applicable_tiers).toEqual(['analysis', 'archive']);
  });

  it('archive tier is lossless; visualization for a DEM falls back to analysis with TIER_INCOMPATIBLE', async () => {
    const rgb = await validate({ local_path: files.rgb, output_tier: 'archive' });
    expect(rgb.compression_profile).toMatchObject({
      compression: 'deflate',
      level: 9,
      lossy: false,
      tier: 'archive',
    });
    const dem = await validate({ local_path: files.dem, output_tier: 'visualization' });
    expect(dem.output_tier).toBe('analysis');
    expect(dem.warnings.map((w: { code: string }) => w.code)).toContain('TIER_INCOMPATIBLE');
  });

  it('no CRS and no input_crs → CRS_MISSING (non-retryable)', async () => {
    const err = await validate({ local_path: files.nocrs, input_crs: '' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NonRetryableError);
    expect((err as Error).message).toMatch(
      /CRS_MISSING: the file has no coordinate reference system and no input_crs was given/,
    );
  });

  it('no CRS with input_crs → valid, CRS_OVERRIDE warning, crs_source user_override', async () => {
    const out = await validate({ local_path: files.nocrs, input_crs: 'EPSG:4326' });
    expect(out).toMatchObject({
      valid: true,
      crs_source: 'user_override',
      source_crs: 'EPSG:4326',
      source_epsg: 4326,
    });
    expect(out.warnings.map((w: { code: string }) => w.code)).toEqual(['CRS_OVERRIDE']);
    expect(out.bounds).toEqual([10, 49.99, 10.01, 50]);
  });

  it('input_crs conflicting with the file → CRS_MISMATCH; an equal one is fine', async () => {
    await expect(validate({ local_path: files.rgb, input_crs: 'EPSG:4326' })).rejects.toThrow(
      /CRS_MISMATCH: the file's CRS is EPSG:32633 but input_crs is EPSG:4326/,
    );
    const same = await validate({ local_path: files.rgb, input_crs: 'EPSG:32633' });
    expect(same).toMatchObject({ valid: true, crs_source: 'file_metadata', warnings: [] });
  });

  it('an unknown input_crs → CRS_INVALID', async () => {
    await expect(validate({ local_path: files.nocrs, input_crs: 'EPSG:999999' })).rejects.toThrow(
      /CRS_INVALID: "EPSG:999999"/,
    );
  });

  it('float64 → BIT_DEPTH_POLICY_VIOLATION', async () => {
    await expect(validate({ local_path: files.float64 })).rejects.toThrow(
      /BIT_DEPTH_POLICY_VIOLATION: data type float64 is not accepted/,
    );
  });

  it('strict: false reports every error in the output instead of failing', async () => {
    const f = makeRaster(path.join(mount, 'input', 'job', 'f64nocrs.tif'), {
      ...SPECS.float64,
      srs: undefined,
    });
    const out = await validate({ local_path: f, strict: 'false' });
    expect(out.valid).toBe(false);
    expect(out.errors.map((e: { code: string }) => e.code).sort()).toEqual([
      'BIT_DEPTH_POLICY_VIOLATION',
      'CRS_MISSING',
    ]);
  });

  it('a raster_type hint that cannot fit → RASTER_TYPE_MISMATCH; one that fits overrides detection', async () => {
    await expect(validate({ local_path: files.rgb, raster_type: 'dem' })).rejects.toThrow(
      /RASTER_TYPE_MISMATCH: raster_type "dem" does not match the file .*detected rgb.*dem needs a single band/,
    );
    // A single-band int16 class map: detected as elevation-like, the hint says categorical.
    const f = makeRaster(path.join(mount, 'input', 'job', 'classes16.tif'), {
      ...SPECS.categorical,
      palette: undefined,
      dtype: 'Int16',
    });
    const out = await validate({ local_path: f, raster_type: 'categorical' });
    expect(out.raster_type).toMatchObject({ type: 'categorical', detected: 'dem', confidence: 'GIVEN' });
    expect(out.compression_profile).toMatchObject({ compression: 'deflate', overview_resampling: 'mode' });
    expect(out.warnings.map((w: { code: string }) => w.code)).toContain('RASTER_TYPE_OVERRIDE');
  });

  it('4 uint16 bands without alpha are multispectral; 4 uint8 bands are RGBA by convention', async () => {
    const ms = makeRaster(path.join(mount, 'input', 'job', 'rgbn.tif'), { ...SPECS.multispectral, bands: 4 });
    expect((await validate({ local_path: ms })).raster_type).toMatchObject({
      type: 'multispectral',
      confidence: 'MEDIUM',
    });
    const rgba = makeRaster(path.join(mount, 'input', 'job', 'rgbx.tif'), {
      ...SPECS.rgb,
      bands: 4,
      colorInterp: undefined,
    });
    expect((await validate({ local_path: rgba })).raster_type).toMatchObject({
      type: 'rgba',
      confidence: 'MEDIUM',
    });
  });

  it('missing file, a path outside the mount, a file GDAL cannot read, no path at all', async () => {
    await expect(validate({ local_path: path.join(mount, 'nope.tif') })).rejects.toThrow(/FILE_NOT_FOUND/);
    await expect(validate({ local_path: '/etc/hostname' })).rejects.toThrow(/outside the ETL mount/);
    const junk = path.join(mount, 'junk.tif');
    writeFileSync(junk, 'not a raster');
    await expect(validate({ local_path: junk })).rejects.toThrow(/GDAL cannot open .*junk\.tif as a raster/);
    expect(ValidateParams.safeParse({ local_path: '', input_crs: '' }).error?.issues[0]?.message).toMatch(
      /^MISSING_PARAM/,
    );
  });

  it('random bytes behind a TIFF header → non-retryable (not retried three times)', async () => {
    const junk = path.join(mount, 'random-with-header.tif');
    writeFileSync(junk, Buffer.concat([Buffer.from('II*\0', 'binary'), randomBytes(20_000)]));
    const err = await validate({ local_path: junk }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NonRetryableError);
    expect((err as NonRetryableError).retryable).toBe(false);
    expect((err as Error).message).toMatch(/GDAL cannot open .*random-with-header\.tif as a raster: .*TIFF/);
  });

  it('a truncated GeoTIFF: metadata reads fine, validation decodes sample blocks and refuses it', async () => {
    const whole = makeRaster(path.join(mount, 'input', 'job', 'whole.tif'), {
      width: 700,
      height: 600,
      bands: 3,
      dtype: 'Byte',
      srs: 'EPSG:4326',
      geotransform: [10, 0.0001, 0, 50, 0, -0.0001],
      // Noise: tiles that do not compress away, so the cut loses real data.
      value: () => Math.floor(Math.random() * 256),
      co: ['-co', 'TILED=YES', '-co', 'BLOCKXSIZE=128', '-co', 'BLOCKYSIZE=128', '-co', 'COMPRESS=DEFLATE'],
    });
    const cut = path.join(mount, 'input', 'job', 'truncated.tif');
    const bytes = readFileSync(whole);
    writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length * 0.7)));
    // The header and directory are intact: gdalinfo alone sees a valid raster.
    expect((await gdalInfo(cut)).bands).toHaveLength(3);
    expect((await validate({ local_path: whole })).valid).toBe(true);

    const err = await validate({ local_path: cut }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NonRetryableError);
    expect((err as Error).message).toMatch(/DATA_UNREADABLE: the pixel data cannot be read .*TIFF/);
    const report = await validate({ local_path: cut, strict: false });
    expect(report.valid).toBe(false);
    expect(report.errors[0]).toMatchObject({ code: 'DATA_UNREADABLE' });

    // What create_cog runs on such a file fails as non-retryable too (the same error every time).
    const cog = await runGdal('gdal_translate', ['-of', 'COG', cut, path.join(mount, 'out.tif')]).catch(
      (e: unknown) => e,
    );
    expect(cog).toBeInstanceOf(GdalDataError);
    expect((cog as GdalDataError).retryable).toBe(false);
    expect((cog as Error).message).toMatch(/TIFF.*retrying cannot help/s);
  });

  it('GDAL failures: data errors are not retryable; network, disk and memory ones are', () => {
    for (const data of [
      'ERROR 1: TIFFFillTile:Read error at row 0, col 0, tile 15; got 0 bytes, expected 131093',
      "ERROR 4: `x.tif' not recognized as a supported file format.",
      'ERROR 1: x.tif: TIFFFetchDirectory:x.tif: Can not read TIFF directory count\ngdalinfo failed - unable to open',
      'ERROR 1: ZIPDecode:Decoding error at scanline 0',
    ])
      expect(classifyGdalFailure(data), data).toBe('data');
    for (const transient of [
      'ERROR 11: HTTP response code: 503\nERROR 1: TIFFFillTile:Read error at row 0',
      'ERROR 1: curl error: Connection reset by peer',
      'ERROR 1: TIFFAppendToStrip:Write error at scanline 3\nERROR 3: Free disk space available is 0 bytes: No space left on device',
      'gdal_translate was killed by SIGKILL',
      'ERROR 2: Out of memory allocating 1 GB',
    ])
      expect(classifyGdalFailure(transient), transient).toBe('transient');
  });

  it('sample blocks: first and last always, evenly spaced between, inside the image', () => {
    expect(sampleBlockPixels(700, 600, [128, 128], 4)).toEqual([
      [64, 64], // block 0 of 6 × 5
      [576, 192], // block 10
      [192, 448], // block 19
      [699, 576], // block 29, the last: clamped to the image
    ]);
    expect(sampleBlockPixels(10, 10, [256, 256])).toEqual([[9, 9]]); // one block, clamped
    const strips = sampleBlockPixels(5000, 9000, [5000, 1]);
    expect(strips).toHaveLength(32);
    expect(strips[0]).toEqual([2500, 0]);
    expect(strips.at(-1)).toEqual([2500, 8999]);
  });

  it('GDAL missing from PATH → a non-retryable error naming the tool', async () => {
    const empty = tempDir('nopath-', mount);
    mkdirSync(empty, { recursive: true });
    const saved = process.env.PATH;
    process.env.PATH = empty;
    try {
      const err = await runGdal('gdal_translate', ['--version']).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NonRetryableError);
      expect((err as Error).message).toBe(
        'gdal_translate not found on PATH: install GDAL (apt-get install gdal-bin) or use the worker image (container-worker/Dockerfile)',
      );
      await expect(validate({ local_path: files.rgb })).rejects.toThrow(
        /^gdalinfo not found on PATH: install GDAL/,
      );
    } finally {
      process.env.PATH = saved;
    }
  });
});
