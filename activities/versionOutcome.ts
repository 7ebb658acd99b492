// What a completed job gives the asset version it processes: its workflow's artifacts, rendered from
// the node outputs (read in the caller's transaction). Jobs without an asset version give nothing.
import { artifactNodes, artifactsOf, renderArtifacts } from '../dag/workflowArtifacts';
import { envValues } from '../dag/envReferences';
import type { TemplateContext } from '../dag/templateTypes';
import { getNodeOutputs, type Queryable, type VersionOutcome } from '../db';
import type { JobData } from './jobData';

export async function versionOutcome(
  tx: Queryable,
  schema: string,
  data: JobData,
  status: 'completed' | 'failed' | 'cancelled',
): Promise<VersionOutcome | undefined> {
  if (!data.job.asset_id || status !== 'completed') return undefined;
  const artifacts = artifactsOf(data.workflow);
  if (!artifacts) return { artifacts: {} };
  const outputs = await getNodeOutputs(tx, schema, data.job.job_id, artifactNodes(artifacts));
  const nodes: TemplateContext['nodes'] = {};
  for (const [id, o] of Object.entries(outputs)) {
    // Nodes that did not run (skipped branches) are there with a null output, so templates can test status.
    nodes[id] = { status: o.status, output: o.status === 'completed' ? (o.output ?? null) : null };
  }
  const r = renderArtifacts(artifacts, {
    inputs: data.inputs,
    nodes,
    env: envValues(data.workflow, process.env),
  });
  return r.ok ? { artifacts: r.value } : { artifactError: r.error };
}
