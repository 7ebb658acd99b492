// STAC: documents valid against the shipped JSON Schemas (and invalid ones refused), the catalog in
// Postgres (the product's tables, created on first use; pgSTAC's functions when the database has
// them — here a stand-in schema with the same function signatures), and the three STAC handlers on a
// real COG in Azurite with the params raster_ingest.yaml passes.
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson, ensureStacTables, openStacCatalog, searchHash } from '../../db/stacCatalog';
import { CreateCogParams, createCog } from '../../handlers/raster/createCog';
import type { CogFacts } from '../../handlers/raster/cogFacts';
import { ProcessTileBatchParams, processTileBatch } from '../../handlers/raster/processTileBatch';
import { closeTestHandlerPool } from '../support/handlerContext';
import { loadRasterConfig } from '../../handlers/raster/rasterConfig';
import {
  buildCollection,
  buildItem,
  extendCollectionExtent,
  mergeCollection,
} from '../../handlers/raster/stacDocuments';
import { EnsureCollectionParams, stacEnsureCollection } from '../../handlers/raster/stacEnsureCollection';
import { RegisterItemParams, stacRegisterItem } from '../../handlers/raster/stacRegisterItem';
import { RegisterItemsParams, stacRegisterItems } from '../../handlers/raster/stacRegisterItems';
import { validateStac } from '../../handlers/raster/stacValidator';
import { generateTilingScheme, TilingParams } from '../../handlers/raster/tilingScheme';
import { ValidateParams, validateRaster } from '../../handlers/raster/validateRaster';
import { createTestSchema, dropTestSchema, TEST_DATABASE_URL, type TestSchema } from '../support/pg';
import { describeGdal, fakeCtx, itHasGdal, makeRaster, SPECS, tempDir, useAzurite, useEnv } from './support';

type Out = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const config = loadRasterConfig({
  DAG_TITILER_URL: 'https://tiles.test',
  DAG_PGSTAC_URL: 'https://stac.test/api',
});
const facts: CogFacts = {
  epsg: 4326,
  shape: [172, 317],
  transform: [0.0001, 0, 15, 0, -0.0001, 36.14],
  proj_bbox: [15, 36.12, 15.03, 36.14],
  bbox: [15, 36.12, 15.03, 36.14],
  overview_levels: 0,
  bands: [
    { data_type: 'float32', nodata: -9999, statistics: { minimum: 1, maximum: 5, mean: 2, stddev: 1 } },
  ],
};
const item = (over: Partial<Parameters<typeof buildItem>[1]> = {}) =>
  buildItem(config, {
    id: 'dem_cog',
    collectionId: 'dems',
    facts,
    href: 'http://127.0.0.1:1/devstoreaccount1/silver-cogs/dem_cog.tif',
    datetime: '2026-01-02T03:04:05.000Z',
    ...over,
  });

