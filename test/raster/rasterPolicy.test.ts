// The pure parts of the raster handlers (no GDAL, no storage): type detection and profiles, the tile
// grid (property-tested: full coverage with the requested overlap), GDAL command lines, params as
// the seed workflow passes them, configuration, mount paths.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cogTranslateArgs, warpedVrtArgs } from '../../handlers/raster/cogCommands';
import {
  crossesAntimeridian,
  densifyBbox,
  lonRange,
  normalizeWgs84Bbox,
  unionBbox,
  unwrapBbox,
} from '../../handlers/raster/crsTools';
import type { BandInfo } from '../../handlers/raster/gdalInfo';
import { inputPath, joinBlobPath, sourceRelativePath } from '../../handlers/raster/mountPaths';
import { gdalAzureEnv, getBlobService } from '../../handlers/raster/blobService';
import { loadRasterConfig } from '../../handlers/raster/rasterConfig';
import { optionalString, tierParam } from '../../handlers/raster/rasterParams';
import {
  applicableTiers,
  compressionProfile,
  detectRasterType,
  estimateCompressedMb,
  hintIncompatibility,
} from '../../handlers/raster/rasterProfiles';
import { batchTiles, computeTiles } from '../../handlers/raster/tilingScheme';

const band = (dtype: string, colorInterp = 'Undefined', extra: Partial<BandInfo> = {}): BandInfo => ({
  index: 1,
  dtype,
  gdalType: dtype,
  colorInterp,
  nodata: null,
  overviewCount: 0,
  block: null,
  hasColorTable: false,
  maskFlags: [],
  ...extra,
});

describe('type detection', () => {
  const cases: Array<[BandInfo[], string, string]> = [
    [[band('uint8', 'Red'), band('uint8', 'Green'), band('uint8', 'Blue')], 'rgb', 'high'],
    [[band('uint16'), band('uint16'), band('uint16')], 'rgb', 'medium'],
    [[band('float32'), band('float32'), band('float32')], 'unknown', 'low'],
    [[band('uint8'), band('uint8'), band('uint8'), band('uint8', 'Alpha')], 'rgba', 'high'],
    [[band('uint8'), band('uint8'), band('uint8'), band('uint8')], 'rgba', 'medium'],
    [[band('uint16'), band('uint16'), band('uint16'), band('uint16')], 'multispectral', 'medium'],
    [[band('float32')], 'dem', 'high'],
    [[band('int16')], 'dem', 'medium'],
    [[band('uint8')], 'categorical', 'medium'],
    [[band('uint8', 'Palette', { hasColorTable: true })], 'categorical', 'high'],
    [[band('int16', 'Palette', { hasColorTable: true })], 'categorical', 'high'],
    [Array.from({ length: 8 }, () => band('uint16')), 'multispectral', 'high'],
    [[band('uint8'), band('uint8', 'Alpha')], 'unknown', 'low'],
  ];
  const label = (bands: BandInfo[]) =>
    bands.map((b) => `${b.dtype}${b.colorInterp === 'Undefined' ? '' : `/${b.colorInterp}`}`).join(' ');
  it.each(cases.map(([b, t, c]) => [label(b), b, t, c] as const))(
    '%s → %s (%s)',
    (_l, bands, type, confidence) => {
      const r = detectRasterType(bands);
      expect(r).toMatchObject({ type, confidence });
      expect(r.evidence[0]).toMatch(/^\d+ bands?$/);
    },
  );

  it('hints must fit the bands', () => {
    expect(hintIncompatibility('dem', [band('uint8'), band('uint8'), band('uint8')])).toBe(
      'dem needs a single band',
    );
    expect(hintIncompatibility('categorical', [band('float32')])).toBe(
      'categorical needs a single integer band',
    );
    expect(hintIncompatibility('categorical', [band('int16')])).toBeNull();
    expect(hintIncompatibility('multispectral', [band('uint16'), band('uint16'), band('uint16')])).toBeNull();
  });
});

