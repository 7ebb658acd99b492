// `gdalinfo -json` parsed with zod into the facts the raster handlers use: size, bands (STAC data
// types, nodata, colour interpretation, overviews, statistics), CRS (EPSG code when GDAL identifies
// one, PROJJSON, WKT), geotransform and native bounds. Only the fields used are checked; GDAL versions
// add fields freely.
import { z } from 'zod';
import { NonRetryableError } from '../handlerTypes';
import { GdalDataError } from './gdalErrors';
import { runGdal } from './runGdal';

const GDAL_TO_STAC: Record<string, string> = {
  Byte: 'uint8',
  Int8: 'int8',
  UInt16: 'uint16',
  Int16: 'int16',
  UInt32: 'uint32',
  Int32: 'int32',
  UInt64: 'uint64',
  Int64: 'int64',
  Float32: 'float32',
  Float64: 'float64',
  CInt16: 'cint16',
  CInt32: 'cint32',
  CFloat32: 'cfloat32',
  CFloat64: 'cfloat64',
};

/** Bytes per pixel of a STAC data type. */
export const DTYPE_BYTES: Record<string, number> = {
  uint8: 1,
  int8: 1,
  uint16: 2,
  int16: 2,
  uint32: 4,
  int32: 4,
  uint64: 8,
  int64: 8,
  float32: 4,
  float64: 8,
  cint16: 4,
  cint32: 8,
  cfloat32: 8,
  cfloat64: 16,
};

const num = z.number();
const BandJson = z.looseObject({
  band: num,
  /** Block (tile or strip) size in pixels. */
  block: z.tuple([num, num]).optional(),
  type: z.string(),
  colorInterpretation: z.string().optional(),
  noDataValue: z.union([num, z.string()]).optional(),
  overviews: z.array(z.looseObject({ size: z.array(num) })).optional(),
  minimum: num.optional(),
  maximum: num.optional(),
  mean: num.optional(),
  stdDev: num.optional(),
  colorTable: z.unknown().optional(),
  mask: z.looseObject({ flags: z.array(z.string()).optional() }).optional(),
  description: z.string().optional(),
});

export const GdalInfoJson = z.looseObject({
  driverShortName: z.string().optional(),
  size: z.tuple([num, num]),
  coordinateSystem: z.looseObject({ wkt: z.string() }).optional(),
  geoTransform: z.array(num).length(6).optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
  bands: z.array(BandJson),
  stac: z
    .looseObject({
      'proj:epsg': num.nullish(),
      'proj:projjson': z.unknown().optional(),
    })
    .optional(),
});
export type GdalInfoJson = z.infer<typeof GdalInfoJson>;

/** A band nodata value as STAC writes it: a number, or "nan" / "inf" / "-inf". */
export type Nodata = number | 'nan' | 'inf' | '-inf';

export interface BandInfo {
  index: number;
  /** STAC raster data type (uint8, float32, cfloat32, ...). */
  dtype: string;
  gdalType: string;
  colorInterp: string;
  nodata: Nodata | null;
  overviewCount: number;
  /** [width, height] of the band's blocks (tiles or strips), when GDAL reports it. */
  block: [number, number] | null;
  hasColorTable: boolean;
  maskFlags: string[];
  statistics?: { minimum: number; maximum: number; mean: number; stddev: number };
}

export interface RasterInfo {
  path: string;
  driver: string;
  width: number;
  height: number;
  bands: BandInfo[];
  /** null when the file has no CRS. */
  crs: { wkt: string; epsg: number | null; projjson: unknown } | null;
  /** GDAL geotransform [x0, dx, rx, y0, ry, dy]; null when the file has none. */
  geotransform: number[] | null;
  /** [minx, miny, maxx, maxy] in the file's CRS (pixel space when there is no geotransform). */
  nativeBounds: [number, number, number, number];
  /** TIFFTAG_DATETIME as ISO 8601, when the file carries it. */
  datetime: string | null;
  /** Source compression (IMAGE_STRUCTURE COMPRESSION), when known. */
  compression: string | null;
}

function nodataOf(v: number | string | undefined): Nodata | null {
  if (v === undefined) return null;
  if (typeof v === 'number') return v;
  const s = v.trim().toLowerCase();
  if (s === 'nan') return 'nan';
  if (s === 'inf' || s === 'infinity' || s === '+infinity') return 'inf';
  if (s === '-inf' || s === '-infinity') return '-inf';
  const n = Number(s);
  return Number.isFinite(n) ? n : null;
}