describe('STAC documents and the shipped JSON Schemas', () => {
  it('an item (projection + raster extensions) and a collection are valid', () => {
    const i = item({ tiler: { viewer_url: 'https://tiles.test/v', tilejson_url: 'https://tiles.test/t' } });
    expect(validateStac(i, 'item')).toEqual({ valid: true, errors: [] });
    expect(i).toMatchObject({
      stac_version: '1.0.0',
      stac_extensions: [
        'https://stac-extensions.github.io/projection/v1.1.0/schema.json',
        'https://stac-extensions.github.io/raster/v1.1.0/schema.json',
      ],
      properties: { 'proj:epsg': 4326, 'proj:shape': [172, 317] },
      assets: { data: { type: 'image/tiff; application=geotiff; profile=cloud-optimized', roles: ['data'] } },
    });
    expect((i.links as Out[]).find((l) => l.rel === 'self')?.href).toBe(
      'https://stac.test/api/collections/dems/items/dem_cog',
    );
    const c = buildCollection(config, {
      id: 'dems',
      bbox: [15, 36, 16, 37],
      start: '2026-01-01T00:00:00Z',
      tiled: { rows: 2, cols: 3 },
    });
    expect(validateStac(c, 'collection')).toEqual({ valid: true, errors: [] });
  });

  it.each([
    ['a datetime that is not one', (i: Out) => (i.properties.datetime = 'yesterday'), /datetime/],
    [
      'proj:shape with 3 numbers',
      (i: Out) => (i.properties['proj:shape'] = [1, 2, 3]),
      /projection.*proj:shape/,
    ],
    [
      'an unknown raster data type',
      (i: Out) => (i.assets.data['raster:bands'][0].data_type = 'float99'),
      /raster.*data_type/,
    ],
    ['no links', (i: Out) => delete i.links, /links/],
    ['a bbox of 3 numbers', (i: Out) => (i.bbox = [1, 2, 3]), /bbox/],
    [
      'an extension without a shipped schema',
      (i: Out) => i.stac_extensions.push('https://example.com/x.json'),
      /no schema shipped/,
    ],
  ])('an item with %s is refused', (_what, spoil, msg) => {
    const i = item() as Out;
    spoil(i);
    const v = validateStac(i, 'item');
    expect(v.valid).toBe(false);
    expect(v.errors.join('\n')).toMatch(msg);
  });

  it('a collection merge grows the extent and keeps the earliest start', () => {
    const a = buildCollection(config, {
      id: 'c',
      bbox: [0, 0, 1, 1],
      start: '2026-02-01T00:00:00Z',
      title: 'old',
    });
    const b = buildCollection(config, { id: 'c', bbox: [2, -1, 3, 0.5], start: '2026-01-01T00:00:00Z' });
    const m = mergeCollection(a, b) as Out;
    expect(m.extent).toEqual({
      spatial: { bbox: [[0, -1, 3, 1]] },
      temporal: { interval: [['2026-01-01T00:00:00Z', null]] },
    });
    expect(validateStac(m, 'collection').valid).toBe(true);
  });

  it('without a configured STAC API or TiTiler, documents hold no placeholder links and stay valid', () => {
    const unconfigured = loadRasterConfig({});
    expect(unconfigured.stacApiIsPlaceholder).toBe(true);
    const i = buildItem(unconfigured, {
      id: 'dem_cog',
      collectionId: 'dems',
      // A copy: the refusal tests above edit the shared facts' band through the items they built.
      facts: { ...structuredClone(facts), bands: [{ data_type: 'float32' }] },
      href: 'http://127.0.0.1:1/devstoreaccount1/silver-cogs/dem_cog.tif',
      datetime: '2026-01-02T03:04:05.000Z',
    });
    const c = buildCollection(unconfigured, { id: 'dems', start: '2026-01-01T00:00:00Z' });
    expect(JSON.stringify([i, c])).not.toContain('example.com');
    expect((i.links as Out[]).map((l) => l.rel)).toEqual(['collection']);
    expect(c.links).toEqual([]);
    expect(validateStac(i, 'item')).toEqual({ valid: true, errors: [] });
    expect(validateStac(c, 'collection')).toEqual({ valid: true, errors: [] });
  });

  it('a collection grows to contain the items registered in it, in space and in time', () => {
    const c = buildCollection(config, {
      id: 'dems',
      bbox: [16, 37, 17, 38],
      start: '2026-12-05T10:00:00.000Z',
    });
    const older = item({ datetime: '2019-06-01T00:00:00Z' });
    const later = {
      ...item(),
      properties: { ...(item().properties as Out), datetime: '2027-01-01T00:00:00Z' },
    };
    const grown = extendCollectionExtent(c, [older]) as Out;
    expect(grown.extent).toEqual({
      spatial: { bbox: [[15, 36.12, 17, 38]] },
      temporal: { interval: [['2019-06-01T00:00:00.000Z', null]] },
    });
    // An open end stays open; a closed one widens.
    const closed = {
      ...c,
      extent: {
        ...(c.extent as Out),
        temporal: { interval: [['2026-01-01T00:00:00Z', '2026-02-01T00:00:00Z']] },
      },
    };
    expect((extendCollectionExtent(closed, [later]) as Out).extent.temporal.interval).toEqual([
      ['2026-01-01T00:00:00Z', '2027-01-01T00:00:00.000Z'],
    ]);
    expect(validateStac(grown, 'collection').valid).toBe(true);
  });

  it('search hashes ignore key order', () => {
    expect(canonicalJson({ b: [1, { d: 1, c: 2 }], a: 'x' })).toBe('{"a":"x","b":[1,{"c":2,"d":1}]}');
    expect(searchHash({ collections: ['a'], bbox: [1, 2, 3, 4] })).toBe(
      searchHash({ bbox: [1, 2, 3, 4], collections: ['a'] }),
    );
  });
});

