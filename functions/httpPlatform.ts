// Platform routes (docs/domain.md): submit (POST /api/platform/submit and the original's
// POST /api/v1/domain/submit), status by request id, the platform registry and its seed.
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { durableClient } from './durableClient';
import { z } from 'zod';
import { AppError } from './appError';
import {
  ASSET_DATA_TYPES,
  createPlatform,
  getJob,
  getPlatform,
  getVersionByRequestId,
  listJobs,
  listPlatforms,
  seedPlatforms,
  updatePlatform,
  type AssetVersionRow,
} from '../db';
import { json, param, parseBody, parseQuery } from './http';
import { jobSummaryView, jobView } from './jobService';
import { actorOf, adminActor } from './platformAuth';
import { submitPlatformAsset, type PlatformSubmission } from './platformService';
import { assetLinks, platformView, versionView } from './platformViews';
import { services } from './services';

/** Request ids go into URLs (GET /api/platform/status/{request_id}): URL-safe characters only. */
export const RequestId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_.:-]+$/, 'use letters, digits and _ . : - only (at most 64)');
const RefName = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'reference names are identifiers (letters, digits, _)');
const RefValue = z.union([
  z.string().min(1).max(256),
  z
    .int()
    .refine(Number.isSafeInteger, 'must be a safe integer')
    .transform((n) => n + 0), // -0 is 0 (JSON and the identity hash write both as 0)
  z.boolean(),
]);
const PlatformId = z
  .string()
  .min(1)
  .max(50)
  .regex(/^[a-z0-9_-]+$/, 'platform ids use lowercase letters, digits, _ and -');
const Actor = z.string().min(1).max(256);

const SubmitBody = z
  .strictObject({
    platform_id: PlatformId,
    platform_refs: z
      .record(RefName, RefValue)
      .refine((r) => Object.keys(r).length >= 1, 'give at least one reference')
      .refine((r) => Object.keys(r).length <= 32, 'at most 32 references'),
    data_type: z.enum(ASSET_DATA_TYPES).default('raster'),
    workflow_id: z.string().min(1).max(64),
    input_params: z.record(z.string(), z.unknown()).optional(),
    inputs: z.record(z.string(), z.unknown()).optional(),
    version_label: z.string().min(1).max(100).optional(),
    submitted_by: Actor.optional(),
    request_id: RequestId.optional(),
    correlation_id: RequestId.optional(),
    /** Accepted for compatibility with the original gateway; not called (docs/domain.md). */
    callback_url: z.string().max(512).optional(),
  })
  .superRefine((b, ctx) => {
    if (b.input_params !== undefined && b.inputs !== undefined)
      ctx.addIssue({ code: 'custom', path: ['inputs'], message: 'give input_params or inputs, not both' });
    if (b.request_id !== undefined && b.correlation_id !== undefined && b.request_id !== b.correlation_id)
      ctx.addIssue({
        code: 'custom',
        path: ['correlation_id'],
        message: 'correlation_id is the older name of request_id; give one, or the same value',
      });
  });

async function submit(req: HttpRequest, context: InvocationContext, compat: boolean) {
  const b = await parseBody(req, SubmitBody);
  const s = services();
  await s.ready();
  const actor = actorOf(req, s.config, {
    bodyField: 'submitted_by',
    bodyActor: b.submitted_by,
    required: false,
    action: 'submit an asset version',
  });
  const requestId = b.request_id ?? b.correlation_id;
  const sub: PlatformSubmission = {
    platformId: b.platform_id,
    refs: b.platform_refs,
    dataType: b.data_type,
    workflowId: b.workflow_id,
    inputs: b.input_params ?? b.inputs ?? {},
    inputsField: b.inputs !== undefined ? 'inputs' : 'input_params',
    ...(b.version_label !== undefined ? { versionLabel: b.version_label } : {}),
    ...(requestId !== undefined ? { requestId } : {}),
    actor,
  };
  const r = await submitPlatformAsset(s, durableClient(context), sub);
  const v = r.version;
  return json(
    r.created ? 202 : 200,
    {
      asset_id: v.asset_id,
      version_ordinal: v.version_ordinal,
      job_id: r.jobId,
      request_id: v.request_id,
      ...(compat ? { correlation_id: v.request_id } : {}),
      status: 'accepted',
      created: r.created,
      links: {
        ...assetLinks(v.asset_id),
        version: `/api/assets/${v.asset_id}/versions/${v.version_ordinal}`,
        job: `/api/jobs/${r.jobId}`,
        status: `/api/platform/status/${v.request_id}`,
      },
    },
    { location: `/api/assets/${v.asset_id}/versions/${v.version_ordinal}` },
  );
}

