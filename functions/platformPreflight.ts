// Pre-flight checks of a platform submission, per workflow (the original's services/preflight.py,
// selected by workflow id prefix): raster workflows need blob_name, container_name and collection_id
// (missing or blank is an error) and the blob must exist in its container. (The request id check is
// in platformService, which reads it with the platform.) Every problem is collected.
import type { Workflow } from '../dag/workflowModel';
import { AppError } from './appError';
import { getBlobService, isNotFound } from '../handlers/raster/blobService';
import { loadRasterConfig } from '../handlers/raster/rasterConfig';
import { STORAGE_NAME } from '../lib/storageNames';

export interface Problem {
  path: string;
  message: string;
}

const RASTER_REQUIRED = ['blob_name', 'container_name', 'collection_id'] as const;

export const isRasterWorkflow = (w: Workflow) => w.workflow_id.startsWith('raster_');

/** Whether the pre-flight of a workflow reads only the request (raster's asks blob storage). */
export const preflightIsLocal = (w: Workflow) => !isRasterWorkflow(w);

export async function preflight(
  workflow: Workflow,
  inputs: Record<string, unknown>,
  opts: { inputsPath: string },
): Promise<Problem[]> {
  const problems: Problem[] = [];
  const at = (name: string) => `${opts.inputsPath}.${name}`;
  if (isRasterWorkflow(workflow)) {
    const present: Record<string, string> = {};
    for (const name of RASTER_REQUIRED) {
      const v = inputs[name];
      if (typeof v === 'string' && v.trim() !== '') present[name] = v;
      else if (v === undefined || v === null || (typeof v === 'string' && v.trim() === ''))
        problems.push({
          path: at(name),
          message: `${name} is required by raster workflows and is missing or blank`,
        });
    }
    const container = present.container_name;
    const blob = present.blob_name;
    if (container !== undefined && !STORAGE_NAME.test(container)) {
      problems.push({
        path: at('container_name'),
        message: `"${container.slice(0, 80)}" is not a valid blob container name (3-63 lowercase letters, digits and dashes)`,
      });
    } else if (container !== undefined && blob !== undefined) {
      if (blob.length > 1024 || hasControlOrBackslash(blob)) {
        problems.push({
          path: at('blob_name'),
          message: 'is not a valid blob name (at most 1024 characters, no control characters or backslashes)',
        });
      } else if (!(await blobExists(container, blob))) {
        problems.push({
          path: at('blob_name'),
          message: `blob "${blob}" does not exist in container "${container}"; upload it first (dagmaster upload <file> ${container}/${blob})`,
        });
      }
    }
  }
  return problems;
}

async function blobExists(container: string, blob: string): Promise<boolean> {
  const config = loadRasterConfig(process.env);
  if (!config.storageConnectionString && !config.blobServiceUrl) {
    throw new AppError(
      'UNAVAILABLE',
      'Pre-flight cannot check that the blob exists: no blob storage is configured for the Function App. Set DAG_STORAGE_CONNECTION or DAG_STORAGE_BLOB_URL (docs/raster.md).',
    );
  }
  try {
    return await getBlobService(config, container).getContainerClient(container).getBlobClient(blob).exists();
  } catch (err) {
    if (isNotFound(err)) return false;
    throw new AppError(
      'UNAVAILABLE',
      `Pre-flight could not check blob "${blob}" in container "${container}": ${(err as Error).message.split('\n')[0]}. Retry later.`,
    );
  }
}

function hasControlOrBackslash(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x5c) return true;
  }
  return false;
}
