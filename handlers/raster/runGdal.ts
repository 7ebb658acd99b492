// Every GDAL command of the raster handlers goes through here: runProcess (argument array, no shell,
// process group killed on cancel/timeout/shutdown) plus a clear, non-retryable error when the tool is
// not installed — retrying on the same worker image cannot make it appear — or when the input data
// cannot be read (see gdalErrors.ts: a corrupt or truncated file fails the same way every time).
import { NonRetryableError } from '../handlerTypes';
import { classifyGdalFailure, GdalDataError } from './gdalErrors';
import { ProcessError, runProcess, type ProcessResult } from '../runProcess';

export interface GdalRunOptions {
  signal?: AbortSignal;
  /** Extra environment (GDAL config options such as GDAL_PAM_ENABLED, AZURE_STORAGE_*). */
  env?: Record<string, string>;
  /** stdin data (gdaltransform reads coordinates from it). */
  input?: string;
  log?: { info(message: string, data?: Record<string, unknown>): void };
  /** Keep this much of stdout (gdalinfo -json of a many-band raster is large). */
  keepChars?: number;
}

export class GdalMissingError extends NonRetryableError {
  constructor(readonly tool: string) {
    super(
      `${tool} not found on PATH: install GDAL (apt-get install gdal-bin) or use the worker image (container-worker/Dockerfile)`,
    );
    this.name = 'GdalMissingError';
  }
}

export async function runGdal(
  tool: string,
  args: readonly string[],
  o: GdalRunOptions = {},
): Promise<ProcessResult> {
  try {
    const r = await runProcess(tool, args, {
      ...(o.signal ? { signal: o.signal } : {}),
      ...(o.env ? { extraEnv: o.env } : {}),
      ...(o.input !== undefined ? { input: o.input } : {}),
      keepChars: o.keepChars ?? 8 * 1024 * 1024,
      killGraceMs: 3000,
    });
    o.log?.info(`${tool} finished`, { ms: r.durationMs });
    return r;
  } catch (err) {
    if (err instanceof ProcessError && !err.aborted && /could not start: .*ENOENT/.test(err.message)) {
      throw new GdalMissingError(tool);
    }
    // Not a process killed by a signal (OOM, shutdown): those may pass next time.
    if (
      err instanceof ProcessError &&
      !err.aborted &&
      !err.result.signal &&
      classifyGdalFailure(err.result.stderr ?? err.message) === 'data'
    ) {
      throw new GdalDataError(`${err.message} (the input cannot be read: retrying cannot help)`);
    }
    throw err;
  }
}