describe('the catalog tables (no pgSTAC)', () => {
  let t: TestSchema;
  beforeAll(async () => {
    t = await createTestSchema('stac');
  });
  afterAll(async () => {
    await dropTestSchema(t);
  });

  // ensureStacTables is the DDL path for a database the migrations have not prepared (it creates the
  // tables itself): it runs as the administrator here, so the checks read as the administrator too.
  it('are created once, concurrently, idempotently; collections, items and searches upsert', async () => {
    const pools = Array.from(
      { length: 3 },
      () => new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 2 }),
    );
    try {
      await Promise.all(pools.map((p) => ensureStacTables(p, t.schema)));
      await ensureStacTables(pools[0]!, t.schema);
      const cat = await openStacCatalog(pools[0]!, {
        schema: t.schema,
        pgstacSchema: 'no_pgstac_here',
        backend: 'auto',
      });
      expect(cat.backend).toBe('tables');
      const c1 = buildCollection(config, {
        id: 'dems',
        bbox: [15, 36, 15.1, 36.2],
        start: '2026-01-01T00:00:00Z',
      });
      const check = (d: Out) => expect(validateStac(d, 'collection').valid).toBe(true);
      expect((await cat.upsertCollection('dems', (e) => mergeCollection(e, c1), check)).created).toBe(true);
      const c2 = buildCollection(config, {
        id: 'dems',
        bbox: [14, 36, 15.05, 36.1],
        start: '2026-03-01T00:00:00Z',
      });
      const r2 = await cat.upsertCollection('dems', (e) => mergeCollection(e, c2), check);
      expect(r2.created).toBe(false);
      expect((await cat.getCollection('dems'))?.extent).toMatchObject({
        spatial: { bbox: [[14, 36, 15.1, 36.2]] },
      });
      expect((await cat.upsertItems('dems', [item()])).inserted).toEqual(['dem_cog']);
      expect((await cat.upsertItems('dems', [item(), item({ id: 'other' })])).inserted).toEqual(['other']);
      expect((await cat.getItem('dems', 'dem_cog'))?.id).toBe('dem_cog');
      const h1 = await cat.registerSearch({ collections: ['dems'] }, { name: 'a' });
      const h2 = await cat.registerSearch({ collections: ['dems'] }, { name: 'b' });
      expect(h1).toBe(h2);
      const rows = await t.adminPool.query(`SELECT use_count, metadata FROM "${t.schema}".stac_searches`);
      expect(rows.rows).toEqual([{ use_count: 2, metadata: { name: 'b' } }]);
      const bbox = await t.adminPool.query(
        `SELECT west, south, east, north, datetime FROM "${t.schema}".stac_items WHERE id = 'dem_cog'`,
      );
      expect(bbox.rows[0]).toMatchObject({ west: 15, south: 36.12, east: 15.03, north: 36.14 });
      // A refused document writes nothing.
      await expect(
        cat.upsertCollection(
          'dems',
          () => ({ ...c1, license: 'not a license!' }),
          (d) => {
            if (!validateStac(d, 'collection').valid) throw new Error('refused');
          },
        ),
      ).rejects.toThrow('refused');
      expect((await cat.getCollection('dems'))?.license).toBe('proprietary');
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });
});

