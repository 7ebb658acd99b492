// Handlers get the process's services through their context (issue 18): one pool, one handler
// configuration read once, blob clients of that configuration. Handlers build none of these.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DbPool } from '../../db/createPool';
import { executeHandler } from '../../handlers/executeHandler';
import { loadHandlerConfig } from '../../handlers/handlerConfig';
import { HandlerRegistry } from '../../handlers/handlerRegistry';
import { handlerServices } from '../../handlers/handlerServices';
import { NonRetryableError, type HandlerContext } from '../../handlers/handlerTypes';
import { z } from 'zod';

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

describe('loadHandlerConfig', () => {
  it('reads the raster settings on first use, once: later changes of the settings are not seen', () => {
    const env: Record<string, string | undefined> = { DAG_STORAGE_SILVER_COGS_CONTAINER: 'cogs-a' };
    const config = loadHandlerConfig(env);
    env.DAG_STORAGE_SILVER_COGS_CONTAINER = 'cogs-b';
    expect(config.raster.silverContainer).toBe('cogs-b');
    env.DAG_STORAGE_SILVER_COGS_CONTAINER = 'cogs-c';
    expect(config.raster.silverContainer).toBe('cogs-b');
    expect(config.raster).toBe(config.raster);
  });

  it('a wrong raster setting fails the raster tasks (non-retryable, naming it), not the loading', () => {
    const config = loadHandlerConfig({ DAG_RASTER_TRANSFER_CONCURRENCY: '0' });
    const read = () => config.raster;
    expect(read).toThrow(NonRetryableError);
    expect(read).toThrow(/DAG_RASTER_TRANSFER_CONCURRENCY must be an integer between 1 and 64, got "0"/);
  });
});

describe('executeHandler', () => {
  it("hands the runner's services (pool, config, blobs) to the handler", async () => {
    const pool = { fake: 'pool' } as unknown as DbPool;
    const services = handlerServices(pool, loadHandlerConfig({ DAG_WORKER_ETL_MOUNT_PATH: '/mnt/x' }));
    let seen: HandlerContext | undefined;
    const registry = new HandlerRegistry().register({
      name: 'peek',
      description: '',
      runners: ['activity'],
      defaultRunner: 'activity',
      params: z.object({}),
      run: async (_p: unknown, ctx: HandlerContext) => {
        seen = ctx;
        return { mount: ctx.config.raster.mountPath };
      },
    } as never);
    const r = await executeHandler(
      {
        pool,
        schema: 's',
        registry,
        log: { ...silent, child: () => ({ ...silent }) } as never,
        sourceApp: 't',
        services,
      },
      {
        jobId: 'j',
        nodeId: 'n',
        taskId: 't',
        attempt: 0,
        handler: 'peek',
        params: {},
        timeoutMs: 5000,
        timeoutSeconds: 5,
        runner: 'activity',
        mayHaveCheckpoint: false,
      },
    );
    expect(r).toMatchObject({ ok: true, output: { mount: '/mnt/x' } });
    expect(seen?.pool).toBe(pool);
    expect(seen?.config).toBe(services.config);
    expect(seen?.blobs).toBe(services.blobs);
  });
});

describe('handlers/ sources', () => {
  const root = path.join(__dirname, '../../handlers');
  const files = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory()
        ? files(path.join(dir, e.name))
        : e.name.endsWith('.ts')
          ? [path.join(dir, e.name)]
          : [],
    );
  const rel = (f: string) => path.relative(root, f).split(path.sep).join('/');

  it('no handler module imports pg (the pool comes from the context, its type from db/)', () => {
    const offenders = files(root).filter((f) => /from ['"]pg['"]/.test(readFileSync(f, 'utf8')));
    expect(offenders.map(rel)).toEqual([]);
  });

  it('only the configuration loader reads process.env (runProcess passes it to child processes)', () => {
    // The app's logger settings and the telemetry set-up read their own settings, first thing in a process.
    const allowed = new Set([
      'handlerConfig.ts',
      'runProcess.ts',
      'createLogger.ts',
      'telemetry/initTelemetry.ts',
    ]);
    const offenders = files(root).filter(
      (f) => !allowed.has(rel(f)) && /process\.env\b/.test(readFileSync(f, 'utf8')),
    );
    expect(offenders.map(rel)).toEqual([]);
  });
});
