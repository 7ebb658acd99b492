// The artifacts: map of a workflow: validated at load like every template (declared inputs, existing
// nodes, output/status only), defaults for the shipped raster workflows, rendered from node outputs.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { dump } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { loadWorkflow } from '../../dag/loadWorkflow';
import { DEFAULT_ARTIFACTS, renderArtifacts } from '../../dag/workflowArtifacts';
import { defaultRegistry } from '../../handlers/handlerRegistry';

const ROOT = path.join(__dirname, '..', '..');
const options = { handlers: defaultRegistry().catalog() };

const wf = (artifacts: unknown, id = 'with_artifacts') =>
  dump({
    workflow_id: id,
    name: 'a',
    inputs: { name: { type: 'string' } },
    artifacts,
    nodes: {
      start: { type: 'start', next: 'make' },
      make: { type: 'task', handler: 'echo', next: 'end' },
      end: { type: 'end' },
    },
  });

describe('artifacts: at load', () => {
  it('accepts templates over inputs and any node', () => {
    const r = loadWorkflow(
      wf({
        blob_path: 'silver/{{ nodes.make.output.file }}',
        stac_item_id: '{{ inputs.name }}',
        table_name: 'fixed',
      }),
      'a.yaml',
      options,
    );
    expect(r.issues).toEqual([]);
    expect(r.workflow!.artifacts).toMatchObject({ stac_item_id: '{{ inputs.name }}' });
  });

  it('reports every problem with its place: unknown field, input, node, node field, syntax, fan-out variables', () => {
    const broken = {
      blob_path: '{{ nodes.mkae.output.file }}',
      stac_item_id: '{{ inputs.nmae }}',
      stac_collection_id: '{{ nodes.make.outputs.c }}',
      content_hash: '{{ item.hash }',
      table_name: '{{ index }}',
    };
    const r = loadWorkflow(wf({ blob_pth: 'x', ...broken }), 'a.yaml', options);
    expect(r.issues.map((i) => `${i.code}@${i.path.join('.')}`)).toEqual(['unknown_key@artifacts.blob_pth']);
    expect(r.issues[0]!.hint).toMatch(/did you mean "blob_path"/);
    // Schema problems stop before the semantic checks; fix the key and the rest is reported at once.
    const r2 = loadWorkflow(wf(broken), 'a.yaml', options);
    const codes = r2.issues.map((i) => `${i.code}@${i.path.join('.')}`).sort();
    expect(codes).toEqual(
      [
        'unknown_node_reference@artifacts.blob_path',
        'unknown_input@artifacts.stac_item_id',
        'bad_node_field@artifacts.stac_collection_id',
        'template_syntax@artifacts.content_hash',
        'child_variable@artifacts.table_name',
      ].sort(),
    );
    const msg = r2.issues.map((i) => i.message).join('\n');
    expect(msg).toMatch(/Workflow "with_artifacts" artifacts.blob_path: template references nodes.mkae/);
    expect(r2.issues.every((i) => (i.line ?? 0) > 1)).toBe(true);
  });

  it('the shipped raster workflows get their defaults; another workflow reusing the id does not', () => {
    for (const id of ['raster_ingest', 'raster_tiled']) {
      const r = loadWorkflow(
        readFileSync(path.join(ROOT, 'workflows', `${id}.yaml`), 'utf8'),
        `${id}.yaml`,
        options,
      );
      expect(r.issues).toEqual([]);
      expect(r.workflow!.artifacts).toEqual(DEFAULT_ARTIFACTS[id]);
    }
    const other = loadWorkflow(wf(undefined, 'raster_ingest'), 'r.yaml', options);
    expect(other.issues).toEqual([]);
    expect(other.workflow!.artifacts).toBeUndefined();
  });
});

describe('rendering artifacts', () => {
  const cog = { cog_container: 'silver-cogs', cog_blob: 'uploads/a_cog.tif', file_checksum: '1220abcd' };
  const SINGLE_COG = {
    blob_path: 'silver-cogs/uploads/a_cog.tif',
    stac_item_id: 'a_cog',
    stac_collection_id: 'c',
    content_hash: '1220abcd',
  };
  it('raster_ingest: COG path, STAC item and collection, checksum', () => {
    const r = renderArtifacts(DEFAULT_ARTIFACTS.raster_ingest!, {
      inputs: { collection_id: 'c' },
      nodes: {
        create_cog: { status: 'completed', output: cog },
        register_stac_item: { status: 'completed', output: { item_id: 'a_cog', collection_id: 'c' } },
      },
    });
    expect(r).toEqual({ ok: true, value: SINGLE_COG });
  });

  it('raster_tiled: the single COG, or the folder of tiles when the tiling branch ran', () => {
    const single = renderArtifacts(DEFAULT_ARTIFACTS.raster_tiled!, {
      inputs: { collection_id: 'c' },
      nodes: {
        create_cog: { status: 'completed', output: cog },
        register_stac_item: { status: 'completed', output: { item_id: 'a_cog' } },
        collect_tiles: { status: 'skipped', output: null },
      },
    });
    expect(single).toEqual({ ok: true, value: SINGLE_COG });
    const tiled = renderArtifacts(DEFAULT_ARTIFACTS.raster_tiled!, {
      inputs: { collection_id: 'c' },
      nodes: {
        create_cog: { status: 'skipped', output: null },
        register_stac_item: { status: 'skipped', output: null },
        collect_tiles: {
          status: 'completed',
          output: {
            results: [
              {
                cog_container: 'silver-cogs',
                tile_cogs: [{ tile_id: 'tile_r0_c0', cog_blob: 'uploads/a_tiles/tile_r0_c0.tif' }],
              },
            ],
            count: 1,
          },
        },
      },
    });
    expect(tiled).toEqual({
      ok: true,
      value: {
        blob_path: 'silver-cogs/uploads/a_tiles/',
        stac_item_id: null,
        stac_collection_id: 'c',
        content_hash: null,
      },
    });
  });

  it('a value that is not text, or a read through a missing output, is an error naming the field', () => {
    expect(
      renderArtifacts(
        { blob_path: '{{ nodes.a.output }}' },
        { inputs: {}, nodes: { a: { status: 'completed', output: { x: 1 } } } },
      ),
    ).toEqual({ ok: false, error: 'blob_path: the template gave an object, not text' });
    const r = renderArtifacts(
      { stac_item_id: '{{ nodes.a.output.b.c }}' },
      { inputs: {}, nodes: { a: { status: 'skipped', output: null } } },
    );
    expect(r.ok).toBe(false);
    expect((r as { error: string }).error).toMatch(/^stac_item_id: /);
    expect(renderArtifacts({ content_hash: '{{ 42 }}' }, { inputs: {}, nodes: {} })).toEqual({
      ok: true,
      value: { content_hash: '42' },
    });
  });
});
