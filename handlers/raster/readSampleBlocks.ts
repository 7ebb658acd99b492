// Reads a sample of a raster's full-resolution blocks so that validation fails on data that cannot be
// decoded, not only on metadata: the first block, the last (where a truncated file is cut off) and
// evenly spaced ones between, in every band, with one gdallocationinfo process (one pixel per block
// decodes the whole block). Overviews are not read: create_cog builds its own (OVERVIEWS=IGNORE_EXISTING).
import { classifyGdalFailure, gdalErrorLines } from './gdalErrors';
import type { RasterInfo } from './gdalInfo';
import { runGdal } from './runGdal';

/** Blocks decoded per raster (each in every band). */
export const SAMPLE_BLOCKS = 32;

export type SampleRead = { ok: true; blocks: number } | { ok: false; error: string };

/** Pixel coordinates (column, row) of one pixel in each sampled block, first and last included. */
export function sampleBlockPixels(
  width: number,
  height: number,
  block: readonly [number, number],
  max = SAMPLE_BLOCKS,
): Array<[number, number]> {
  const [bw, bh] = [Math.max(1, block[0]), Math.max(1, block[1])];
  const nx = Math.ceil(width / bw);
  const total = nx * Math.ceil(height / bh);
  if (total === 0) return [];
  const picks = new Set<number>([0, total - 1]);
  const n = Math.min(max, total);
  for (let i = 1; i < n - 1; i++) picks.add(Math.round((i * (total - 1)) / (n - 1)));
  return [...picks]
    .sort((a, b) => a - b)
    .map((k) => {
      const bx = k % nx;
      const by = Math.floor(k / nx);
      return [Math.min(bx * bw + (bw >> 1), width - 1), Math.min(by * bh + (bh >> 1), height - 1)];
    });
}

/**
 * Decodes the sampled blocks. A decode/read error of the data is returned as {ok: false} (it is a
 * property of the file); a failure that may be transient (network, disk) is thrown to be retried.
 */
export async function readSampleBlocks(
  path: string,
  info: Pick<RasterInfo, 'width' | 'height' | 'bands'>,
  o: { signal?: AbortSignal; env?: Record<string, string> } = {},
): Promise<SampleRead> {
  const block = info.bands[0]?.block ?? [info.width, 1];
  const pixels = sampleBlockPixels(info.width, info.height, block);
  if (!pixels.length) return { ok: true, blocks: 0 };
  const r = await runGdal('gdallocationinfo', ['-valonly', path], {
    ...(o.signal ? { signal: o.signal } : {}),
    env: { GDAL_PAM_ENABLED: 'NO', ...o.env },
    input: pixels.map(([x, y]) => `${x} ${y}\n`).join(''),
    keepChars: 256 * 1024,
  });
  // gdallocationinfo reports an unreadable block on stderr and goes on (exit 0).
  const errors = gdalErrorLines(r.stderr);
  if (!errors.length) return { ok: true, blocks: pixels.length };
  const text = errors.slice(0, 4).join(' ');
  if (classifyGdalFailure(r.stderr) === 'transient')
    throw new Error(`Reading sample blocks of ${path} failed (may be transient; retried): ${text}`);
  return { ok: false, error: `${errors.length} error(s) decoding sampled blocks: ${text}` };
}