function tiffDatetime(md: Record<string, unknown> | undefined): string | null {
  const domain = md?.[''] as Record<string, unknown> | undefined;
  const raw = domain?.TIFFTAG_DATETIME;
  if (typeof raw !== 'string') return null;
  // TIFF writes "YYYY:MM:DD HH:MM:SS" (no zone: taken as UTC).
  const m = /^(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})$/.exec(raw.trim());
  if (!m) return null;
  const d = new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** [minx, miny, maxx, maxy] of a width × height grid with a GDAL geotransform. */
export function gridBounds(
  gt: readonly number[],
  width: number,
  height: number,
): [number, number, number, number] {
  const xs = [
    gt[0]!,
    gt[0]! + width * gt[1]! + height * gt[2]!,
    gt[0]! + width * gt[1]!,
    gt[0]! + height * gt[2]!,
  ];
  const ys = [
    gt[3]!,
    gt[3]! + width * gt[4]! + height * gt[5]!,
    gt[3]! + width * gt[4]!,
    gt[3]! + height * gt[5]!,
  ];
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
}

/** Turns parsed gdalinfo JSON into RasterInfo (pure; exported for tests). */
export function toRasterInfo(path: string, j: GdalInfoJson): RasterInfo {
  const [width, height] = j.size;
  const gt = j.geoTransform ?? null;
  const nativeBounds: [number, number, number, number] = gt
    ? gridBounds(gt, width, height)
    : [0, 0, width, height];
  const wkt = j.coordinateSystem?.wkt?.trim();
  const structure = j.metadata?.IMAGE_STRUCTURE as Record<string, unknown> | undefined;
  return {
    path,
    driver: j.driverShortName ?? 'unknown',
    width,
    height,
    bands: j.bands.map((b) => ({
      index: b.band,
      dtype: GDAL_TO_STAC[b.type] ?? b.type.toLowerCase(),
      gdalType: b.type,
      colorInterp: b.colorInterpretation ?? 'Undefined',
      nodata: nodataOf(b.noDataValue),
      overviewCount: b.overviews?.length ?? 0,
      block: b.block ?? null,
      hasColorTable: b.colorTable !== undefined,
      maskFlags: b.mask?.flags ?? [],
      ...(b.minimum !== undefined && b.maximum !== undefined
        ? {
            statistics: {
              minimum: b.minimum,
              maximum: b.maximum,
              mean: b.mean ?? (b.minimum + b.maximum) / 2,
              stddev: b.stdDev ?? 0,
            },
          }
        : {}),
    })),
    crs: wkt
      ? { wkt, epsg: j.stac?.['proj:epsg'] ?? null, projjson: j.stac?.['proj:projjson'] ?? null }
      : null,
    geotransform: gt,
    nativeBounds,
    datetime: tiffDatetime(j.metadata),
    compression: typeof structure?.COMPRESSION === 'string' ? structure.COMPRESSION : null,
  };
}

export interface GdalInfoOptions {
  signal?: AbortSignal;
  /** Approximate statistics (from the smallest overview: cheap on a COG). */
  approxStats?: boolean;
  env?: Record<string, string>;
}

/** Runs `gdalinfo -json` on a local path or a /vsi path. */
export async function gdalInfo(path: string, o: GdalInfoOptions = {}): Promise<RasterInfo> {
  const args = ['-json', '-nofl', ...(o.approxStats ? ['-approx_stats'] : []), path];
  // PAM off: statistics must not leave .aux.xml files beside the data.
  const r = await runGdal('gdalinfo', args, {
    ...(o.signal ? { signal: o.signal } : {}),
    env: { GDAL_PAM_ENABLED: 'NO', ...o.env },
  }).catch((err: unknown) => {
    if (err instanceof GdalDataError) {
      throw new GdalDataError(
        `GDAL cannot open ${path} as a raster: ${err.message.split('\n').slice(-3).join(' ')}`,
      );
    }
    throw err;
  });
  let parsed: unknown;
  try {
    parsed = JSON.parse(r.stdout);
  } catch {
    throw new Error(
      `gdalinfo -json ${path} printed no JSON (${r.stdout.length} characters): ${r.stderr.slice(-500)}`,
    );
  }
  const info = GdalInfoJson.safeParse(parsed);
  if (!info.success) {
    throw new NonRetryableError(
      `gdalinfo -json ${path}: unexpected output (${info.error.issues
        .slice(0, 3)
        .map((i) => `${i.path.join('.')}: ${i.message}`)
        .join('; ')})`,
    );
  }
  return toRasterInfo(path, info.data);
}
