// Support for the raster tests: real GDAL (rasters generated at test time into temp dirs), GDAL's own
// COG validator, Azurite per file, a handler context that records checkpoints, and a PATH wrapper
// that logs every gdal_translate call. Without GDAL the GDAL tests are skipped — except with
// CI=true, where they run and fail (a CI without GDAL must not pass silently).
import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Checkpoint, HandlerContext } from '../../handlers/handlerTypes';
import { withTestServices } from '../support/handlerContext';

export const gdalReady = spawnSync('gdalinfo', ['--version'], { encoding: 'utf8' }).status === 0;
export const COG_VALIDATOR =
  '/usr/lib/python3/dist-packages/osgeo_utils/samples/validate_cloud_optimized_geotiff.py';
export const validatorReady =
  spawnSync('/usr/bin/python3', ['-c', 'import osgeo'], { encoding: 'utf8' }).status === 0 &&
  existsSync(COG_VALIDATOR);

/** describe for GDAL tests: runs when GDAL is installed or CI=true (then a missing GDAL fails). */
export const describeGdal = gdalReady || process.env.CI === 'true' ? describe : describe.skip;

/** The first test of every GDAL test file: says plainly what is missing. */
export function itHasGdal(): void {
  it('GDAL command-line tools and the COG validator are installed', () => {
    expect(gdalReady, 'gdalinfo not found on PATH: apt-get install gdal-bin').toBe(true);
    expect(
      validatorReady,
      `GDAL's COG validator needs /usr/bin/python3 with osgeo: apt-get install python3-gdal`,
    ).toBe(true);
  });
}

/** A new directory (under `parent`, default the system's temp dir). */
export function tempDir(prefix = 'raster-', parent = os.tmpdir()): string {
  mkdirSync(parent, { recursive: true });
  return mkdtempSync(path.join(parent, prefix));
}

export function run(cmd: string, args: string[], env?: Record<string, string>): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: env ? { ...process.env, ...env } : process.env });
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}${r.error ?? ''}`);
  return r.stdout;
}

export function runAsync(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(cmd, args, { encoding: 'utf8' }, (err, out, errOut) =>
      err ? reject(new Error(`${cmd} failed: ${errOut || err.message}`)) : resolve(out),
    ),
  );
}

type Dtype = 'Byte' | 'UInt16' | 'Int16' | 'Float32' | 'Float64';
const BYTES: Record<Dtype, number> = { Byte: 1, UInt16: 2, Int16: 2, Float32: 4, Float64: 8 };

export interface RasterSpec {
  width: number;
  height: number;
  bands: number;
  dtype: Dtype;
  /** EPSG:n, or omitted: no CRS. */
  srs?: string;
  /** GDAL geotransform. */
  geotransform: [number, number, number, number, number, number];
  nodata?: number;
  colorInterp?: string[];
  /** Palette for a single band (categorical). */
  palette?: Array<[number, number, number]>;
  /** Pixel value (default: a gradient with noise, different per band). */
  value?: (x: number, y: number, band: number) => number;
  /** Creation options of the GeoTIFF (default DEFLATE tiled). */
  co?: string[];
}

/** Writes a GeoTIFF with computed pixel values: raw data + a VRT, converted with gdal_translate. */
export function makeRaster(file: string, s: RasterSpec): string {
  const dir = path.dirname(file);
  mkdirSync(dir, { recursive: true });
  const raw = `${file}.raw`;
  const vrt = `${file}.vrt`;
  const bpp = BYTES[s.dtype];
  const buf = Buffer.alloc(s.width * s.height * s.bands * bpp);
  let seed = 7;
  const value =
    s.value ??
    ((x: number, y: number, b: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return ((x * (b + 1)) / 4 + y / 3 + ((seed >> 16) & 15)) % (s.dtype === 'Byte' ? 256 : 4000);
    });
  for (let b = 0; b < s.bands; b++) {
    for (let y = 0; y < s.height; y++) {
      for (let x = 0; x < s.width; x++) {
        const o = ((b * s.height + y) * s.width + x) * bpp;
        const v = value(x, y, b);
        if (s.dtype === 'Byte') buf.writeUInt8(Math.max(0, Math.min(255, Math.round(v))), o);
        else if (s.dtype === 'UInt16') buf.writeUInt16LE(Math.max(0, Math.min(65535, Math.round(v))), o);
        else if (s.dtype === 'Int16') buf.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(v))), o);
        else if (s.dtype === 'Float32') buf.writeFloatLE(v, o);
        else buf.writeDoubleLE(v, o);
      }
    }
  }
  writeFileSync(raw, buf);
  const bandXml = Array.from({ length: s.bands }, (_, b) => {
    const interp = s.colorInterp?.[b];
    const palette =
      b === 0 && s.palette
        ? `<ColorTable>${s.palette.map(([r, g, bl]) => `<Entry c1="${r}" c2="${g}" c3="${bl}" c4="255"/>`).join('')}</ColorTable>`
        : '';
    return `<VRTRasterBand dataType="${s.dtype}" band="${b + 1}" subClass="VRTRawRasterBand">
      ${interp ? `<ColorInterp>${interp}</ColorInterp>` : ''}${palette}
      ${s.nodata !== undefined ? `<NoDataValue>${s.nodata}</NoDataValue>` : ''}
      <SourceFilename relativetoVRT="1">${path.basename(raw)}</SourceFilename>
      <ImageOffset>${b * s.width * s.height * bpp}</ImageOffset><PixelOffset>${bpp}</PixelOffset>
      <LineOffset>${s.width * bpp}</LineOffset><ByteOrder>LSB</ByteOrder>
    </VRTRasterBand>`;
  }).join('\n');
  writeFileSync(
    vrt,
    `<VRTDataset rasterXSize="${s.width}" rasterYSize="${s.height}">
  ${s.srs ? `<SRS>${s.srs}</SRS>` : ''}
  <GeoTransform>${s.geotransform.join(', ')}</GeoTransform>
  ${bandXml}