export const postPlatformSubmit = (req: HttpRequest, context: InvocationContext) =>
  submit(req, context, false);
export const postDomainSubmit = (req: HttpRequest, context: InvocationContext) => submit(req, context, true);

/** The version and job of a request id; without a version, the newest job carrying it as correlation id. */
export async function getPlatformStatus(req: HttpRequest): Promise<HttpResponseInit> {
  const requestId = param(req, 'request_id');
  const s = services();
  const v: AssetVersionRow | null = await getVersionByRequestId(s.pool, s.schema, requestId);
  if (v) {
    const job = v.current_job_id ? await getJob(s.pool, s.schema, v.current_job_id) : null;
    return json(200, {
      request_id: requestId,
      asset_id: v.asset_id,
      version_ordinal: v.version_ordinal,
      approval_state: v.approval_state,
      processing_state: v.processing_state,
      version: versionView(v),
      job: job ? jobView(job) : null,
    });
  }
  const jobs = await listJobs(s.pool, s.schema, { correlationId: requestId, limit: 1 });
  const job = jobs.items[0];
  if (!job)
    throw new AppError('NOT_FOUND', `No submission or job has request id "${requestId}".`, {
      field: 'request_id',
    });
  return json(200, {
    request_id: requestId,
    asset_id: job.asset_id ?? null,
    version: null,
    job: jobSummaryView(job),
  });
}

const PlatformsQuery = z.strictObject({ include_inactive: z.enum(['true', 'false']).optional() });

export async function getPlatforms(req: HttpRequest): Promise<HttpResponseInit> {
  const q = parseQuery(req, PlatformsQuery);
  const s = services();
  const list = await listPlatforms(s.pool, s.schema, { includeInactive: q.include_inactive === 'true' });
  return json(200, { platforms: list.map(platformView) });
}

export async function getPlatformRoute(req: HttpRequest): Promise<HttpResponseInit> {
  const id = param(req, 'platform_id', 50);
  const s = services();
  const p = await getPlatform(s.pool, s.schema, id);
  if (!p) throw new AppError('NOT_FOUND', `Platform "${id}" is not registered.`, { field: 'platform_id' });
  return json(200, platformView(p));
}

/** POST /api/bootstrap/seed-platforms?confirm=yes: ddh, arcgis and geonode, idempotently. */
export async function postSeedPlatforms(req: HttpRequest): Promise<HttpResponseInit> {
  if (req.query.get('confirm') !== 'yes')
    throw new AppError('VALIDATION', 'Seeding platforms needs ?confirm=yes.', [
      { path: 'confirm', message: 'must be "yes"' },
    ]);
  const s = services();
  await s.ready();
  const actor = adminActor(req, s.config, undefined, 'seed platforms');
  return json(200, await seedPlatforms(s.pool, s.schema, actor ?? 'system:bootstrap'));
}

const RefList = z
  .array(RefName)
  .max(32)
  .refine((a) => new Set(a).size === a.length, 'names must be unique');
const PlatformBody = z.strictObject({
  platform_id: PlatformId,
  display_name: z.string().min(1).max(100),
  description: z.string().max(500).nullable().optional(),
  required_refs: RefList.refine((a) => a.length >= 1, 'a platform needs at least one required reference'),
  optional_refs: RefList.default([]),
  is_active: z.boolean().default(true),
  actor: Actor.optional(),
});

function checkRefSets(required: readonly string[], optional: readonly string[]) {
  const both = required.filter((r) => optional.includes(r));
  if (both.length)
    throw new AppError('VALIDATION', `References both required and optional: ${both.join(', ')}.`, [
      { path: 'optional_refs', message: `also required: ${both.join(', ')}` },
    ]);
}