describe('profiles, tiers and estimates', () => {
  it('the type profiles (analysis tier)', () => {
    expect(compressionProfile('rgb', 'uint8', 'analysis')).toMatchObject({
      compression: 'jpeg',
      quality: 85,
      overview_resampling: 'cubic',
      reproject_resampling: 'cubic',
      lossy: true,
    });
    expect(compressionProfile('rgba', 'uint8', 'analysis')).toMatchObject({
      compression: 'webp',
      gdal_compress: 'WEBP',
    });
    expect(compressionProfile('dem', 'float32', 'analysis')).toMatchObject({
      compression: 'lerc_deflate',
      max_z_error: 0,
      overview_resampling: 'average',
      reproject_resampling: 'bilinear',
      lossy: false,
    });
    expect(compressionProfile('categorical', 'uint8', 'analysis')).toMatchObject({
      compression: 'deflate',
      overview_resampling: 'mode',
      reproject_resampling: 'nearest',
    });
    expect(compressionProfile('categorical', 'uint8', 'analysis')).not.toHaveProperty('predictor');
    expect(compressionProfile('multispectral', 'uint16', 'analysis')).toMatchObject({
      compression: 'deflate',
      predictor: 2,
      overview_resampling: 'average',
    });
    expect(compressionProfile('unknown', 'float32', 'analysis')).toMatchObject({
      compression: 'deflate',
      predictor: 3,
      overview_resampling: 'cubic',
    });
  });

  it('archive is lossless; JPEG/WEBP need 8 bits; visualization only for 8-bit RGB/RGBA', () => {
    expect(compressionProfile('rgb', 'uint8', 'archive')).toMatchObject({
      compression: 'deflate',
      level: 9,
      predictor: 2,
      lossy: false,
    });
    expect(compressionProfile('rgba', 'uint16', 'analysis')).toMatchObject({
      compression: 'deflate',
      lossy: false,
    });
    expect(applicableTiers('rgb', 'uint8')).toEqual(['visualization', 'analysis', 'archive']);
    expect(applicableTiers('rgb', 'uint16')).toEqual(['analysis', 'archive']);
    expect(applicableTiers('dem', 'float32')).toEqual(['analysis', 'archive']);
  });

  it('the estimate: uncompressed × ratio × 4/3 for overviews', () => {
    expect(estimateCompressedMb(300, 'rgb', compressionProfile('rgb', 'uint8', 'analysis'))).toBe(40);
    expect(estimateCompressedMb(300, 'dem', compressionProfile('dem', 'float32', 'analysis'))).toBe(160);
    expect(
      estimateCompressedMb(300, 'categorical', compressionProfile('categorical', 'uint8', 'analysis')),
    ).toBe(20);
  });
});

