// How a workflow names the artifacts of an asset version (docs/domain.md "Artifacts"): an `artifacts:`
// map from artifact field to a template over the job's inputs and node outputs, rendered when the job
// completes. The original system looked for these fields at the top level of result_data (which is
// keyed by node) and never found them. The shipped raster workflows get built-in defaults, because
// raster_ingest.yaml stays byte-identical to the original system's file.
import { z } from 'zod';
import { inspectTemplate } from './inspectTemplate';
import { renderString } from './renderTemplate';
import type { TemplateContext } from './templateTypes';

export const ARTIFACT_FIELDS = [
  'blob_path',
  'table_name',
  'stac_item_id',
  'stac_collection_id',
  'content_hash',
] as const;
export type ArtifactField = (typeof ARTIFACT_FIELDS)[number];

const template = z.string().min(1).max(4000);
export const ArtifactsSchema = z.strictObject({
  /** Where the product is, as "<container>/<blob path>" (a folder ending in "/" for many files). */
  blob_path: template.optional(),
  /** A vector product's table. */
  table_name: template.optional(),
  stac_item_id: template.optional(),
  stac_collection_id: template.optional(),
  /** A checksum of the product (e.g. the COG's multihash). */
  content_hash: template.optional(),
});
export type Artifacts = z.infer<typeof ArtifactsSchema>;

const COG = 'nodes.create_cog.output';
const TILES = 'nodes.collect_tiles.output.results';

/** Built-in artifacts of the shipped raster workflows, by workflow id. */
export const DEFAULT_ARTIFACTS: Readonly<Record<string, Artifacts>> = {
  raster_ingest: {
    blob_path: `{{ ${COG}.cog_container }}/{{ ${COG}.cog_blob }}`,
    stac_item_id: '{{ nodes.register_stac_item.output.item_id }}',
    stac_collection_id: '{{ nodes.register_stac_item.output.collection_id }}',
    content_hash: `{{ ${COG}.file_checksum }}`,
  },
  // A single COG, or (tiled) the folder of its tile COGs; tiles have one STAC item each, so no item id.
  raster_tiled: {
    blob_path:
      `{% if nodes.create_cog.status == 'completed' %}{{ ${COG}.cog_container }}/{{ ${COG}.cog_blob }}` +
      `{% else %}{% set t = ${TILES}[0] %}{{ t.cog_container }}/` +
      `{{ t.tile_cogs[0].cog_blob | replace('/' ~ t.tile_cogs[0].tile_id ~ '.tif', '/') }}{% endif %}`,
    stac_item_id:
      "{{ nodes.register_stac_item.output.item_id if nodes.register_stac_item.status == 'completed' else none }}",
    stac_collection_id: '{{ inputs.collection_id }}',
    content_hash: `{{ ${COG}.file_checksum if nodes.create_cog.status == 'completed' else none }}`,
  },
};

/** Node ids referenced by the artifact templates. */
export function artifactNodes(artifacts: Artifacts): string[] {
  const ids = new Set<string>();
  for (const t of Object.values(artifacts)) {
    for (const ref of inspectTemplate(t ?? '').references)
      if (ref.root === 'nodes' && ref.path[0] !== undefined) ids.add(ref.path[0]);
  }
  return [...ids].sort();
}

/**
 * The artifacts of a workflow: its own `artifacts:` map, else the built-in default for its id when
 * every node that default reads exists in it (a different workflow that reuses the id gets none).
 */
export function artifactsOf(workflow: {
  workflow_id: string;
  artifacts?: Artifacts | undefined;
  nodes: Record<string, unknown>;
}): Artifacts | undefined {
  if (workflow.artifacts) return workflow.artifacts;
  const d = DEFAULT_ARTIFACTS[workflow.workflow_id];
  if (!d) return undefined;
  return artifactNodes(d).every((id) => id in workflow.nodes) ? d : undefined;
}

export type RenderedArtifacts =
  { ok: true; value: Partial<Record<ArtifactField, string | null>> } | { ok: false; error: string };

/**
 * Renders every artifact template. A value is a string, a number or boolean (written as text), or
 * empty/null (no such artifact); anything else is an error naming the field.
 */
export function renderArtifacts(artifacts: Artifacts, ctx: TemplateContext): RenderedArtifacts {
  const value: Partial<Record<ArtifactField, string | null>> = {};
  for (const f of ARTIFACT_FIELDS) {
    const t = artifacts[f];
    if (t === undefined) continue;
    const r = renderString(t, ctx);
    if (!r.ok) return { ok: false, error: `${f}: ${r.error.message}` };
    const v = r.value;
    if (v === null || v === undefined || v === '') value[f] = null;
    else if (typeof v === 'string') value[f] = v.trim() === '' ? null : v.trim();
    else if (typeof v === 'number' || typeof v === 'boolean') value[f] = String(v);
    else
      return {
        ok: false,
        error: `${f}: the template gave ${Array.isArray(v) ? 'a list' : 'an object'}, not text`,
      };
  }
  return { ok: true, value };
}
