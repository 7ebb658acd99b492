// The STAC catalog in Postgres. Two backends behind one interface:
//  - pgSTAC, when the database has it (schema `pgstac` by default): its own functions
//    upsert_collection / upsert_items / get_collection / get_item / search_query, so pgSTAC's
//    partitions, indexes and TiTiler-pgSTAC's searches stay consistent;
//  - otherwise the product's own tables (stac_collections, stac_items, stac_searches) in their own
//    schema (`stac` by default), created idempotently on first use from the zod models below.
// Writes of a collection are read-modify-write (its extent grows with every item), serialised per
// collection with an advisory lock.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { withAdvisoryLock } from './advisoryLock';
import { col, defineTable } from './defineTable';
import { generateDdl } from './generateDdl';
import { query, type Queryable } from './queryable';
import { sql } from './sql';

export const stacCollectionsTable = defineTable({
  name: 'stac_collections',
  columns: z.object({
    id: col.text(),
    content: col.jsonObject(),
    created_at: col.timestamptz(),
    updated_at: col.timestamptz(),
  }),
  primaryKey: ['id'],
  sqlDefaults: { created_at: 'now()', updated_at: 'now()' },
});

export const stacItemsTable = defineTable({
  name: 'stac_items',
  columns: z.object({
    collection_id: col.text(),
    id: col.text(),
    content: col.jsonObject(),
    /** The item's bbox (WGS 84), for bbox queries without PostGIS. */
    west: col.double().nullable(),
    south: col.double().nullable(),
    east: col.double().nullable(),
    north: col.double().nullable(),
    datetime: col.timestamptz().nullable(),
    created_at: col.timestamptz(),
    updated_at: col.timestamptz(),
  }),
  primaryKey: ['collection_id', 'id'],
  foreignKeys: [
    {
      name: 'stac_items_collection_id_fkey',
      columns: ['collection_id'],
      references: { table: 'stac_collections', columns: ['id'] },
      onDelete: 'CASCADE',
    },
  ],
  indexes: [
    { name: 'stac_items_datetime_idx', columns: ['collection_id', 'datetime'] },
    { name: 'stac_items_bbox_idx', columns: ['west', 'south', 'east', 'north'] },
  ],
  sqlDefaults: { created_at: 'now()', updated_at: 'now()' },
});

export const stacSearchesTable = defineTable({
  name: 'stac_searches',
  columns: z.object({
    hash: col.text(),
    search: col.jsonObject(),
    metadata: col.jsonObject(),
    created_at: col.timestamptz(),
    last_used: col.timestamptz(),
    use_count: col.int(),
  }),
  primaryKey: ['hash'],
  sqlDefaults: { created_at: 'now()', last_used: 'now()', use_count: '1' },
});

export const STAC_TABLES = [stacCollectionsTable, stacItemsTable, stacSearchesTable];

export type StacBackend = 'pgstac' | 'tables';
export type JsonObject = Record<string, unknown>;

/** JSON with sorted keys: the same search always hashes the same. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as JsonObject;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

export const searchHash = (search: JsonObject) =>
  createHash('sha256').update(canonicalJson(search)).digest('hex');

export interface StacCatalogOptions {
  /** Schema of the product's own tables. */
  schema: string;
  /** Schema where pgSTAC is installed. */
  pgstacSchema: string;
  /** auto: pgSTAC when its functions exist, else the tables. */
  backend: 'auto' | StacBackend;
}

const ensured = new WeakMap<object, Map<string, Promise<void>>>();

/**
 * Makes sure the catalog tables exist, once per pool and schema. The migrations create them
 * (db/migrations); only where they are missing — a local database nobody migrated — they are created
 * here (idempotent DDL under an advisory lock), which needs a role that may create them.
 */
