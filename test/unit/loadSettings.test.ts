// The configuration loaders share one pattern (db/loadSettings.ts): a zod schema over the
// environment, each problem naming its variable. Their messages are the ones they always gave.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadDbConfig } from '../../db/createPool';
import { intSetting, parseSettings } from '../../lib/loadSettings';
import { loadConfig } from '../../functions/config';
import { loadRasterConfig } from '../../handlers/raster/rasterConfig';

describe('parseSettings', () => {
  const Schema = z.object({ A: intSetting(5, 1, 10), B: intSetting(1, 0, 2) });

  it('gives the typed configuration, defaults for unset or blank variables', () => {
    expect(parseSettings(Schema, { A: ' ', B: '2' })).toEqual({ ok: true, config: { A: 5, B: 2 } });
  });

  it('names every wrong variable with its value, in the schema order', () => {
    expect(parseSettings(Schema, { B: 'x', A: '11' })).toEqual({
      ok: false,
      problems: [
        { variable: 'A', value: '11', message: 'must be an integer between 1 and 10, got "11"' },
        { variable: 'B', value: 'x', message: 'must be an integer between 0 and 2, got "x"' },
      ],
    });
  });
});

describe('the loaders', () => {
  const db = { DATABASE_URL: 'postgres://u@h/d' };

  it('loadDbConfig: the first wrong variable, as VAR="value" …', () => {
    expect(() => loadDbConfig({ ...db, DAG_DB_PORT: 'abc' })).toThrow(
      'DAG_DB_PORT="abc" is not an integer between 1 and 65535.',
    );
    expect(() => loadDbConfig({ ...db, DAG_DB_SSL: 'maybe' })).toThrow(
      'DAG_DB_SSL="maybe" is not one of disable, require, verify-full.',
    );
    expect(() => loadDbConfig({})).toThrow(/^No database configured/);
    expect(loadDbConfig({ ...db, DAG_DB_AUTH: 'Entra', DAG_DB_POOL_MAX: '7' })).toMatchObject({
      auth: 'entra',
      poolMax: 7,
      port: 5432,
      schema: 'dagapp',
      applicationName: 'rmhdagmaster',
    });
  });

  it('loadConfig (Function App): every wrong variable, then the docs', () => {
    expect(() => loadConfig({ DAG_FANOUT_CHUNK_SIZE: '0', DAG_RESULT_QUEUE: 'Bad_Queue' })).toThrow(
      /^Invalid configuration: DAG_RESULT_QUEUE: must be a valid Storage Queue name .*; DAG_FANOUT_CHUNK_SIZE: must be an integer between 1 and 5000, got "0"\. See docs\/configuration\.md\.$/,
    );
  });

  it('loadRasterConfig: every wrong variable, non-retryable', () => {
    expect(() =>
      loadRasterConfig({
        DAG_STORAGE_BLOB_URL: 'acct',
        DAG_STORAGE_SILVER_BLOB_URL: 'https://s.blob.core.windows.net/',
      }),
    ).toThrow(
      'Invalid raster configuration: DAG_STORAGE_BLOB_URL must be https://<account>.blob.core.windows.net, got "acct". See docs/raster.md.',
    );
    expect(
      loadRasterConfig({ DAG_STORAGE_SILVER_BLOB_URL: 'https://s.blob.core.windows.net/' }).silverAccount,
    ).toEqual({ blobServiceUrl: 'https://s.blob.core.windows.net' });
  });
});