/** A stand-in for pgSTAC: its function signatures over plain tables, recording what was written. */
async function fakePgstac(pool: pg.Pool, s: string, appRole: string): Promise<void> {
  await pool.query(`
    CREATE SCHEMA "${s}";
    CREATE TABLE "${s}".collections (id text PRIMARY KEY, content jsonb);
    CREATE TABLE "${s}".items (id text, collection text, content jsonb, PRIMARY KEY (collection, id));
    CREATE TABLE "${s}".searches (hash text PRIMARY KEY, search jsonb, metadata jsonb);
    CREATE FUNCTION "${s}".upsert_collection(data jsonb) RETURNS void LANGUAGE sql AS
      $$ INSERT INTO "${s}".collections VALUES (data->>'id', data) ON CONFLICT (id) DO UPDATE SET content = EXCLUDED.content $$;
    CREATE FUNCTION "${s}".get_collection(id text) RETURNS jsonb LANGUAGE sql AS
      $$ SELECT content FROM "${s}".collections c WHERE c.id = $1 $$;
    CREATE FUNCTION "${s}".upsert_items(data jsonb) RETURNS void LANGUAGE sql AS
      $$ INSERT INTO "${s}".items SELECT e->>'id', e->>'collection', e FROM jsonb_array_elements(data) e
         ON CONFLICT (collection, id) DO UPDATE SET content = EXCLUDED.content $$;
    CREATE FUNCTION "${s}".get_item(_id text, _collection text DEFAULT NULL) RETURNS jsonb LANGUAGE sql AS
      $$ SELECT content FROM "${s}".items WHERE id = _id AND collection = _collection $$;
    CREATE FUNCTION "${s}".search_query(_search jsonb = '{}', updatestats boolean = false, _metadata jsonb = '{}')
      RETURNS "${s}".searches LANGUAGE sql AS
      $$ INSERT INTO "${s}".searches VALUES (md5(_search::text), _search, _metadata)
         ON CONFLICT (hash) DO UPDATE SET metadata = EXCLUDED.metadata RETURNING * $$;
    -- What a pgSTAC installation grants its writers (pgstac_ingest): the app's role uses the functions.
    GRANT USAGE ON SCHEMA "${s}" TO "${appRole}";
    GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA "${s}" TO "${appRole}";
  `);
}

const mount = tempDir('stac-mnt-');
const azurite = useAzurite();
let t: TestSchema;
const pgstacSchema = `pgstac_${randomBytes(4).toString('hex')}`;
useEnv(() => ({
  DAG_WORKER_ETL_MOUNT_PATH: mount,
  DAG_STORAGE_CONNECTION: azurite().connectionString,
  DATABASE_URL: TEST_DATABASE_URL,
  DAG_TITILER_URL: 'https://tiles.test/',
  DAG_PGSTAC_URL: 'https://stac.test/api',
  DAG_PGSTAC_SCHEMA: pgstacSchema,
}));
beforeAll(async () => {
  // The handlers run as the app's login, on the STAC tables the migrations created (as on Azure).
  t = await createTestSchema('stach');
  await t.migrate();
  process.env.DAG_STAC_SCHEMA = t.stacSchema;
  process.env.DATABASE_URL = t.url;
});
afterAll(async () => {
  rmSync(mount, { recursive: true, force: true });
  delete process.env.DAG_STAC_SCHEMA;
  await closeTestHandlerPool();
  await t.adminPool.query(`DROP SCHEMA IF EXISTS "${pgstacSchema}" CASCADE`);
  await dropTestSchema(t);
});

