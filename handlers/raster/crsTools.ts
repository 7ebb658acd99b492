// Coordinate reference systems through GDAL's own tools: a user's CRS string resolved and checked
// with gdalsrsinfo (EPSG code when PROJ identifies one), and bounds transformed to WGS 84 with
// gdaltransform over densified edges (a reprojected rectangle's extremes are rarely at its corners).
import { NonRetryableError } from '../handlerTypes';
import { runGdal } from './runGdal';

export interface ResolvedCrs {
  /** What the user wrote (trimmed). */
  input: string;
  epsg: number | null;
  name: string | null;
  /** A key that is equal for equal CRSs: EPSG:n, else the PROJJSON text without ids. */
  key: string;
  projjson: unknown;
}

/** The comparison key of a CRS from its EPSG code or PROJJSON. */
export function crsKey(epsg: number | null | undefined, projjson: unknown): string {
  if (epsg) return `EPSG:${epsg}`;
  if (projjson && typeof projjson === 'object') {
    const { $schema: _s, id: _i, ...rest } = projjson as Record<string, unknown>;
    return JSON.stringify(rest);
  }
  return 'unknown';
}

function epsgOf(projjson: unknown): number | null {
  const id = (projjson as { id?: { authority?: string; code?: number | string } } | null)?.id;
  if (id && String(id.authority).toUpperCase() === 'EPSG') {
    const n = Number(id.code);
    return Number.isInteger(n) ? n : null;
  }
  return null;
}

/** Resolves a CRS definition (EPSG:n, WKT, PROJ string); an unknown one is a non-retryable CRS_INVALID. */
export async function resolveCrs(def: string, signal?: AbortSignal): Promise<ResolvedCrs> {
  const input = def.trim();
  let out: string;
  try {
    out = (await runGdal('gdalsrsinfo', ['-o', 'projjson', input], signal ? { signal } : {})).stdout;
  } catch (err) {
    if (err instanceof NonRetryableError || (err as { aborted?: boolean }).aborted) throw err;
    throw new NonRetryableError(
      `CRS_INVALID: "${input}" is not a coordinate reference system GDAL knows (give e.g. "EPSG:4326"): ${
        (err as Error).message.split('\n').slice(-1)[0]
      }`,
    );
  }
  let projjson: unknown;
  try {
    projjson = JSON.parse(out.slice(out.indexOf('{')));
  } catch {
    throw new NonRetryableError(`CRS_INVALID: gdalsrsinfo gave no PROJJSON for "${input}"`);
  }
  const epsg = epsgOf(projjson);
  return {
    input,
    epsg,
    name: (projjson as { name?: string }).name ?? null,
    key: crsKey(epsg, projjson),
    projjson,
  };
}

/** The string GDAL tools take for a CRS: EPSG:n when known, else the original definition. */
export function crsArg(epsg: number | null | undefined, fallback: string): string {
  return epsg ? `EPSG:${epsg}` : fallback;
}

export type Bbox = [number, number, number, number];

/** Points along the edges of a rectangle (n per edge), for a faithful transformed extent. */
export function densifyBbox(b: Bbox, n = 21): Array<[number, number]> {
  const [x0, y0, x1, y1] = b;
  const pts: Array<[number, number]> = [];
  for (let i = 0; i < n; i++) {
    const t = i / (n - 1);
    const x = x0 + (x1 - x0) * t;
    const y = y0 + (y1 - y0) * t;
    pts.push([x, y0], [x, y1], [x0, y], [x1, y]);
  }
  return pts;
}

const round = (v: number, digits = 7) => Math.round(v * 10 ** digits) / 10 ** digits;

/**
 * Transforms several bounding boxes from a CRS to WGS 84 longitude/latitude in one gdaltransform call.
 * EPSG:4326 sources are returned as they are.
 */
