// The platform submission (docs/domain.md "Submit"): validate everything a client can get wrong and
// report it at once (platform, references, workflow, inputs, pre-flight), then create the asset
// version and its job in one transaction (db/assetSubmission.ts), then start the orchestration. Also
// the reprocess of a version, which goes through the same workflow and pre-flight checks.
import type * as df from 'durable-functions';
import { AppError } from './appError';
import { didYouMean } from '../dag/suggest';
import { validateInputs } from '../dag/validateInputs';
import type { Workflow } from '../dag/workflowModel';
import {
  assetIdFor,
  getAsset,
  getJob,
  listPlatforms,
  getVersion,
  newJobId,
  readSubmissionContext,
  reprocessVersion,
  submitAssetVersion,
  canonical,
  type AssetDataType,
  type AssetVersionRow,
  type JobRow,
  type RefValue,
  type SubmissionContext,
  type SubmitVersionInput,
  type SubmitVersionResult,
  type VersionJobSpec,
} from '../db';
import { traceMetadata } from './traceMetadata';
import { ensureOrchestration, lookupWorkflow, nodeSpecs } from './jobService';
import { preflight, preflightIsLocal, type Problem } from './platformPreflight';
import type { Services } from './services';

export interface PlatformSubmission {
  platformId: string;
  refs: Record<string, RefValue>;
  dataType: AssetDataType;
  workflowId: string;
  inputs: Record<string, unknown>;
  /** Where the inputs came from in the body ("input_params" or "inputs"), for error paths. */
  inputsField: string;
  versionLabel?: string;
  requestId?: string;
  actor: string | null;
}

export interface SubmitOutcome {
  created: boolean;
  version: AssetVersionRow;
  jobId: string;
}

function jobSpec(workflow: Workflow): VersionJobSpec {
  return {
    workflowVersion: workflow.version,
    workflowSnapshot: workflow as unknown as Record<string, unknown>,
    nodes: nodeSpecs(workflow),
    sourceApp: 'functionapp',
    ...traceMetadata(),
  };
}

/** The workflow and its merged inputs, or the problems (as pre-flight problems, not thrown). */
function resolveWorkflow(
  s: Services,
  workflowId: string,
  inputs: Record<string, unknown>,
  inputsField: string,
): { workflow?: Workflow; inputs?: Record<string, unknown>; problems: Problem[] } {
  let workflow: Workflow;
  try {
    workflow = lookupWorkflow(s, workflowId);
  } catch (err) {
    if (err instanceof AppError) return { problems: [{ path: 'workflow_id', message: err.message }] };
    throw err;
  }
  const v = validateInputs(workflow, inputs);
  if (!v.ok)
    return {
      workflow,
      problems: v.problems.map((p) => ({
        path: p.input === '(inputs)' ? inputsField : `${inputsField}.${p.input}`,
        message: p.message,
      })),
    };
  return { workflow, inputs: v.value, problems: [] };
}

