// The blob services of the raster handlers, one client per process and account: a connection
// string (Azurite locally, an account key) or the account URL with DefaultAzureCredential (the
// worker's managed identity on Azure); the silver container may live in an account of its own. GDAL's /vsiaz/ gets the same account through its own
// environment variables.
import { DefaultAzureCredential } from '@azure/identity';
import { BlobServiceClient } from '@azure/storage-blob';
import { NonRetryableError } from '../handlerTypes';
import type { RasterConfig } from './rasterConfig';

const clients = new Map<string, BlobServiceClient>();

/**
 * The blob service holding `container`: the silver account (DAG_STORAGE_SILVER_CONNECTION or
 * DAG_STORAGE_SILVER_BLOB_URL) for the silver container when one is configured, else the account
 * of DAG_STORAGE_CONNECTION / DAG_STORAGE_BLOB_URL.
 */
export function getBlobService(config: RasterConfig, container?: string): BlobServiceClient {
  const account = accountOf(config, container);
  const key = account.storageConnectionString ?? account.blobServiceUrl;
  if (!key) {
    throw new NonRetryableError(
      'No blob storage configured for the raster handlers: set DAG_STORAGE_CONNECTION (or AzureWebJobsStorage) to a connection string, or DAG_STORAGE_BLOB_URL (https://<account>.blob.core.windows.net) to use the managed identity. See docs/raster.md.',
    );
  }
  let c = clients.get(key);
  if (!c) {
    c = account.storageConnectionString
      ? BlobServiceClient.fromConnectionString(account.storageConnectionString)
      : new BlobServiceClient(account.blobServiceUrl!, new DefaultAzureCredential());
    clients.set(key, c);
  }
  return c;
}

/** The account of `container` (see getBlobService). */
function accountOf(config: RasterConfig, container?: string) {
  return container !== undefined && container === config.silverContainer && config.silverAccount
    ? config.silverAccount
    : config;
}

/** Environment for GDAL's /vsiaz/ file system: the same account as the SDK client for `container`. */
export function gdalAzureEnv(config: RasterConfig, container?: string): Record<string, string> {
  const account = accountOf(config, container);
  if (account.storageConnectionString)
    return { AZURE_STORAGE_CONNECTION_STRING: account.storageConnectionString };
  if (account.blobServiceUrl) {
    // Without a key GDAL asks the instance metadata service for a managed identity token.
    const name = new URL(account.blobServiceUrl).hostname.split('.')[0] ?? '';
    return { AZURE_STORAGE_ACCOUNT: name };
  }
  return {};
}

/** The blob storage of the raster handlers' accounts, as a handler's context carries it (ctx.blobs). */
export interface RasterBlobs {
  /** The blob service holding `container` (see getBlobService). */
  service(container?: string): BlobServiceClient;
  /** Environment for GDAL's /vsiaz/ reading `container` (see gdalAzureEnv). */
  gdalEnv(container?: string): Record<string, string>;
}

/** The blob storage of this configuration, read when first used (clients are kept per process). */
export function rasterBlobs(config: () => RasterConfig): RasterBlobs {
  return {
    service: (container) => getBlobService(config(), container),
    gdalEnv: (container) => gdalAzureEnv(config(), container),
  };
}

/** Whether an error from the storage SDK is a 404 (no such blob or container). */
export function isNotFound(err: unknown): boolean {
  const e = err as { statusCode?: number; code?: string };
  return e?.statusCode === 404 || e?.code === 'BlobNotFound' || e?.code === 'ContainerNotFound';
}