export async function bboxesToWgs84(
  boxes: Bbox[],
  srcCrs: string,
  srcEpsg: number | null,
  signal?: AbortSignal,
): Promise<Bbox[]> {
  if (boxes.length === 0) return [];
  if (srcEpsg === 4326) return boxes.map((b) => normalizeWgs84Bbox(b.map((v) => round(v)) as Bbox));
  const perBox = densifyBbox([0, 0, 1, 1]).length;
  const input = boxes
    .flatMap((b) => densifyBbox(b))
    .map(([x, y]) => `${x} ${y}`)
    .join('\n');
  // -output_xy: no z column; GDAL 3 uses the traditional GIS order (lon, lat) in gdaltransform.
  const r = await runGdal('gdaltransform', ['-s_srs', srcCrs, '-t_srs', 'EPSG:4326', '-output_xy'], {
    input: input + '\n',
    ...(signal ? { signal } : {}),
  });
  const pts = r.stdout
    .trim()
    .split(/\r?\n/)
    .map((l) => l.trim().split(/\s+/).map(Number) as [number, number]);
  if (pts.length !== boxes.length * perBox) {
    throw new Error(`gdaltransform returned ${pts.length} points for ${boxes.length * perBox}: ${r.stderr}`);
  }
  const footprints = boxes.map((_, i) => {
    const mine = pts
      .slice(i * perBox, (i + 1) * perBox)
      .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (!mine.length)
      throw new NonRetryableError(
        `The bounds ${JSON.stringify(boxes[i])} cannot be transformed to WGS 84 from ${srcCrs}`,
      );
    const lons = mine.map((p) => p[0]);
    const ys = mine.map((p) => p[1]);
    return {
      lons,
      south: Math.max(-90, Math.min(...ys)),
      north: Math.min(90, Math.max(...ys)),
      // Edges spread over more than half the globe: across the antimeridian, or round a pole.
      wide: spread(lons.map(wrapLon)) > 180,
    };
  });
  // A scene that contains a pole (a polar stereographic one) has edges all round the globe: its
  // footprint is every longitude down (or up) to the pole, not a gap read as an antimeridian crossing.
  const poles = footprints.some((f) => f.wide) ? await polesIn(srcCrs, signal) : [];
  return footprints.map((f, i) => {
    const b = boxes[i]!;
    const inside = (p: [number, number]) => p[0] >= b[0] && p[0] <= b[2] && p[1] >= b[1] && p[1] <= b[3];
    const north = f.wide && poles[0] && inside(poles[0]);
    const south = f.wide && poles[1] && inside(poles[1]);
    if (north || south) return [-180, round(south ? -90 : f.south), 180, round(north ? 90 : f.north)] as Bbox;
    const [west, east] = lonRange(f.lons);
    // A "crossing" wider than half the globe is no crossing: the whole width.
    const span = east < west ? east + 360 - west : east - west;
    if (east < west && span > 180) return [-180, round(f.south), 180, round(f.north)] as Bbox;
    return [round(west), round(f.south), round(east), round(f.north)] as Bbox;
  });
}

const spread = (xs: number[]) => Math.max(...xs) - Math.min(...xs);

/** The north and south poles in a CRS (undefined where it cannot represent them). */
async function polesIn(crs: string, signal?: AbortSignal): Promise<Array<[number, number] | undefined>> {
  const r = await runGdal('gdaltransform', ['-s_srs', 'EPSG:4326', '-t_srs', crs, '-output_xy'], {
    input: '0 90\n0 -90\n',
    ...(signal ? { signal } : {}),
  }).catch(() => undefined);
  const lines = r?.stdout.trim().split(/\r?\n/) ?? [];
  return [0, 1].map((i) => {
    const p = (lines[i] ?? '').trim().split(/\s+/).map(Number);
    return p.length >= 2 && Number.isFinite(p[0]) && Number.isFinite(p[1]) ? [p[0]!, p[1]!] : undefined;
  });
}

/**
 * The union of WGS 84 bounding boxes, on the circle of longitudes: the smallest longitude range
 * covering every box (west > east when it crosses the antimeridian), or the world's width.
 */