describe('the tile grid', () => {
  it('covers every pixel, with the overlap between neighbours, no empty tile', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3000 }),
        fc.integer({ min: 1, max: 3000 }),
        fc.integer({ min: 64, max: 2048 }),
        fc.double({ min: 0, max: 0.9, noNaN: true }),
        (width, height, size, f) => {
          const overlap = Math.floor(size * f);
          const { rows, cols, tiles } = computeTiles(width, height, [0, 1, 0, 0, 0, -1], size, overlap);
          // Plain checks (an expect per tile would dominate the run time).
          const stride = size - overlap;
          const windowsOk = tiles.every(({ pixel_window: w, col, row }) => {
            return (
              w.width > 0 &&
              w.height > 0 &&
              w.width <= size &&
              w.height <= size &&
              w.x + w.width <= width &&
              w.y + w.height <= height &&
              w.x === col * stride &&
              w.y === row * stride
            );
          });
          // Columns and rows cover [0, width) × [0, height) without gaps; neighbours share `overlap` pixels.
          const row0 = tiles.filter((t) => t.row === 0);
          const col0 = tiles.filter((t) => t.col === 0);
          const overlapOk = row0.every(
            (t, i) => i === 0 || t.pixel_bounds[0] === row0[i - 1]!.pixel_bounds[2] - overlap,
          );
          return (
            tiles.length === rows * cols &&
            windowsOk &&
            overlapOk &&
            row0[row0.length - 1]!.pixel_bounds[2] === width &&
            col0[col0.length - 1]!.pixel_bounds[3] === height
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  it('ids, geographic bounds from the geotransform, batches', () => {
    const g = computeTiles(10, 6, [100, 2, 0, 50, 0, -2], 4, 1);
    expect(g).toMatchObject({ rows: 2, cols: 3 });
    expect(g.tiles[0]).toEqual({
      tile_id: 'tile_r0_c0',
      row: 0,
      col: 0,
      pixel_window: { x: 0, y: 0, width: 4, height: 4 },
      pixel_bounds: [0, 0, 4, 4],
      geo_bounds: [100, 42, 108, 50],
    });
    expect(g.tiles[5]).toMatchObject({
      tile_id: 'tile_r1_c2',
      pixel_window: { x: 6, y: 3, width: 4, height: 3 },
    });
    expect(batchTiles(g.tiles, 4).map((b) => [b.batch_index, b.tiles.length])).toEqual([
      [0, 4],
      [1, 2],
    ]);
    expect(() => computeTiles(10, 10, [0, 1, 0, 0, 0, -1], 4, 4)).toThrow(/smaller than tile_size/);
  });

  it('densified bounds and unions', () => {
    expect(densifyBbox([0, 0, 1, 1], 3)).toHaveLength(12);
    expect(
      unionBbox([
        [0, 0, 1, 1],
        [-1, 0.5, 0.5, 2],
      ]),
    ).toEqual([-1, 0, 1, 2]);
    expect(unionBbox([])).toBeNull();
  });
});

describe('GDAL command lines', () => {
  const profile = compressionProfile('rgb', 'uint8', 'analysis');
  it('gdal_translate to COG with the profile (argument array, never a shell string)', () => {
    const args = cogTranslateArgs(
      { path: '/m/src file.tif', assignSrs: 'EPSG:4326' },
      '/m/out.tif',
      profile,
      { x: 1, y: 2, width: 3, height: 4 },
    );
    expect(args).toEqual([
      '-q', '-of', 'COG',
      '-co', 'COMPRESS=JPEG', '-co', 'OVERVIEW_RESAMPLING=CUBIC', '-co', 'BLOCKSIZE=512', '-co', 'NUM_THREADS=ALL_CPUS',
      '-co', 'BIGTIFF=IF_SAFER', '-co', 'OVERVIEWS=IGNORE_EXISTING', '-co', 'QUALITY=85',
      '-a_srs', 'EPSG:4326', '-srcwin', '1', '2', '3', '4',
      '--config', 'GDAL_TIFF_INTERNAL_MASK', 'YES', '/m/src file.tif', '/m/out.tif',
    ]); // prettier-ignore
  });
  it('a warp of a source without nodata adds alpha, read back as the mask', () => {
    const w = warpedVrtArgs('/s.tif', '/g.vrt', {
      targetSrs: 'EPSG:4326',
      resampling: 'cubic',
      bandCount: 3,
      hasNodata: false,
      hasAlpha: false,
    });
    expect(w.args).toContain('-dstalpha');
    expect(w.grid).toEqual({ path: '/g.vrt', bands: [1, 2, 3], maskBand: 4 });
    const n = warpedVrtArgs('/s.tif', '/g.vrt', {
      sourceSrs: 'EPSG:32633',
      targetSrs: 'EPSG:4326',
      resampling: 'bilinear',
      bandCount: 1,
      hasNodata: true,
      hasAlpha: false,
    });
    expect(n.args).not.toContain('-dstalpha');
    expect(n.args.slice(n.args.indexOf('-s_srs'), n.args.indexOf('-s_srs') + 2)).toEqual([
      '-s_srs',
      'EPSG:32633',
    ]);
    expect(n.grid).toEqual({ path: '/g.vrt' });
  });
});

describe('params, configuration, paths', () => {
  it('a separate silver account serves the silver container only (SDK client and GDAL /vsiaz/)', () => {
    const bronze =
      'DefaultEndpointsProtocol=http;AccountName=bronzeacct;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:1/bronzeacct';
    const silver =
      'DefaultEndpointsProtocol=http;AccountName=silveracct;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:2/silveracct';
    const c = loadRasterConfig({ DAG_STORAGE_CONNECTION: bronze, DAG_STORAGE_SILVER_CONNECTION: silver });
    expect(c.silverAccount).toEqual({ storageConnectionString: silver });
    expect(getBlobService(c, 'silver-cogs').accountName).toBe('silveracct');
    expect(getBlobService(c, 'bronze').accountName).toBe('bronzeacct');
    expect(getBlobService(c).accountName).toBe('bronzeacct');
    expect(gdalAzureEnv(c, 'silver-cogs')).toEqual({ AZURE_STORAGE_CONNECTION_STRING: silver });
    expect(gdalAzureEnv(c, 'bronze')).toEqual({ AZURE_STORAGE_CONNECTION_STRING: bronze });
    // Without one, everything is the one account; with a URL, the managed identity.
    expect(
      getBlobService(loadRasterConfig({ DAG_STORAGE_CONNECTION: bronze }), 'silver-cogs').accountName,
    ).toBe('bronzeacct');
    const byUrl = loadRasterConfig({
      DAG_STORAGE_CONNECTION: bronze,
      DAG_STORAGE_SILVER_BLOB_URL: 'https://silveracct.blob.core.windows.net/',
    });
    expect(byUrl.silverAccount).toEqual({ blobServiceUrl: 'https://silveracct.blob.core.windows.net' });
    expect(gdalAzureEnv(byUrl, 'silver-cogs')).toEqual({ AZURE_STORAGE_ACCOUNT: 'silveracct' });
    expect(() => loadRasterConfig({ DAG_STORAGE_SILVER_BLOB_URL: 'silveracct' })).toThrow(
      /DAG_STORAGE_SILVER_BLOB_URL must be https:\/\/<account>\.blob\.core\.windows\.net/,
    );
  });

  it("empty strings from `default('', true)` mean absent", () => {
    expect(optionalString.parse('')).toBeUndefined();
    expect(optionalString.parse('  ')).toBeUndefined();
    expect(optionalString.parse(null)).toBeUndefined();
    expect(optionalString.parse(' EPSG:4326 ')).toBe('EPSG:4326');
    expect(tierParam.parse('')).toBe('analysis');
    expect(tierParam.parse('Archive')).toBe('archive');
    expect(tierParam.safeParse('best').success).toBe(false);
  });

  it('configuration defaults, placeholders named as such, invalid values refused', () => {
    const c = loadRasterConfig({});
    expect(c).toMatchObject({
      mountPath: '/mnt/etl',
      silverContainer: 'silver-cogs',
      titilerUrl: 'https://titiler.example.com',
      titilerIsPlaceholder: true,
      stacApiUrl: 'https://stac-api.example.com',
      stacSchema: 'stac',
      pgstacSchema: 'pgstac',
      stacBackend: 'auto',
    });
    expect(c.storageConnectionString).toBeUndefined();
    expect(
      loadRasterConfig({ AzureWebJobsStorage: 'UseDevelopmentStorage=true' }).storageConnectionString,
    ).toBeUndefined();
    expect(
      loadRasterConfig({ DAG_STORAGE_BLOB_URL: 'https://acct.blob.core.windows.net/' }).blobServiceUrl,
    ).toBe('https://acct.blob.core.windows.net');
    expect(
      loadRasterConfig({
        DAG_TITILER_URL: 'https://t.example.org/',
        DAG_PGSTAC_URL: 'https://s.example.org',
      }),
    ).toMatchObject({
      titilerUrl: 'https://t.example.org',
      titilerIsPlaceholder: false,
      stacApiUrl: 'https://s.example.org',
    });
    expect(() => loadRasterConfig({ DAG_STAC_SCHEMA: 'bad-name', DAG_TITILER_URL: 'ftp://x' })).toThrow(
      /Invalid raster configuration: DAG_TITILER_URL must be an http\(s\) URL.*DAG_STAC_SCHEMA must be a schema name/,
    );
  });

  it('mount paths: scoped by job, mirrored source paths, no escape', () => {
    expect(inputPath('/mnt/etl', 'job 1', 'uploads/a.tif')).toBe('/mnt/etl/input/job_1/uploads/a.tif');
    expect(() => inputPath('/mnt/etl', 'j', '../../x')).toThrow(/contains a "\.\." segment/);
    expect(sourceRelativePath('/mnt/etl', '/mnt/etl/input/j/uploads/a.tif')).toBe('uploads/a.tif');
    expect(sourceRelativePath('/mnt/etl', '/mnt/etl/other/a.tif')).toBe('a.tif');
    expect(joinBlobPath(undefined, 'x/', '', 'y.tif')).toBe('x/y.tif');
  });
});

describe('longitudes across the antimeridian', () => {
  it('lonRange: a footprint straddling ±180 gives west > east; a wide one stays wide', () => {
    expect(lonRange([178.9, 179.5, -179.8, -179.2])).toEqual([178.9, -179.2]);
    expect(lonRange([10, 20, 15])).toEqual([10, 20]);
    // A footprint 340° wide (densified edges): it stays as it is, not the 20° the other way.
    const wide = Array.from({ length: 35 }, (_, i) => -170 + i * 10);
    expect(lonRange(wide)).toEqual([-170, 170]);
    expect(lonRange([181, 179])).toEqual([179, -179]); // unwrapped input is wrapped first
  });

  it('normalizeWgs84Bbox wraps a grid written past 180; unwrapBbox undoes it for gdalwarp -te', () => {
    expect(normalizeWgs84Bbox([178.87, -18.1, 180.78, -16.7])).toEqual([178.87, -18.1, -179.22, -16.7]);
    expect(normalizeWgs84Bbox([-190, 0, 190, 1])).toEqual([-180, 0, 180, 1]);
    expect(normalizeWgs84Bbox([10, 0, 20, 1])).toEqual([10, 0, 20, 1]);
    expect(unwrapBbox([178.87, -18.1, -179.22, -16.7])).toEqual([178.87, -18.1, 180.78, -16.7]);
    expect(crossesAntimeridian([178.87, -18.1, -179.22, -16.7])).toBe(true);
    // Starting or ending exactly on the antimeridian is not crossing it (no zero-width polygon).
    expect(normalizeWgs84Bbox([180, 0, 190, 1])).toEqual([-180, 0, -170, 1]);
    expect(normalizeWgs84Bbox([180, 0, 360, 1])).toEqual([-180, 0, 0, 1]);
    expect(lonRange([-180, 180, -179.5])).toEqual([-180, -179.5]);
    expect(lonRange([170, 175, -180])).toEqual([170, 180]);
  });

  it('unionBbox takes the shorter way round the circle', () => {
    // Tiles on both sides of the antimeridian: the union crosses it, it is not the world.
    expect(
      unionBbox([
        [179, -18, 180, -17],
        [-180, -18.5, -179.5, -16.5],
      ]),
    ).toEqual([179, -18.5, -179.5, -16.5]);
    // A crossing box and one inside it or beside it.
    expect(
      unionBbox([
        [178, 0, -178, 1],
        [-179, 0, -170, 2],
      ]),
    ).toEqual([178, 0, -170, 2]);
    // Ordinary boxes: the plain union.
    expect(
      unionBbox([
        [10, 0, 20, 1],
        [30, -1, 40, 0.5],
      ]),
    ).toEqual([10, -1, 40, 1]);
    // Boxes all round the world: the whole width.
    expect(
      unionBbox([
        [-180, 0, -60, 1],
        [-70, 0, 70, 1],
        [60, 0, 180, 1],
      ]),
    ).toEqual([-180, 0, 180, 1]);
  });

  it('property: the union contains every box (on the circle) and is never wider than needed for one box', () => {
    const lon = fc.double({ min: -180, max: 179, noNaN: true });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(lon, fc.double({ min: 0.01, max: 120, noNaN: true })), {
          minLength: 1,
          maxLength: 6,
        }),
        (spec) => {
          const boxes = spec.map(([w, width]) => {
            const e = w + width > 180 ? w + width - 360 : w + width;
            return [w, 0, e, 1] as [number, number, number, number];
          });
          const u = unionBbox(boxes)!;
          const arc = (b: number[]): [number, number] => [b[0]!, b[2]! < b[0]! ? b[2]! + 360 : b[2]!];
          const [uw, ue] = arc(u);
          for (const b of boxes) {
            let [bw, be] = arc(b);
            if (bw < uw - 1e-9) {
              bw += 360;
              be += 360;
            }
            expect(bw).toBeGreaterThanOrEqual(uw - 1e-6);
            expect(be).toBeLessThanOrEqual(ue + 1e-6);
          }
          if (boxes.length === 1) expect(ue - uw).toBeCloseTo(arc(boxes[0]!)[1]! - arc(boxes[0]!)[0]!, 6);
        },
      ),
      { numRuns: 500 },
    );
  });
});
