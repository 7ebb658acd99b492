// The registry of client platforms (DDH, ArcGIS, GeoNode, ...): which references identify an asset of
// each, and whether it may submit. Changes are audited. Platforms are deactivated, never deleted.
import { appendAudit } from './auditRepository';
import { parseRow, validateValues } from './defineTable';
import { query, withTransaction, type Queryable } from './queryable';
import { sql } from './sql';
import { platformsTable, type PlatformRow } from './tables';

export interface PlatformInput {
  platform_id: string;
  display_name: string;
  description?: string | null;
  required_refs: string[];
  optional_refs?: string[];
  is_active?: boolean;
}

/** The platforms of the original system, seeded by POST /api/bootstrap/seed-platforms. */
export const DEFAULT_PLATFORMS: readonly PlatformInput[] = [
  {
    platform_id: 'ddh',
    display_name: 'Development Data Hub',
    description: 'World Bank Development Data Hub datasets and resources',
    required_refs: ['dataset_id', 'resource_id'],
    optional_refs: ['version_id'],
  },
  {
    platform_id: 'arcgis',
    display_name: 'ArcGIS',
    description: 'ArcGIS Online / Enterprise items',
    required_refs: ['item_id', 'layer_index'],
    optional_refs: [],
  },
  {
    platform_id: 'geonode',
    display_name: 'GeoNode',
    description: 'GeoNode layers',
    required_refs: ['uuid'],
    optional_refs: [],
  },
];

const T = (schema: string) => sql.table(schema, 'platforms');

export async function getPlatform(
  db: Queryable,
  schema: string,
  platformId: string,
): Promise<PlatformRow | null> {
  const r = await query(db, sql`SELECT * FROM ${T(schema)} WHERE platform_id = ${platformId}`);
  return r.rows[0] ? parseRow(platformsTable, r.rows[0]) : null;
}

export async function listPlatforms(
  db: Queryable,
  schema: string,
  input: { includeInactive?: boolean } = {},
): Promise<PlatformRow[]> {
  const r = await query(
    db,
    sql`SELECT * FROM ${T(schema)} ${input.includeInactive ? sql.empty : sql`WHERE is_active`} ORDER BY platform_id`,
  );
  return r.rows.map((x) => parseRow(platformsTable, x));
}

export type CreatePlatformResult =
  { kind: 'created'; platform: PlatformRow } | { kind: 'exists'; platform: PlatformRow };

export async function createPlatform(
  db: Queryable,
  schema: string,
  input: PlatformInput,
  actor: string | null,
): Promise<CreatePlatformResult> {
  validateValues(platformsTable, {
    platform_id: input.platform_id,
    display_name: input.display_name,
    description: input.description ?? null,
  });
  return withTransaction(db, async (tx) => {
    const r = await query(
      tx,
      sql`INSERT INTO ${T(schema)} (platform_id, display_name, description, required_refs, optional_refs, is_active)
          VALUES (${input.platform_id}, ${input.display_name}, ${input.description ?? null},
                  ${sql.json(input.required_refs)}, ${sql.json(input.optional_refs ?? [])}, ${input.is_active ?? true})
          ON CONFLICT (platform_id) DO NOTHING
          RETURNING *`,
    );
    if (!r.rows[0]) {
      const existing = await getPlatform(tx, schema, input.platform_id);
      return { kind: 'exists' as const, platform: existing! };
    }
    const platform = parseRow(platformsTable, r.rows[0]);
    await appendAudit(tx, schema, [
      { action: 'platform_created', actor, platformId: platform.platform_id, to: platformState(platform) },
    ]);
    return { kind: 'created' as const, platform };
  });
}

export interface PlatformPatch {
  display_name?: string;
  description?: string | null;
  required_refs?: string[];
  optional_refs?: string[];
  is_active?: boolean;
}

export type UpdatePlatformResult =
  | { kind: 'applied'; platform: PlatformRow }
  | { kind: 'not_found' }
  | { kind: 'version_conflict'; current: PlatformRow }
  /** required_refs make asset identities: they cannot change once the platform has assets. */
  | { kind: 'refs_locked'; current: PlatformRow; assets: number };

export async function updatePlatform(
  db: Queryable,
  schema: string,
  input: { platformId: string; patch: PlatformPatch; expectedVersion?: number; actor: string | null },
): Promise<UpdatePlatformResult> {
  const p = input.patch;
  validateValues(platformsTable, {
    display_name: p.display_name,
    description: p.description,
  });
  return withTransaction(db, async (tx) => {
    const cur = await query(
      tx,
      sql`SELECT * FROM ${T(schema)} WHERE platform_id = ${input.platformId} FOR UPDATE`,
    );
    if (!cur.rows[0]) return { kind: 'not_found' as const };
    const current = parseRow(platformsTable, cur.rows[0]);
    if (input.expectedVersion !== undefined && input.expectedVersion !== current.version)
      return { kind: 'version_conflict' as const, current };
    if (p.required_refs !== undefined && !sameSet(p.required_refs, current.required_refs)) {
      const n = await query<{ n: number }>(
        tx,
        sql`SELECT count(*)::int AS n FROM ${sql.table(schema, 'geospatial_assets')} WHERE platform_id = ${input.platformId}`,
      );
      if (n.rows[0]!.n > 0) return { kind: 'refs_locked' as const, current, assets: n.rows[0]!.n };
    }
    const r = await query(
      tx,
      sql`UPDATE ${T(schema)} SET
            display_name = ${p.display_name ?? current.display_name},
            description = ${p.description !== undefined ? p.description : (current.description ?? null)},
            required_refs = ${sql.json(p.required_refs ?? current.required_refs)},
            optional_refs = ${sql.json(p.optional_refs ?? current.optional_refs)},
            is_active = ${p.is_active ?? current.is_active},
            version = version + 1, updated_at = now()
          WHERE platform_id = ${input.platformId}
          RETURNING *`,
    );
    const platform = parseRow(platformsTable, r.rows[0]);
    await appendAudit(tx, schema, [
      {
        action: 'platform_updated',
        actor: input.actor,
        platformId: platform.platform_id,
        from: platformState(current),
        to: platformState(platform),
      },
    ]);
    return { kind: 'applied' as const, platform };
  });
}

/** Inserts the default platforms that do not exist yet (idempotent). */
export async function seedPlatforms(
  db: Queryable,
  schema: string,
  actor: string | null,
): Promise<{
  seeded: string[];
  skipped_existing: string[];
  errors: Array<{ platform_id: string; error: string }>;
}> {
  const seeded: string[] = [];
  const skipped: string[] = [];
  const errors: Array<{ platform_id: string; error: string }> = [];
  for (const p of DEFAULT_PLATFORMS) {
    try {
      const r = await createPlatform(db, schema, p, actor);
      (r.kind === 'created' ? seeded : skipped).push(p.platform_id);
    } catch (err) {
      errors.push({ platform_id: p.platform_id, error: (err as Error).message });
    }
  }
  return { seeded, skipped_existing: skipped, errors };
}

function platformState(p: PlatformRow) {
  return {
    display_name: p.display_name,
    required_refs: p.required_refs,
    optional_refs: p.optional_refs,
    is_active: p.is_active,
  };
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().join('\u0000') === [...b].sort().join('\u0000');
}
