// raster_ingest end to end as a user runs it: `dagmaster upload` puts the sample raster into blob
// storage, `dagmaster run workflows/raster_ingest.yaml` (the seed workflow, unchanged) runs it on the
// local stack (dev host, container worker, Azurite, Postgres) — both as child processes. The COG in
// silver-cogs passes GDAL's COG validator and the STAC item in Postgres passes the JSON Schemas.
import { execFile } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { launchAzurite, type AzuriteInstance } from '../../devhost';
import { validateStac } from '../../handlers/raster/stacValidator';
import { createTestSchema, dropTestSchema, TEST_DATABASE_URL, type TestSchema } from '../support/pg';
import { describeGdal, itHasGdal, run, tempDir, validateCog } from './support';

const ROOT = path.join(__dirname, '..', '..');
const SAMPLE = path.join(ROOT, 'samples', 'sample_rgb_utm33n.tif');
const cwd = tempDir('raster-cli-');
const mount = path.join(cwd, 'etl');
let azurite: AzuriteInstance;
let schema: TestSchema;
let stacSchema: string;
let failed = false;

beforeAll(async () => {
  mkdirSync(mount, { recursive: true });
  azurite = await launchAzurite();
  schema = await createTestSchema('rcli');
  stacSchema = `${schema.schema}_stac`;
}, 60_000);
afterAll(async () => {
  await azurite?.stop();
  if (failed) {
    console.error(
      `raster CLI test failed: schemas ${schema.schema}, ${schema.schema}_durable, ${stacSchema} kept`,
    );
    await schema.pool.end();
    await schema.adminPool.end();
    return;
  }
  await dropTestSchema(schema);
  const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS "${schema.schema}_durable" CASCADE`);
  await c.query(`DROP SCHEMA IF EXISTS "${stacSchema}" CASCADE`);
  await c.end();
  rmSync(cwd, { recursive: true, force: true });
});

function dagmaster(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(ROOT, 'bin', 'dagmaster.js'), ...args],
      {
        cwd,
        env: {
          ...process.env,
          DATABASE_URL: TEST_DATABASE_URL,
          DAG_DB_SCHEMA: schema.schema,
          AzureWebJobsStorage: azurite.connectionString,
          DAG_WORKER_ETL_MOUNT_PATH: mount,
          DAG_STAC_SCHEMA: stacSchema,
          DAG_TITILER_URL: 'https://titiler.test',
          LOG_LEVEL: 'error',
        },
        encoding: 'utf8',
        timeout: 180_000,
      },
      (error, stdout, stderr) => {
        const code = error ? ((error as { code?: number }).code ?? 1) : 0;
        resolve({ code: typeof code === 'number' ? code : 1, out: stdout, err: stderr });
      },
    );
  });
}

type Out = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describeGdal('raster_ingest through the CLI', () => {
  itHasGdal();

  it('dagmaster upload, then dagmaster run workflows/raster_ingest.yaml: COG in silver-cogs, STAC item in Postgres', async () => {
    try {
      const up = await dagmaster(['upload', SAMPLE, 'bronze/uploads/sample.tif']);
      expect(up.code, up.err).toBe(0);
      const r = await dagmaster([
        'run',
        path.join(ROOT, 'workflows', 'raster_ingest.yaml'),
        '--input',
        JSON.stringify({
          blob_name: 'uploads/sample.tif',
          container_name: 'bronze',
          collection_id: 'samples',
          dataset_id: 'ds-42',
        }),
        '--json',
      ]);
      expect(r.code, `${r.err}\n${r.out.slice(0, 2000)}`).toBe(0);
      const body = JSON.parse(r.out) as Out;
      expect(body.job.status).toBe('completed');
      const res = body.job.result_data as Out;
      expect(res.copy_to_mount).toMatchObject({ container_name: 'bronze', blob_name: 'uploads/sample.tif' });
      expect(res.validate_raster).toMatchObject({
        valid: true,
        raster_type: { type: 'rgb' },
        source_crs: 'EPSG:32633',
      });
      expect(res.create_cog).toMatchObject({
        cog_blob: 'uploads/sample_cog.tif',
        cog_container: 'silver-cogs',
        target_crs: 'EPSG:4326',
        compression: 'jpeg',
      });
      expect(res.ensure_collection).toMatchObject({
        collection_id: 'samples',
        created: true,
        backend: 'tables',
      });
      expect(res.register_stac_item).toMatchObject({
        item_id: 'sample_cog',
        collection_id: 'samples',
        inserted: true,
      });
      expect(res.register_stac_item.viewer_url).toMatch(/^https:\/\/titiler\.test\/cog\/viewer\?url=/);

      const blob = BlobServiceClient.fromConnectionString(azurite.connectionString)
        .getContainerClient('silver-cogs')
        .getBlobClient('uploads/sample_cog.tif');
      const file = path.join(cwd, 'sample_cog.tif');
      await blob.downloadToFile(file);
      const check = validateCog(file);
      expect(check.valid, check.output).toBe(true);
      expect(JSON.parse(run('gdalinfo', ['-json', file])).stac['proj:epsg']).toBe(4326);

      // The stack ran the app as its own login; the test reads the results as the administrator.
      const rows = await schema.adminPool.query(
        `SELECT content FROM "${stacSchema}".stac_items WHERE collection_id = 'samples'`,
      );
      expect(rows.rows).toHaveLength(1);
      const item = rows.rows[0].content as Out;
      expect(validateStac(item, 'item')).toEqual({ valid: true, errors: [] });
      expect(item.assets.data.href).toBe(blob.url);
      expect(item.properties).toMatchObject({
        datetime: '2026-01-15T10:30:00.000Z',
        'ddh:dataset_id': 'ds-42',
        'proj:epsg': 4326,
      });
      const coll = await schema.adminPool.query(
        `SELECT content FROM "${stacSchema}".stac_collections WHERE id = 'samples'`,
      );
      expect(validateStac(coll.rows[0].content, 'collection').errors).toEqual([]);
    } catch (err) {
      failed = true;
      throw err;
    }
  }, 240_000);
});