describeGdal('the STAC handlers on a real COG', () => {
  itHasGdal();
  let v: Out;
  let cog: Out;
  beforeAll(async () => {
    const file = makeRaster(path.join(mount, 'input', 'jobS', 'uploads', 'dem.tif'), SPECS.dem);
    v = (await validateRaster.run(ValidateParams.parse({ local_path: file }), fakeCtx())) as Out;
    cog = (await createCog.run(
      CreateCogParams.parse({ local_path: file, validation: v, target_crs: 'EPSG:4326', output_folder: '' }),
      fakeCtx({ jobId: 'jobS', nodeId: 'create_cog' }),
    )) as Out;
  }, 60_000);

  const seedCollection = (over: Record<string, unknown> = {}) =>
    stacEnsureCollection.run(
      EnsureCollectionParams.parse({
        collection_id: 'dems',
        title: '',
        bounds: v.bounds,
        dataset_id: '',
        access_level: '',
        ...over,
      }),
      fakeCtx(),
    ) as Promise<Out>;
  const seedItem = (over: Record<string, unknown> = {}) =>
    stacRegisterItem.run(
      RegisterItemParams.parse({
        cog_blob: cog.cog_blob,
        cog_container: cog.cog_container,
        validation: v,
        collection_id: 'dems',
        item_id: '',
        title: '',
        dataset_id: 'ds-1',
        access_level: '',
        ...over,
      }),
      fakeCtx({ jobId: 'jobS' }),
    ) as Promise<Out>;

  it('ensure_collection creates, then updates; register_item writes a valid item with URLs from configuration', async () => {
    const missing = await seedItem().catch((e: unknown) => e as Error);
    expect(String(missing)).toMatch(
      /STAC collection dems does not exist in stach_\w+ \(tables\): run raster.stac_ensure_collection first/,
    );
    const c1 = await seedCollection();
    expect(c1).toMatchObject({
      collection_id: 'dems',
      created: true,
      updated: false,
      backend: 'tables',
      collection_url: 'https://stac.test/api/collections/dems',
    });
    const c2 = await seedCollection({ title: 'DEMs', bounds: [10, 30, 11, 31] });
    expect(c2.created).toBe(false);
    expect(c2.stac_collection.title).toBe('DEMs');
    expect(c2.extent.bbox[0][0]).toBe(10);
    expect(c2.extent.bbox[0][2]).toBeCloseTo(v.bounds[2], 6);

    const r = await seedItem();
    expect(r).toMatchObject({
      item_id: 'dem_cog',
      collection_id: 'dems',
      inserted: true,
      backend: 'tables',
      titiler_configured: true,
    });
    expect(r.asset_href).toBe(cog.cog_url);
    expect(r.viewer_url).toBe(
      `https://tiles.test/cog/viewer?url=${encodeURIComponent(cog.cog_url)}&rescale=${r.stac_item.assets.data['raster:bands'][0].statistics.minimum}%2C${r.stac_item.assets.data['raster:bands'][0].statistics.maximum}`,
    );
    expect(r.tilejson_url).toMatch(/^https:\/\/tiles\.test\/cog\/WebMercatorQuad\/tilejson\.json\?url=/);
    expect(r.mosaic_viewer).toBe(
      `https://tiles.test/searches/${r.search_id}/WebMercatorQuad/map?assets=data`,
    );
    expect(r.stac_urls.item).toBe('https://stac.test/api/collections/dems/items/dem_cog');
    const stored = (
      await t.pool.query(`SELECT content FROM "${t.stacSchema}".stac_items WHERE id = 'dem_cog'`)
    ).rows[0].content;
    expect(validateStac(stored, 'item')).toEqual({ valid: true, errors: [] });
    expect(stored.properties).toMatchObject({
      'proj:epsg': 4326,
      'proj:shape': cog.shape,
      'ddh:dataset_id': 'ds-1',
      'dag:raster_type': 'dem',
    });
    expect(stored.properties).not.toHaveProperty('ddh:access_level');
    expect(stored.assets.data['raster:bands']).toEqual([
      expect.objectContaining({ data_type: 'float32', nodata: -9999 }),
    ]);
    expect(stored.assets.data['dag:file_checksum']).toBe(cog.file_checksum);
    expect((await seedItem()).inserted).toBe(false);

    // The collection was made "now"; an item acquired in 2019 widens its temporal extent.
    await seedItem({ item_id: 'dem_2019', datetime: '2019-06-01T00:00:00Z' });
    const collection = (
      await t.pool.query(`SELECT content FROM "${t.stacSchema}".stac_collections WHERE id = 'dems'`)
    ).rows[0].content;
    const [[start]] = collection.extent.temporal.interval;
    expect(new Date(start).getTime()).toBeLessThanOrEqual(Date.parse('2019-06-01T00:00:00Z'));
    const [w, s_, e, n] = collection.extent.spatial.bbox[0];
    const [iw, is, ie, iN] = stored.bbox;
    expect(w <= iw && s_ <= is && e >= ie && n >= iN).toBe(true);
    expect(validateStac(collection, 'collection').valid).toBe(true);
  });

  it('refuses a COG that does not exist, and an invalid collection (nothing written)', async () => {
    await expect(seedItem({ cog_blob: 'nope.tif' })).rejects.toThrow(
      /COG silver-cogs\/nope.tif does not exist/,
    );
    await expect(seedCollection({ collection_id: 'bad', license: 'not a license!' })).rejects.toThrow(
      /STAC collection bad is not valid STAC 1.0.0 \(not written\): .*license/,
    );
    const n = await t.pool.query(
      `SELECT count(*)::int AS n FROM "${t.stacSchema}".stac_collections WHERE id = 'bad'`,
    );
    expect(n.rows[0].n).toBe(0);
    expect(EnsureCollectionParams.safeParse({ collection_id: 'a/b' }).success).toBe(false);
  });

  it('register_items: one valid item per tile, bulk, with a search over their bounds', async () => {
    const file = path.join(mount, 'input', 'jobS', 'uploads', 'dem.tif');
    const s = (await generateTilingScheme.run(
      TilingParams.parse({
        local_path: file,
        validation: v,
        target_crs: 'EPSG:4326',
        tile_size: 128,
        tile_overlap: 8,
      }),
      fakeCtx({ jobId: 'jobS', nodeId: 'tiling' }),
    )) as Out;
    const b = (await processTileBatch.run(
      ProcessTileBatchParams.parse({ local_path: file, validation: v, grid: s.grid, tiles: s.tiles }),
      fakeCtx({ jobId: 'jobS', nodeId: 'tiles__0' }),
    )) as Out;
    await seedCollection({
      collection_id: 'dem_tiles',
      is_tiled: true,
      grid_rows: s.grid_dimensions.rows,
      grid_cols: s.grid_dimensions.cols,
    });
    const r = (await stacRegisterItems.run(
      RegisterItemsParams.parse({
        collection_id: 'dem_tiles',
        tile_batches: [b],
        validation: v,
        title: '',
        dataset_id: '',
      }),
      fakeCtx({ jobId: 'jobS' }),
    )) as Out;
    expect(r).toMatchObject({
      items_created: s.tile_count,
      items_failed: 0,
      total_tiles: s.tile_count,
      collection_bounds: b.collection_bounds,
    });
    expect(r.item_ids[0]).toBe('dem_tile_r0_c0');
    const rows = (
      await t.pool.query(
        `SELECT content FROM "${t.stacSchema}".stac_items WHERE collection_id = 'dem_tiles' ORDER BY id`,
      )
    ).rows;
    expect(rows).toHaveLength(s.tile_count);
    for (const row of rows) expect(validateStac(row.content, 'item').errors).toEqual([]);
    expect(rows[0].content.properties).toMatchObject({ 'tile:row': 0, 'tile:col': 0 });
    const again = (await stacRegisterItems.run(
      RegisterItemsParams.parse({ collection_id: 'dem_tiles', tiles: b, cog_container: '' }),
      fakeCtx(),
    )) as Out;
    expect(again).toMatchObject({ items_created: 0, items_updated: s.tile_count, search_id: r.search_id });
  });

  it('tiles of a scene across the antimeridian: items split at ±180, a collection extent that crosses, a search by geometry', async () => {
    const file = makeRaster(path.join(mount, 'input', 'jobF', 'uploads', 'fiji.tif'), {
      width: 400,
      height: 300,
      bands: 3,
      dtype: 'Byte',
      srs: 'EPSG:32760',
      geotransform: [700_000, 500, 0, 8_150_000, 0, -500],
      colorInterp: ['Red', 'Green', 'Blue'],
    });
    const fv = (await validateRaster.run(ValidateParams.parse({ local_path: file }), fakeCtx())) as Out;
    const s = (await generateTilingScheme.run(
      TilingParams.parse({
        local_path: file,
        validation: fv,
        target_crs: 'EPSG:4326',
        tile_size: 128,
        tile_overlap: 0,
      }),
      fakeCtx({ jobId: 'jobF', nodeId: 'tiling' }),
    )) as Out;
    expect(s.bounds[0]).toBeGreaterThan(s.bounds[2]);
    const b = (await processTileBatch.run(
      ProcessTileBatchParams.parse({ local_path: file, validation: fv, grid: s.grid, tiles: s.tiles }),
      fakeCtx({ jobId: 'jobF', nodeId: 'tiles__0' }),
    )) as Out;
    // Tiles on both sides of 180°: the union crosses, it is not the world.
    const boxes = (b.tile_cogs as Array<{ bbox: number[] }>).map((t) => t.bbox);
    expect(boxes.some((x) => x[0]! > 0 && x[2]! > 0)).toBe(true);
    expect(boxes.some((x) => x[0]! < 0 && x[2]! < 0)).toBe(true);
    expect(b.collection_bounds[0]).toBeGreaterThan(b.collection_bounds[2]);
    expect(b.collection_bounds[2] + 360 - b.collection_bounds[0]).toBeLessThan(3);
    await seedCollection({ collection_id: 'pacific', bounds: fv.bounds, is_tiled: true });
    const r = (await stacRegisterItems.run(
      RegisterItemsParams.parse({
        collection_id: 'pacific',
        tile_batches: [b],
        validation: fv,
        title: '',
        dataset_id: '',
      }),
      fakeCtx({ jobId: 'jobF' }),
    )) as Out;
    expect(r.items_failed).toBe(0);
    const rows = (
      await t.pool.query(`SELECT content FROM "${t.stacSchema}".stac_items WHERE collection_id = 'pacific'`)
    ).rows;
    for (const row of rows) expect(validateStac(row.content, 'item').errors).toEqual([]);
    expect(rows.some((row) => row.content.geometry.type === 'MultiPolygon')).toBe(true);
    const coll = (
      await t.pool.query(`SELECT content FROM "${t.stacSchema}".stac_collections WHERE id = 'pacific'`)
    ).rows[0].content;
    const extent = coll.extent.spatial.bbox[0];
    expect(extent[0]).toBeGreaterThan(extent[2]);
    expect(validateStac(coll, 'collection').errors).toEqual([]);
    const search = (
      await t.pool.query(`SELECT search FROM "${t.stacSchema}".stac_searches WHERE hash = $1`, [r.search_id])
    ).rows[0].search;
    expect(search.bbox).toBeUndefined();
    expect(search.intersects.type).toBe('MultiPolygon');
  });

  it('uses pgSTAC functions when the database has them', async () => {
    await fakePgstac(t.adminPool, pgstacSchema, t.appRole);
    const c = await seedCollection({ collection_id: 'pg_dems' });
    expect(c).toMatchObject({ backend: 'pgstac', catalog_schema: pgstacSchema, created: true });
    const r = await seedItem({ collection_id: 'pg_dems', item_id: 'my-item' });
    expect(r).toMatchObject({ backend: 'pgstac', item_id: 'my-item' });
    const items = await t.pool.query(`SELECT content FROM "${pgstacSchema}".items`);
    expect(items.rows).toHaveLength(1);
    expect(validateStac(items.rows[0].content, 'item').valid).toBe(true);
    const searches = await t.pool.query(`SELECT hash FROM "${pgstacSchema}".searches`);
    expect(searches.rows.map((x) => x.hash)).toEqual([r.search_id]);
    // The product's own tables were not touched by these calls.
    const own = await t.pool.query(
      `SELECT count(*)::int AS n FROM "${t.stacSchema}".stac_collections WHERE id = 'pg_dems'`,
    );
    expect(own.rows[0].n).toBe(0);
  });
});
