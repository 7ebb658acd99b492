// Configuration of the raster handlers: the environment parsed with zod (the loadSettings pattern).
// Loaded once per process, on the first raster task (handlerConfig.ts): the Function App runs the
// same registry and has none of these. Every variable is documented in docs/raster.md.
import { z } from 'zod';
import { withoutBlankSettings } from '../../db/createPool';
import { intSetting, parseSettings, type Settings } from '../../lib/loadSettings';
import { NonRetryableError } from '../handlerTypes';

/** Placeholders of the original system, used when the deployment does not name its services. */
export const PLACEHOLDER_TITILER_URL = 'https://titiler.example.com';
export const PLACEHOLDER_STAC_API_URL = 'https://stac-api.example.com';

const blank = (s: string | undefined) => (s === undefined || s.trim() === '' ? undefined : s.trim());

/** A connection string that names an account or endpoint (not the emulator shorthand, which the SDK cannot use). */
export function usableStorageConnection(s: string | undefined): string | undefined {
  const v = blank(s);
  if (!v || v === 'UseDevelopmentStorage=true') return undefined;
  return /AccountName=|BlobEndpoint=/i.test(v) ? v : undefined;
}

const identifier = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'must be a schema name (letters, digits, underscore; ≤ 63)');

const url = (dflt: string) =>
  z
    .string()
    .optional()
    .transform((s, ctx) => {
      const v = blank(s) ?? dflt;
      if (!/^https?:\/\/[^\s/]+/.test(v)) {
        ctx.addIssue({ code: 'custom', message: `must be an http(s) URL, got "${s}"` });
        return z.NEVER;
      }
      return v.replace(/\/+$/, '');
    });

/** An optional storage account URL (no trailing slash). */
const accountUrl = z
  .string()
  .optional()
  .transform((s, ctx) => {
    const v = blank(s);
    if (v && !/^https?:\/\/[^\s/]+/.test(v)) {
      ctx.addIssue({
        code: 'custom',
        message: `must be https://<account>.blob.core.windows.net, got "${s}"`,
      });
      return z.NEVER;
    }
    return v?.replace(/\/+$/, '');
  });

const RasterEnvSchema = z.object({
  DAG_WORKER_ETL_MOUNT_PATH: z
    .string()
    .optional()
    .transform((s) => blank(s) ?? '/mnt/etl'),
  DAG_STORAGE_CONNECTION: z.string().optional(),
  AzureWebJobsStorage: z.string().optional(),
  DAG_STORAGE_BLOB_URL: accountUrl,
  DAG_STORAGE_SILVER_BLOB_URL: accountUrl,
  DAG_STORAGE_SILVER_CONNECTION: z.string().optional(),
  DAG_STORAGE_SILVER_COGS_CONTAINER: z
    .string()
    .optional()
    .transform((s) => blank(s) ?? 'silver-cogs')
    .pipe(
      z
        .string()
        .regex(/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/, 'must be a blob container name (3-63 a-z 0-9 -)'),
    ),
  DAG_TITILER_URL: url(PLACEHOLDER_TITILER_URL),
  DAG_PGSTAC_URL: z.string().optional(),
  DAG_STAC_API_URL: z.string().optional(),
  DAG_STAC_ASSET_BASE_URL: z.string().optional(),
  DAG_STAC_SCHEMA: z
    .string()
    .optional()
    .transform((s) => blank(s) ?? 'stac')
    .pipe(identifier),
  DAG_PGSTAC_SCHEMA: z
    .string()
    .optional()
    .transform((s) => blank(s) ?? 'pgstac')
    .pipe(identifier),
  DAG_STAC_BACKEND: z
    .string()
    .optional()
    .transform((s) => (blank(s) ?? 'auto').toLowerCase())
    .pipe(z.enum(['auto', 'pgstac', 'tables'])),
  DAG_RASTER_TRANSFER_CONCURRENCY: intSetting(4, 1, 64),
});

export type StacBackendSetting = 'auto' | 'pgstac' | 'tables';

