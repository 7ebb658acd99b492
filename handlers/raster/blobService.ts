// The blob service of the raster handlers, one client per process and configuration: a connection
// string (Azurite locally, an account key) or the account URL with DefaultAzureCredential (the
// worker's managed identity on Azure). GDAL's /vsiaz/ gets the same account through its own
// environment variables.
import { DefaultAzureCredential } from '@azure/identity';
import { BlobServiceClient } from '@azure/storage-blob';
import { NonRetryableError } from '../handlerTypes';
import type { RasterConfig } from './rasterConfig';

const clients = new Map<string, BlobServiceClient>();

export function getBlobService(config: RasterConfig): BlobServiceClient {
  const key = config.storageConnectionString ?? config.blobServiceUrl;
  if (!key) {
    throw new NonRetryableError(
      'No blob storage configured for the raster handlers: set DAG_STORAGE_CONNECTION (or AzureWebJobsStorage) to a connection string, or DAG_STORAGE_BLOB_URL (https://<account>.blob.core.windows.net) to use the managed identity. See docs/raster.md.',
    );
  }
  let c = clients.get(key);
  if (!c) {
    c = config.storageConnectionString
      ? BlobServiceClient.fromConnectionString(config.storageConnectionString)
      : new BlobServiceClient(config.blobServiceUrl!, new DefaultAzureCredential());
    clients.set(key, c);
  }
  return c;
}

/** Environment for GDAL's /vsiaz/ file system: the same account as the SDK client. */
export function gdalAzureEnv(config: RasterConfig): Record<string, string> {
  if (config.storageConnectionString)
    return { AZURE_STORAGE_CONNECTION_STRING: config.storageConnectionString };
  if (config.blobServiceUrl) {
    // Without a key GDAL asks the instance metadata service for a managed identity token.
    const account = new URL(config.blobServiceUrl).hostname.split('.')[0] ?? '';
    return { AZURE_STORAGE_ACCOUNT: account };
  }
  return {};
}

/** Whether an error from the storage SDK is a 404 (no such blob or container). */
export function isNotFound(err: unknown): boolean {
  const e = err as { statusCode?: number; code?: string };
  return e?.statusCode === 404 || e?.code === 'BlobNotFound' || e?.code === 'ContainerNotFound';
}