export function ensureStacTables(db: Queryable, schema: string): Promise<void> {
  let bySchema = ensured.get(db);
  if (!bySchema) ensured.set(db, (bySchema = new Map()));
  let p = bySchema.get(schema);
  if (!p) {
    p = (async () => {
      const names = STAC_TABLES.map((t) => sql.table(schema, t.name).text);
      const r = await query<{ n: number }>(
        db,
        sql`SELECT count(to_regclass(x))::int AS n FROM unnest(${names}::text[]) AS x`,
      );
      if (r.rows[0]!.n === STAC_TABLES.length) return;
      await withAdvisoryLock(db, `rmhdagmaster:stac-ddl:${schema}`, async (tx) => {
        for (const stmt of generateDdl(schema, STAC_TABLES)) await tx.query(stmt);
      });
    })();
    p.catch(() => bySchema.delete(schema));
    bySchema.set(schema, p);
  }
  return p;
}

/** Which backend to use: pgSTAC when asked for, or (auto) when its upsert functions exist. */
export async function resolveStacBackend(db: Queryable, o: StacCatalogOptions): Promise<StacBackend> {
  if (o.backend !== 'auto') return o.backend;
  const r = await query<{ ok: boolean }>(
    db,
    sql`SELECT EXISTS (
          SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
          WHERE n.nspname = ${o.pgstacSchema} AND p.proname = 'upsert_items') AS ok`,
  );
  return r.rows[0]?.ok ? 'pgstac' : 'tables';
}

export interface StacCatalog {
  backend: StacBackend;
  /** Where the documents live, for messages ("pgstac" or "stac"). */
  schema: string;
  getCollection(id: string): Promise<JsonObject | null>;
  /**
   * Creates or updates a collection: `merge` gets the stored document (null when new) and returns the
   * one to write; `check` may refuse it (schema validation) before anything is written.
   */
  upsertCollection(
    id: string,
    merge: (existing: JsonObject | null) => JsonObject,
    check: (doc: JsonObject) => void,
  ): Promise<{ created: boolean; collection: JsonObject }>;
  getItem(collectionId: string, id: string): Promise<JsonObject | null>;
  /** Upserts items of one collection; returns which ids were new (null when the backend cannot tell). */
  upsertItems(collectionId: string, items: JsonObject[]): Promise<{ inserted: string[] | null }>;
  /** Registers a search (for TiTiler mosaics) and returns its hash. */
  registerSearch(search: JsonObject, metadata: JsonObject): Promise<string>;
}

export async function openStacCatalog(db: Queryable, o: StacCatalogOptions): Promise<StacCatalog> {
  const backend = await resolveStacBackend(db, o);
  return backend === 'pgstac' ? pgstacCatalog(db, o.pgstacSchema) : tablesCatalog(db, o.schema);
}