function failPreflight(problems: Problem[]): never {
  throw new AppError(
    'VALIDATION',
    `Pre-flight validation failed: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
    problems,
  );
}

export async function submitPlatformAsset(
  s: Services,
  client: df.DurableClient,
  sub: PlatformSubmission,
): Promise<SubmitOutcome> {
  const assetId = assetIdFor(sub.platformId, sub.refs);
  const wf = resolveWorkflow(s, sub.workflowId, sub.inputs, sub.inputsField);
  const submission = (workflow: Workflow, inputs: Record<string, unknown>): SubmitVersionInput => ({
    assetId,
    platformId: sub.platformId,
    refs: sub.refs,
    dataType: sub.dataType,
    versionLabel: sub.versionLabel ?? null,
    requestId: sub.requestId ?? `req-${newJobId()}`,
    submittedBy: sub.actor,
    workflowId: workflow.workflow_id,
    inputParams: inputs,
    job: jobSpec(workflow),
  });

  // When the workflow, its inputs and a pre-flight that asks nothing outside the request pass, the
  // checks below run in the submission's own statement (one round trip); it writes nothing unless
  // they pass, and returns what they read otherwise. (A remote pre-flight, the raster blob check,
  // must not be asked of a request that repeats one: those read the context first.)
  let ctx: SubmissionContext;
  if (
    wf.workflow &&
    wf.inputs &&
    !wf.problems.length &&
    preflightIsLocal(wf.workflow) &&
    !(await preflight(wf.workflow, wf.inputs, { inputsPath: sub.inputsField })).length
  ) {
    const r = await submitAssetVersion(s.pool, s.schema, {
      ...submission(wf.workflow, wf.inputs),
      check: { requestId: sub.requestId ?? null },
    });
    if (r.kind !== 'unchecked') return submitted(s, client, r, sub, assetId, wf.inputs);
    ctx = r.context;
  } else {
    ctx = await readSubmissionContext(s.pool, s.schema, {
      platformId: sub.platformId,
      ...(sub.requestId !== undefined ? { requestId: sub.requestId } : {}),
    });
  }

  const problems: Problem[] = [];
  const platform = ctx.platform;
  if (!platform) {
    const known = (await listPlatforms(s.pool, s.schema, { includeInactive: true })).map(
      (p) => p.platform_id,
    );
    const hint = didYouMean(sub.platformId, known);
    problems.push({
      path: 'platform_id',
      message: `platform "${sub.platformId}" is not registered${hint ? ` (${hint})` : ''}; see GET /api/platforms`,
    });
  } else {
    if (!platform.is_active)
      problems.push({ path: 'platform_id', message: `platform "${sub.platformId}" is deactivated` });
    const missing = platform.required_refs.filter((r) => !(r in sub.refs));
    if (missing.length)
      problems.push({
        path: 'platform_refs',
        message: `missing required reference(s) of platform "${platform.platform_id}": ${missing.join(', ')}`,
      });
    const known = [...platform.required_refs, ...platform.optional_refs];
    for (const k of Object.keys(sub.refs)) {
      if (!known.includes(k)) {
        const hint = didYouMean(k, known);
        problems.push({
          path: `platform_refs.${k}`,
          message: `"${k}" is not a reference of platform "${platform.platform_id}"${hint ? ` (${hint})` : ''}; it accepts ${known.join(', ') || 'none'}`,
        });
      }
    }
  }
  problems.push(...wf.problems);

  // A repeat of a request that created a version is answered from it, even if the world changed since.
  if (ctx.byRequest) return replay(s, client, ctx.byRequest, sub, assetId, wf.inputs);
  if (ctx.activeJob)
    problems.push({
      path: 'request_id',
      message: `job ${ctx.activeJob.job_id} with request id "${sub.requestId}" has not finished (${ctx.activeJob.status}); wait for it or use another request id`,
    });
  if (wf.workflow && wf.inputs)
    problems.push(...(await preflight(wf.workflow, wf.inputs, { inputsPath: sub.inputsField })));
  if (problems.length || !wf.workflow || !wf.inputs) failPreflight(problems);

  const r = await submitAssetVersion(s.pool, s.schema, submission(wf.workflow, wf.inputs));
  return submitted(s, client, r, sub, assetId, wf.inputs);
}

/** The answer to a submission statement's outcome (an `unchecked` one is not expected here). */
async function submitted(
  s: Services,
  client: df.DurableClient,
  r: SubmitVersionResult,
  sub: PlatformSubmission,
  assetId: string,
  inputs: Record<string, unknown>,
): Promise<SubmitOutcome> {
  switch (r.kind) {
    case 'created':
      await ensureOrchestration(client, r.job, { created: true });
      return { created: true, version: r.version, jobId: r.job.job_id };
    case 'replay':
    case 'request_conflict':
      return replay(s, client, r.version, sub, assetId, inputs);
    case 'pending':
      throw new AppError(
        'CONFLICT',
        `Asset ${assetId} has version ${r.pending.version_ordinal} awaiting review (processing ${r.pending.processing_state}): approve or reject it (or reprocess it if it failed) before submitting a new version.`,
        {
          field: 'platform_refs',
          asset_id: assetId,
          pending_version_ordinal: r.pending.version_ordinal,
          links: { pending_version: `/api/assets/${assetId}/versions/${r.pending.version_ordinal}` },
        },
      );
    case 'deleted':
      throw new AppError(
        'CONFLICT',
        `Asset ${assetId} was deleted${r.asset.deleted_by ? ` by ${r.asset.deleted_by}` : ''}; restore it (POST /api/assets/${assetId}/restore) before submitting a new version.`,
        { field: 'platform_refs', asset_id: assetId, links: { restore: `/api/assets/${assetId}/restore` } },
      );
    case 'data_type_mismatch':
      throw new AppError(
        'CONFLICT',
        `Asset ${assetId} holds ${r.asset.data_type} data; a version of it cannot be ${sub.dataType}.`,
        { field: 'data_type', asset_id: assetId, current: r.asset.data_type },
      );
    case 'unchecked':
      throw new Error('submitted: a checked submission is answered by submitPlatformAsset');
  }
}

async function replay(
  s: Services,
  client: df.DurableClient,
  v: AssetVersionRow,
  sub: PlatformSubmission,
  assetId: string,
  inputs: Record<string, unknown> | undefined,
): Promise<SubmitOutcome> {
  const same =
    v.asset_id === assetId &&
    v.workflow_id === sub.workflowId &&
    (v.version_label ?? null) === (sub.versionLabel ?? null) &&
    inputs !== undefined &&
    canonical(v.input_params) === canonical(inputs);
  if (!same) {
    throw new AppError(
      'CONFLICT',
      `Request id "${v.request_id}" was already used for version ${v.version_ordinal} of asset ${v.asset_id} with other parameters; use a new request id for a new submission.`,
      { field: 'request_id', asset_id: v.asset_id, version_ordinal: v.version_ordinal },
    );
  }
  // The orchestration may not have started if the first attempt crashed after its commit.
  if (v.current_job_id) {
    const job = await getJob(s.pool, s.schema, v.current_job_id);
    if (job) await ensureOrchestration(client, job);
  }
  return { created: false, version: v, jobId: v.current_job_id ?? '' };
}

/** A new job for a version whose processing ended: revision + 1. */
export async function reprocessAssetVersion(
  s: Services,
  client: df.DurableClient,
  input: { assetId: string; ordinal: number; actor: string | null; reason?: string },
): Promise<{ version: AssetVersionRow; job: JobRow }> {
  const v = await getVersion(s.pool, s.schema, input.assetId, input.ordinal);
  if (!v) throw versionNotFound(input.assetId, input.ordinal);
  const asset = await getAsset(s.pool, s.schema, input.assetId);
  if (asset?.deleted_at) throw assetDeleted(input.assetId);
  if (v.processing_state !== 'completed' && v.processing_state !== 'failed') throw notTerminal(v);
  const wf = resolveWorkflow(s, v.workflow_id, v.input_params, 'input_params');
  if (!wf.workflow || !wf.inputs) {
    throw new AppError(
      'CONFLICT',
      `Version ${v.version_ordinal} of asset ${v.asset_id} cannot be reprocessed with workflow "${v.workflow_id}" as it is now: ${wf.problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
      { field: 'workflow_id', problems: wf.problems },
    );
  }
  const problems = await preflight(wf.workflow, wf.inputs, { inputsPath: 'input_params' });
  if (problems.length) failPreflight(problems);
  const r = await reprocessVersion(s.pool, s.schema, {
    assetId: input.assetId,
    ordinal: input.ordinal,
    expectedRevision: v.revision,
    actor: input.actor,
    reason: input.reason ?? null,
    job: jobSpec(wf.workflow),
    inputParams: wf.inputs,
  });
  switch (r.kind) {
    case 'applied':
      await ensureOrchestration(client, r.job, { created: true });
      return { version: r.version, job: r.job };
    case 'not_found':
      throw versionNotFound(input.assetId, input.ordinal);
    case 'asset_deleted':
      throw assetDeleted(input.assetId);
    case 'conflict':
      throw notTerminal(r.current);
  }
}

export function versionNotFound(assetId: string, ordinal: number): AppError {
  return new AppError('NOT_FOUND', `Asset ${assetId} has no version ${ordinal}.`, {
    field: 'ordinal',
    asset_id: assetId,
  });
}

export function assetNotFound(assetId: string): AppError {
  return new AppError('NOT_FOUND', `Asset ${assetId} does not exist.`, { field: 'asset_id' });
}

export function assetDeleted(assetId: string): AppError {
  return new AppError(
    'CONFLICT',
    `Asset ${assetId} is deleted; restore it first (POST /api/assets/${assetId}/restore).`,
    { field: 'asset_id', deleted: true },
  );
}

function notTerminal(v: AssetVersionRow): AppError {
  return new AppError(
    'CONFLICT',
    `Version ${v.version_ordinal} of asset ${v.asset_id} is ${v.processing_state} (revision ${v.revision}); only a version whose processing completed or failed can be reprocessed.`,
    { field: 'processing_state', current: v.processing_state, revision: v.revision },
  );
}