export function unionBbox(boxes: readonly Bbox[]): Bbox | null {
  if (!boxes.length) return null;
  const south = Math.min(...boxes.map((b) => b[1]));
  const north = Math.max(...boxes.map((b) => b[3]));
  // Each box as an arc [west, east'] with east' ≥ west (east + 360 when it crosses).
  const arcs = boxes
    .map(([w, , e]) => [w, e < w ? e + 360 : e] as [number, number])
    .sort((a, b) => a[0] - b[0]);
  if (arcs.some(([w, e]) => e - w >= 360)) return [-180, south, 180, north];
  const merged: Array<[number, number]> = [];
  for (const a of arcs) {
    const last = merged[merged.length - 1];
    if (last && a[0] <= last[1]) last[1] = Math.max(last[1], a[1]);
    else merged.push([a[0], a[1]]);
  }
  // An arc running past 180 covers the start of the circle too: fold the first arcs it reaches into it.
  while (merged.length > 1 && merged[merged.length - 1]![1] - 360 >= merged[0]![0]) {
    const first = merged.shift()!;
    const last = merged[merged.length - 1]!;
    last[1] = Math.max(last[1], first[1] + 360);
  }
  // The union is the circle minus its largest gap between merged arcs (the gap after the last arc
  // wraps round to the first).
  let best = 0;
  let bestGap = -Infinity;
  merged.forEach((m, i) => {
    const nextStart = i + 1 < merged.length ? merged[i + 1]![0] : merged[0]![0] + 360;
    if (nextStart - m[1] > bestGap) {
      bestGap = nextStart - m[1];
      best = i;
    }
  });
  if (bestGap <= 0) return [-180, south, 180, north];
  const west = merged[(best + 1) % merged.length]![0];
  const east = merged[best]![1];
  return [wrapLon(west), south, wrapLon(east), north];
}

/** A longitude in [-180, 180] (180 stays 180). */
export function wrapLon(x: number): number {
  if (x >= -180 && x <= 180) return x;
  return round(((((x + 180) % 360) + 360) % 360) - 180);
}

/**
 * The longitude range of the points of a footprint: [west, east], with west > east when the
 * footprint crosses the antimeridian (RFC 7946 §5.2, as STAC writes bboxes) — a Fiji scene spans
 * [177.5, -179.2], not the whole world.
 */
export function lonRange(lons: readonly number[]): [number, number] {
  const w = lons.map(wrapLon);
  const min = Math.min(...w);
  const max = Math.max(...w);
  if (max - min <= 180) return [min, max];
  const shifted = w.map((x) => (x < 0 ? x + 360 : x));
  const smin = Math.min(...shifted);
  const smax = Math.max(...shifted);
  if (smax - smin >= max - min) return [min, max];
  const [west, , east] = seamed([smin, 0, wrapLon(smax), 0]);
  return [west, east];
}

/** A WGS 84 bbox whose longitudes may run past ±180 (a grid written across the antimeridian), wrapped. */
export function normalizeWgs84Bbox(b: Bbox): Bbox {
  const [w, s, e, n] = b;
  if (e - w >= 360) return [-180, s, 180, n];
  return seamed([wrapLon(w), s, wrapLon(e), n]);
}

/**
 * A box that starts or ends exactly on the antimeridian does not cross it: west 180 is west -180,
 * east -180 is east 180 (a split at ±180 would leave a polygon of zero width).
 */
function seamed([w, s, e, n]: Bbox): Bbox {
  if (w <= e) return [w, s, e, n];
  return [w === 180 ? -180 : w, s, e === -180 ? 180 : e, n];
}

/** Whether a WGS 84 bbox crosses the antimeridian (west > east). */
export const crossesAntimeridian = (b: Bbox): boolean => b[0] > b[2];

/** The same bbox with continuous longitudes (east + 360 when it crosses): what gdalwarp -te takes. */
export const unwrapBbox = (b: Bbox): Bbox => (crossesAntimeridian(b) ? [b[0], b[1], b[2] + 360, b[3]] : b);