</VRTDataset>`,
  );
  run('gdal_translate', ['-q', ...(s.co ?? ['-co', 'TILED=YES', '-co', 'COMPRESS=DEFLATE']), vrt, file]);
  rmSync(raw);
  rmSync(vrt);
  return file;
}

const UTM: [number, number, number, number, number, number] = [500000, 10, 0, 4000000, 0, -10];
const GEO: [number, number, number, number, number, number] = [10, 0.0001, 0, 50, 0, -0.0001];

/** The test rasters, by name: every type the validator must recognise, and the ones it must refuse. */
export const SPECS = {
  rgb: {
    width: 300,
    height: 200,
    bands: 3,
    dtype: 'Byte',
    srs: 'EPSG:32633',
    geotransform: UTM,
    colorInterp: ['Red', 'Green', 'Blue'],
  },
  rgba: {
    width: 300,
    height: 200,
    bands: 4,
    dtype: 'Byte',
    srs: 'EPSG:32633',
    geotransform: UTM,
    colorInterp: ['Red', 'Green', 'Blue', 'Alpha'],
    value: (x: number, y: number, b: number) => (b === 3 ? (x < 20 ? 0 : 255) : (x + y + b * 40) % 256),
  },
  dem: {
    width: 240,
    height: 160,
    bands: 1,
    dtype: 'Float32',
    srs: 'EPSG:32633',
    geotransform: UTM,
    nodata: -9999,
    value: (x: number, y: number) => (x < 5 ? -9999 : 100 + Math.sin(x / 20) * 50 + y / 4),
  },
  categorical: {
    width: 200,
    height: 200,
    bands: 1,
    dtype: 'Byte',
    srs: 'EPSG:4326',
    geotransform: GEO,
    palette: [
      [0, 0, 0],
      [0, 128, 0],
      [0, 0, 255],
      [200, 200, 0],
    ],
    value: (x: number, y: number) => ((x >> 5) + (y >> 5)) % 4,
  },
  multispectral: { width: 160, height: 120, bands: 6, dtype: 'UInt16', srs: 'EPSG:32633', geotransform: UTM },
  nocrs: { width: 100, height: 100, bands: 3, dtype: 'Byte', geotransform: GEO },
  float64: { width: 64, height: 64, bands: 1, dtype: 'Float64', srs: 'EPSG:4326', geotransform: GEO },
} satisfies Record<string, RasterSpec>;
export type RasterName = keyof typeof SPECS;

/** A handler context for calling handlers directly; checkpoints are recorded. */
export function fakeCtx(
  o: { jobId?: string; nodeId?: string; checkpoint?: Checkpoint; signal?: AbortSignal } = {},
): HandlerContext & { checkpoints: Checkpoint[]; progressCalls: number } {
  const checkpoints: Checkpoint[] = [];
  const ctx = withTestServices({
    jobId: o.jobId ?? `job-${Math.random().toString(36).slice(2, 8)}`,
    nodeId: o.nodeId ?? 'node',
    taskId: 'task',
    attempt: 0,
    ...(o.checkpoint ? { checkpoint: o.checkpoint } : {}),
    checkpoints,
    progressCalls: 0,
    async saveCheckpoint(phase: string, state: unknown) {
      checkpoints.push({ phase, state: JSON.parse(JSON.stringify(state)) as unknown });
    },
    async progress() {
      ctx.progressCalls++;
    },
    signal: o.signal ?? new AbortController().signal,
    log: { info: () => undefined, warn: () => undefined, error: () => undefined },
  });
  return ctx;
}

/** GDAL's validate_cloud_optimized_geotiff.py on a file. */
export function validateCog(file: string): { valid: boolean; output: string } {
  const r = spawnSync('/usr/bin/python3', [COG_VALIDATOR, file], { encoding: 'utf8' });
  return {
    valid: r.status === 0 && /is a valid cloud optimized GeoTIFF/.test(r.stdout),
    output: r.stdout + r.stderr,
  };
}

/** Starts Azurite for the test file (the worker tests' helper). */
export { useAzurite } from '../worker/support';

/**
 * A directory to put first on PATH: `gdal_translate` there logs "<pid> start <args>" and
 * "<pid> end <code> <args>" to `log`, then runs the real one. `delaySeconds` slows every call (to make
 * a batch long enough to kill a worker in the middle of it).
 */
export function gdalTranslateWrapper(dir: string, log: string, delaySeconds = 0): string {
  const real = run('sh', ['-c', 'command -v gdal_translate']).trim();
  mkdirSync(dir, { recursive: true });
  const script = path.join(dir, 'gdal_translate');
  writeFileSync(
    script,
    `#!/bin/sh