function tablesCatalog(db: Queryable, schema: string): StacCatalog {
  const collections = sql.table(schema, 'stac_collections');
  const items = sql.table(schema, 'stac_items');
  const searches = sql.table(schema, 'stac_searches');
  const ready = () => ensureStacTables(db, schema);
  return {
    backend: 'tables',
    schema,
    async getCollection(id) {
      await ready();
      const r = await query<{ content: JsonObject }>(
        db,
        sql`SELECT content FROM ${collections} WHERE id = ${id}`,
      );
      return r.rows[0]?.content ?? null;
    },
    async upsertCollection(id, merge, check) {
      await ready();
      return withAdvisoryLock(db, `rmhdagmaster:stac-collection:${schema}:${id}`, async (tx) => {
        const r = await query<{ content: JsonObject }>(
          tx,
          sql`SELECT content FROM ${collections} WHERE id = ${id}`,
        );
        const existing = r.rows[0]?.content ?? null;
        const doc = merge(existing);
        check(doc);
        await query(
          tx,
          sql`INSERT INTO ${collections} (id, content) VALUES (${id}, ${sql.json(doc)})
              ON CONFLICT (id) DO UPDATE SET content = EXCLUDED.content, updated_at = now()`,
        );
        return { created: existing === null, collection: doc };
      });
    },
    async getItem(collectionId, id) {
      await ready();
      const r = await query<{ content: JsonObject }>(
        db,
        sql`SELECT content FROM ${items} WHERE collection_id = ${collectionId} AND id = ${id}`,
      );
      return r.rows[0]?.content ?? null;
    },
    async upsertItems(collectionId, docs) {
      await ready();
      if (!docs.length) return { inserted: [] };
      // One statement for the whole batch; xmax = 0 marks rows that were inserted, not updated.
      const r = await query<{ id: string; inserted: boolean }>(
        db,
        sql`INSERT INTO ${items} (collection_id, id, content, west, south, east, north, datetime)
            SELECT ${collectionId}, e->>'id', e,
                   (e->'bbox'->>0)::float8, (e->'bbox'->>1)::float8, (e->'bbox'->>2)::float8, (e->'bbox'->>3)::float8,
                   (e->'properties'->>'datetime')::timestamptz
            FROM jsonb_array_elements(${sql.json(docs)}) AS e
            ON CONFLICT (collection_id, id) DO UPDATE SET
              content = EXCLUDED.content, west = EXCLUDED.west, south = EXCLUDED.south,
              east = EXCLUDED.east, north = EXCLUDED.north, datetime = EXCLUDED.datetime, updated_at = now()
            RETURNING id, (xmax = 0) AS inserted`,
      );
      return { inserted: r.rows.filter((x) => x.inserted).map((x) => x.id) };
    },
    async registerSearch(search, metadata) {
      await ready();
      const hash = searchHash(search);
      await query(
        db,
        sql`INSERT INTO ${searches} (hash, search, metadata) VALUES (${hash}, ${sql.json(search)}, ${sql.json(metadata)})
            ON CONFLICT (hash) DO UPDATE SET last_used = now(), use_count = ${searches}.use_count + 1,
              metadata = ${searches}.metadata || EXCLUDED.metadata`,
      );
      return hash;
    },
  };
}

function pgstacCatalog(db: Queryable, pgstac: string): StacCatalog {
  const fn = (name: string) => sql.ident(pgstac, name);
  return {
    backend: 'pgstac',
    schema: pgstac,
    async getCollection(id) {
      const r = await query<{ c: JsonObject | null }>(db, sql`SELECT ${fn('get_collection')}(${id}) AS c`);
      return r.rows[0]?.c ?? null;
    },
    async upsertCollection(id, merge, check) {
      return withAdvisoryLock(db, `rmhdagmaster:stac-collection:${pgstac}:${id}`, async (tx) => {
        const r = await query<{ c: JsonObject | null }>(tx, sql`SELECT ${fn('get_collection')}(${id}) AS c`);
        const existing = r.rows[0]?.c ?? null;
        const doc = merge(existing);
        check(doc);
        await query(tx, sql`SELECT ${fn('upsert_collection')}(${sql.json(doc)})`);
        return { created: existing === null, collection: doc };
      });
    },
    async getItem(collectionId, id) {
      const r = await query<{ i: JsonObject | null }>(
        db,
        sql`SELECT ${fn('get_item')}(${id}, ${collectionId}) AS i`,
      );
      return r.rows[0]?.i ?? null;
    },
    async upsertItems(_collectionId, docs) {
      if (docs.length) await query(db, sql`SELECT ${fn('upsert_items')}(${sql.json(docs)})`);
      return { inserted: null };
    },
    async registerSearch(search, metadata) {
      // pgSTAC computes the hash itself (the one TiTiler-pgSTAC uses in /searches/{hash}).
      const r = await query<{ hash: string }>(
        db,
        sql`SELECT hash FROM ${fn('search_query')}(${sql.json(search)}, false, ${sql.json(metadata)})`,
      );
      const hash = r.rows[0]?.hash;
      if (!hash) throw new Error(`${pgstac}.search_query returned no hash`);
      return hash;
    },
  };
}
