// zod building blocks for the raster handlers' params. Workflows of the original system pass optional
// values as empty strings (`{{ inputs.x | default('', true) }}`) and numbers as strings: both are
// accepted. `validation` is the whole output of raster.validate, passed natively by a template (or as
// its JSON text when a template rendered it into a string).
import { z } from 'zod';
import { intLike, numberLike } from '../numberLike';
import { OUTPUT_TIERS, RASTER_TYPES } from './rasterProfiles';

const absent = (v: unknown) => v === undefined || v === null || (typeof v === 'string' && v.trim() === '');

/** A string param where '', whitespace and null mean "not given". */
export const optionalString = z.preprocess(
  (v) => (absent(v) ? undefined : typeof v === 'string' ? v.trim() : v),
  z.string().optional(),
);

/** A required, non-empty string param. */
export const requiredString = (what: string) =>
  z.preprocess(
    (v) => (typeof v === 'string' ? v.trim() : v),
    z.string({ error: `${what} is required` }).min(1, `${what} must not be empty`),
  );

export const optionalInt = (min: number, max: number) =>
  z.preprocess((v) => (absent(v) ? undefined : v), intLike.pipe(z.number().min(min).max(max)).optional());

export const optionalNumber = z.preprocess((v) => (absent(v) ? undefined : v), numberLike.optional());

export const optionalBool = z.preprocess((v) => {
  if (absent(v)) return undefined;
  if (typeof v === 'string')
    return /^(true|yes|1)$/i.test(v.trim()) ? true : /^(false|no|0)$/i.test(v.trim()) ? false : v;
  return v;
}, z.boolean().optional());

/** A tier, defaulting to analysis when absent. */
export const tierParam = z.preprocess(
  (v) => (absent(v) ? 'analysis' : typeof v === 'string' ? v.trim().toLowerCase() : v),
  z.enum(OUTPUT_TIERS, { error: `output_tier must be one of ${OUTPUT_TIERS.join(', ')}` }),
);

const bbox = z.tuple([z.number(), z.number(), z.number(), z.number()]);
/** [west, south, east, north], as an array or its JSON text; west > east only across the antimeridian. */
export const bboxParam = z.preprocess(
  parseJsonText,
  bbox.refine(
    (b) => b[1] <= b[3] && (b[0] <= b[2] || (b[0] <= 180 && b[2] >= -180)),
    'bounds must be [west, south, east, north] (west > east only for a box across the antimeridian)',
  ),
);

function parseJsonText(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  const t = v.trim();
  if (!t.startsWith('{') && !t.startsWith('[')) return v;
  try {
    return JSON.parse(t) as unknown;
  } catch {
    return v;
  }
}

const nodata = z.union([z.number(), z.enum(['nan', 'inf', '-inf'])]);

export const CompressionProfileSchema = z.looseObject({
  compression: z.enum(['jpeg', 'webp', 'lerc_deflate', 'deflate']),
  gdal_compress: z.enum(['JPEG', 'WEBP', 'LERC_DEFLATE', 'DEFLATE']),
  quality: z.number().int().min(1).max(100).optional(),
  predictor: z.union([z.literal(2), z.literal(3)]).optional(),
  level: z.number().int().min(1).max(12).optional(),
  max_z_error: z.number().min(0).optional(),
  overview_resampling: z.enum(['nearest', 'bilinear', 'cubic', 'average', 'mode']),
  reproject_resampling: z.enum(['nearest', 'bilinear', 'cubic', 'average', 'mode']),
  lossy: z.boolean(),
  tier: z.enum(OUTPUT_TIERS),
});

/** The parts of raster.validate's output that later handlers rely on. */
export const ValidationSchema = z.preprocess(
  parseJsonText,
  z
    .custom<unknown>((v) => !(v && typeof v === 'object' && (v as { valid?: unknown }).valid === false), {
      error: (iss) =>
        `the raster failed raster.validate (valid: false): ${JSON.stringify((iss.input as { errors?: unknown }).errors ?? [])}`,
    })
    .pipe(
      z.looseObject(
        {
          valid: z.boolean().optional(),
          source_path: z.string().optional(),
          source_crs: z.string().min(1),
          source_epsg: z.number().int().nullish(),
          /** The original's spellings and this product's earlier ones. */
          crs_source: z.enum(['file_metadata', 'user_override', 'file', 'override']).nullish(),
          bounds: bbox,
          native_bounds: bbox,
          geotransform: z.array(z.number()).length(6).nullish(),
          shape: z.tuple([z.number().int().positive(), z.number().int().positive()]),
          band_count: z.number().int().positive(),
          dtype: z.string(),
          nodata: nodata.nullish(),
          bands: z
            .array(
              z.looseObject({ index: z.number().int(), data_type: z.string(), nodata: nodata.nullish() }),
            )
            .optional(),
          raster_type: z.looseObject({ type: z.enum(RASTER_TYPES) }),
          compression_profile: CompressionProfileSchema,
          applicable_tiers: z.array(z.enum(OUTPUT_TIERS)),
          datetime: z.string().nullish(),
        },
        {
          error: (iss) =>
            iss.input === undefined
              ? 'validation is required: pass the output of raster.validate ("{{ nodes.<validate node>.output }}")'
              : undefined,
        },
      ),
    ),
);
export type Validation = z.infer<typeof ValidationSchema>;