echo "$$ start $*" >> ${JSON.stringify(log)}
${delaySeconds > 0 ? `sleep ${delaySeconds}` : ''}
${JSON.stringify(real)} "$@"
rc=$?
echo "$$ end $rc $*" >> ${JSON.stringify(log)}
exit $rc
`,
  );
  chmodSync(script, 0o755);
  return dir;
}

export interface GdalCall {
  pid: number;
  kind: 'start' | 'end';
  code?: number;
  args: string;
}

export function readCalls(log: string): GdalCall[] {
  if (!existsSync(log)) return [];
  return readFileSync(log, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const m = /^(\d+) (start|end)(?: (\d+))? (.*)$/.exec(l);
      if (!m) throw new Error(`bad wrapper log line: ${l}`);
      return {
        pid: Number(m[1]),
        kind: m[2] as 'start' | 'end',
        ...(m[3] ? { code: Number(m[3]) } : {}),
        args: m[4]!,
      };
    });
}

/** The tile id of a gdal_translate call writing a tile (its output is .<tile_id>.<rand>.part.tif). */
export function tileOf(args: string): string | undefined {
  return /\/\.(tile_r\d+_c\d+)\.[0-9a-f]+\.part\.tif$/.exec(args)?.[1];
}

/** Sets environment variables for the duration of a test file (restored afterwards). */
export function useEnv(vars: () => Record<string, string>): void {
  const saved: Record<string, string | undefined> = {};
  beforeAll(() => {
    for (const [k, v] of Object.entries(vars())) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
  });
  afterAll(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
}