export interface RasterConfig {
  /** Working directory on the worker (an Azure Files mount on Container Apps). */
  mountPath: string;
  /** A connection string (Azurite locally, or an account key) … */
  storageConnectionString?: string;
  /** … or https://<account>.blob.core.windows.net, reached with DefaultAzureCredential. */
  blobServiceUrl?: string;
  silverContainer: string;
  /** Another storage account for the silver container (COGs), when it is not the input's. */
  silverAccount?: { storageConnectionString?: string; blobServiceUrl?: string };
  titilerUrl: string;
  stacApiUrl: string;
  /** Whether the URLs above are the example.com placeholders (outputs say so). */
  titilerIsPlaceholder: boolean;
  stacApiIsPlaceholder: boolean;
  /** Asset hrefs: this base + /<container>/<blob> instead of the blob URL (a CDN, a public endpoint). */
  assetBaseUrl?: string;
  stacSchema: string;
  pgstacSchema: string;
  stacBackend: StacBackendSetting;
  transferConcurrency: number;
}

/** Reads and checks the raster configuration; an invalid value is a non-retryable error naming it. */
export function loadRasterConfig(settings: Settings): RasterConfig {
  const r = parseSettings(RasterEnvSchema, withoutBlankSettings(settings));
  if (!r.ok) {
    const problems = r.problems.map((p) => `${p.variable} ${p.message}`).join('; ');
    throw new NonRetryableError(`Invalid raster configuration: ${problems}. See docs/raster.md.`);
  }
  const e = r.config;
  const stacRaw = blank(e.DAG_PGSTAC_URL) ?? blank(e.DAG_STAC_API_URL);
  const stacApiUrl = url(PLACEHOLDER_STAC_API_URL).safeParse(stacRaw);
  if (!stacApiUrl.success) {
    throw new NonRetryableError(
      `Invalid raster configuration: DAG_PGSTAC_URL must be an http(s) URL, got "${stacRaw}". See docs/raster.md.`,
    );
  }
  const assetBase = blank(e.DAG_STAC_ASSET_BASE_URL);
  if (assetBase && !/^https?:\/\/[^\s/]+/.test(assetBase)) {
    throw new NonRetryableError(
      `Invalid raster configuration: DAG_STAC_ASSET_BASE_URL must be an http(s) URL, got "${assetBase}". See docs/raster.md.`,
    );
  }
  const conn =
    usableStorageConnection(e.DAG_STORAGE_CONNECTION) ?? usableStorageConnection(e.AzureWebJobsStorage);
  const silverConn = usableStorageConnection(e.DAG_STORAGE_SILVER_CONNECTION);
  return {
    mountPath: e.DAG_WORKER_ETL_MOUNT_PATH,
    ...(conn ? { storageConnectionString: conn } : {}),
    ...(!conn && e.DAG_STORAGE_BLOB_URL ? { blobServiceUrl: e.DAG_STORAGE_BLOB_URL } : {}),
    silverContainer: e.DAG_STORAGE_SILVER_COGS_CONTAINER,
    ...(silverConn
      ? { silverAccount: { storageConnectionString: silverConn } }
      : e.DAG_STORAGE_SILVER_BLOB_URL
        ? { silverAccount: { blobServiceUrl: e.DAG_STORAGE_SILVER_BLOB_URL } }
        : {}),
    titilerUrl: e.DAG_TITILER_URL,
    stacApiUrl: stacApiUrl.data,
    titilerIsPlaceholder: e.DAG_TITILER_URL === PLACEHOLDER_TITILER_URL,
    stacApiIsPlaceholder: stacApiUrl.data === PLACEHOLDER_STAC_API_URL,
    ...(assetBase ? { assetBaseUrl: assetBase.replace(/\/+$/, '') } : {}),
    stacSchema: e.DAG_STAC_SCHEMA,
    pgstacSchema: e.DAG_PGSTAC_SCHEMA,
    stacBackend: e.DAG_STAC_BACKEND,
    transferConcurrency: e.DAG_RASTER_TRANSFER_CONCURRENCY,
  };
}
