// The handler contract shared by the activity runner (Function App) and the container worker.
import type { z } from 'zod';
import type { DbPool } from '../db/createPool';
import type { Runner } from '../dag/runners';
import type { HandlerConfig } from './handlerConfig';
import type { RasterBlobs } from './raster/blobService';

export interface Checkpoint {
  phase: string;
  state: unknown;
}

export interface HandlerLogger {
  info(message: string, data?: Record<string, unknown>): void;
  warn(message: string, data?: Record<string, unknown>): void;
  error(message: string, data?: Record<string, unknown>): void;
}

/**
 * What a handler may use of the process, built once per process by whoever runs handlers
 * (handlerServices) and handed to every attempt: handlers create no pool, client or configuration.
 */
export interface HandlerServices {
  /** The process's Postgres pool (the STAC catalog lives in the same database). */
  pool: DbPool;
  /** Blob storage of the raster handlers' accounts. */
  blobs: RasterBlobs;
  config: HandlerConfig;
}

export interface HandlerContext extends HandlerServices {
  jobId: string;
  nodeId: string;
  taskId: string;
  /** 0-based attempt index. */
  attempt: number;
  /** The latest valid checkpoint of an earlier attempt of this node, if any. */
  checkpoint?: Checkpoint;
  saveCheckpoint(phase: string, state: unknown): Promise<void>;
  progress(current: number, total?: number, message?: string): Promise<void>;
  /** Fires on cancel, timeout or shutdown: stop work, kill child processes. */
  signal: AbortSignal;
  log: HandlerLogger;
}

export interface HandlerDefinition<P = unknown> {
  name: string;
  description: string;
  runners: readonly Runner[];
  defaultRunner: Runner;
  /** Container queue when the node names none (container handlers). */
  defaultQueue?: string;
  params: z.ZodType<P>;
  /**
   * Quick and free of side effects beyond its return value (no checkpoints, no progress, no writes
   * elsewhere), for these params. On the activity runner a light task runs before anything is
   * written, and its start and result are recorded by one Postgres statement (one round trip per node
   * instead of two). When that statement finds the attempt no longer current (a cancelled job, a
   * redelivery) the result is dropped and the attempt goes the normal way: it may run twice.
   */
  light?: boolean | LightCheck<P>;
  run(params: P, ctx: HandlerContext): Promise<unknown>;
}

/** Method-style (bivariant) so that a registry of HandlerDefinition<never> takes any handler. */
type LightCheck<P> = { check(params: P): boolean }['check'];

/** A handler failure that retrying cannot fix (bad params, invalid input data). */
export class NonRetryableError extends Error {
  readonly retryable = false;
  constructor(message: string) {
    super(message);
    this.name = 'NonRetryableError';
  }
}