export async function postPlatform(req: HttpRequest): Promise<HttpResponseInit> {
  const b = await parseBody(req, PlatformBody);
  checkRefSets(b.required_refs, b.optional_refs);
  const s = services();
  const actor = adminActor(req, s.config, b.actor, 'add a platform');
  const r = await createPlatform(s.pool, s.schema, b, actor);
  if (r.kind === 'exists')
    throw new AppError(
      'CONFLICT',
      `Platform "${b.platform_id}" already exists; change it with PATCH /api/platforms/${b.platform_id}.`,
      {
        field: 'platform_id',
        current: platformView(r.platform),
      },
    );
  return json(201, platformView(r.platform), { location: `/api/platforms/${b.platform_id}` });
}

const PlatformPatchBody = z.strictObject({
  display_name: z.string().min(1).max(100).optional(),
  description: z.string().max(500).nullable().optional(),
  required_refs: RefList.refine(
    (a) => a.length >= 1,
    'a platform needs at least one required reference',
  ).optional(),
  optional_refs: RefList.optional(),
  is_active: z.boolean().optional(),
  /** The platform's version as read (optimistic lock); omitted: last write wins. */
  version: z.int().min(1).optional(),
  actor: Actor.optional(),
});

async function patch(req: HttpRequest, body: z.infer<typeof PlatformPatchBody>, action: string) {
  const id = param(req, 'platform_id', 50);
  const s = services();
  const actor = adminActor(req, s.config, body.actor, action);
  const { version, actor: _a, ...fields } = body;
  const r = await updatePlatform(s.pool, s.schema, {
    platformId: id,
    patch: fields,
    ...(version !== undefined ? { expectedVersion: version } : {}),
    actor,
  });
  if (r.kind === 'not_found')
    throw new AppError('NOT_FOUND', `Platform "${id}" is not registered.`, { field: 'platform_id' });
  if (r.kind === 'version_conflict')
    throw new AppError(
      'CONFLICT',
      `Platform "${id}" is at version ${r.current.version}, not ${version}; read it again.`,
      {
        field: 'version',
        current: r.current.version,
      },
    );
  if (r.kind === 'refs_locked')
    throw new AppError(
      'CONFLICT',
      `Platform "${id}" has ${r.assets} asset(s): its required references make their identities and cannot change. Add optional references instead.`,
      { field: 'required_refs', current: r.current.required_refs },
    );
  return json(200, platformView(r.platform));
}

export async function patchPlatform(req: HttpRequest): Promise<HttpResponseInit> {
  const body = await parseBody(req, PlatformPatchBody);
  if (body.required_refs || body.optional_refs) {
    const s = services();
    const cur = await getPlatform(s.pool, s.schema, param(req, 'platform_id', 50));
    if (cur) checkRefSets(body.required_refs ?? cur.required_refs, body.optional_refs ?? cur.optional_refs);
  }
  return patch(req, body, 'change a platform');
}

const ActorBody = z.strictObject({ actor: Actor.optional(), reason: z.string().max(500).optional() });

export async function postDeactivatePlatform(req: HttpRequest): Promise<HttpResponseInit> {
  const b = await parseBody(req, ActorBody);
  return patch(req, { is_active: false, ...(b.actor ? { actor: b.actor } : {}) }, 'deactivate a platform');
}

export async function postActivatePlatform(req: HttpRequest): Promise<HttpResponseInit> {
  const b = await parseBody(req, ActorBody);
  return patch(req, { is_active: true, ...(b.actor ? { actor: b.actor } : {}) }, 'activate a platform');
}

/** The zod schemas of these routes' bodies and query strings, by handler (the OpenAPI document). */
export const PLATFORM_ROUTE_SCHEMAS = new Map<unknown, { body?: z.ZodType; query?: z.ZodType }>([
  [postPlatformSubmit, { body: SubmitBody }],
  [postDomainSubmit, { body: SubmitBody }],
  [getPlatforms, { query: PlatformsQuery }],
  [postPlatform, { body: PlatformBody }],
  [patchPlatform, { body: PlatformPatchBody }],
  [postDeactivatePlatform, { body: ActorBody }],
  [postActivatePlatform, { body: ActorBody }],
]);
