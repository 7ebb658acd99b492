// The original system's setting names (issue 16, docs/compatibility.md "Configuration"): each fills
// this product's name when that one is unset; the product's name wins when both are set.
import { describe, expect, it } from 'vitest';
import { loadWorkerConfig } from '../../container-worker/workerConfig';
import { loadDbConfig } from '../../db';
import { withSettingAliases } from '../../db/settingAliases';
import { loadConfig } from '../../functions/config';
import { createLogger } from '../../handlers/createLogger';
import { loadRasterConfig } from '../../handlers/raster/rasterConfig';

describe("the original's setting names", () => {
  it('DAG_DB_URL and DAG_DB_SSLMODE configure the database', () => {
    const c = loadDbConfig({ DAG_DB_URL: 'postgres://u@db:5432/orig', DAG_DB_SSLMODE: 'prefer' });
    expect(c.connectionString).toBe('postgres://u@db:5432/orig');
    expect(c.ssl).toBe('require');
    expect(loadDbConfig({ DAG_DB_URL: 'postgres://u@db/x', DAG_DB_SSLMODE: 'verify-ca' }).ssl).toBe(
      'verify-full',
    );
    expect(loadDbConfig({ DAG_DB_URL: 'postgres://u@db/x', DAG_DB_SSLMODE: 'disable' }).ssl).toBe('disable');
    // The product's names win.
    const both = loadDbConfig({
      DATABASE_URL: 'postgres://u@db/new',
      DAG_DB_URL: 'postgres://u@db/old',
      DAG_DB_SSL: 'disable',
      DAG_DB_SSLMODE: 'require',
    });
    expect(both).toMatchObject({ connectionString: 'postgres://u@db/new', ssl: 'disable' });
  });

  it('DAG_LOG_FORMAT and DAG_LOG_LEVEL (Python level names) configure the logs', () => {
    const lines: string[] = [];
    const log = createLogger({}, { DAG_LOG_FORMAT: 'JSON', DAG_LOG_LEVEL: 'WARNING' }, (l) => lines.push(l));
    log.info('hidden');
    log.warn('shown', { job_id: 'j1' });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'warn', job_id: 'j1' });
    const product: string[] = [];
    createLogger({}, { LOG_LEVEL: 'debug', DAG_LOG_LEVEL: 'ERROR' }, (l) => product.push(l)).info('x');
    expect(product).toHaveLength(1);
  });

  it('DAG_STORAGE_BRONZE_ACCOUNT and DAG_STORAGE_SILVER_ACCOUNT name the blob accounts', () => {
    const r = loadRasterConfig({
      DAG_STORAGE_BRONZE_ACCOUNT: 'rmhbronze',
      DAG_STORAGE_SILVER_ACCOUNT: 'rmhsilver',
      DAG_STORAGE_SILVEREXT_ACCOUNT: 'rmhsilverext',
      DAG_STORAGE_GOLD_ACCOUNT: 'rmhgold',
    });
    expect(r.blobServiceUrl).toBe('https://rmhbronze.blob.core.windows.net');
    expect(r.silverAccount).toEqual({ blobServiceUrl: 'https://rmhsilver.blob.core.windows.net' });
  });

  it('DAG_WORKER_QUEUE is the worker queue list', () => {
    const w = loadWorkerConfig({
      DATABASE_URL: 'postgres://x@h/d',
      DAG_QUEUE_SERVICE_URL: 'https://a.queue.core.windows.net',
      DAG_WORKER_QUEUE: 'dag-worker-tasks',
    });
    expect(w.queues).toEqual(['dag-worker-tasks']);
    expect(loadConfig({ DAG_WORKER_QUEUE: 'dag-worker-tasks' }).DAG_WORKER_QUEUES).toEqual([
      'dag-worker-tasks',
    ]);
  });

  it('the mapping leaves the settings alone when no original name is set', () => {
    const env = { DATABASE_URL: 'postgres://a@b/c' };
    expect(withSettingAliases(env)).toBe(env);
  });
});
