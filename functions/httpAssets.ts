// Asset routes (docs/domain.md): reads with cursor paging, review (approve / reject), clearance,
// soft delete and restore, reprocess, and the audit log.
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { durableClient } from './durableClient';
import { z } from 'zod';
import { AppError } from './appError';
import {
  CLEARANCE_STATES,
  changeClearance,
  getAsset,
  getVersion,
  latestApprovedVersion,
  listAssets,
  listAudit,
  listVersions,
  reviewVersion,
  setAssetDeleted,
  type AssetChangeResult,
  type AssetRow,
} from '../db';
import { json, limitParam, parseBody, parseQuery } from './http';
import { actorOf, stewardActor } from './platformAuth';
import { assetDeleted, assetNotFound, reprocessAssetVersion, versionNotFound } from './platformService';
import { assetView, auditView, versionView } from './platformViews';
import { services } from './services';

/** The {id} of an asset route: asset ids are 32 lowercase hexadecimal characters. */
export function assetIdParam(req: HttpRequest, name = 'id'): string {
  const v = req.params[name] ?? '';
  if (!/^[0-9a-f]{32}$/.test(v))
    throw new AppError(
      'VALIDATION',
      `"${v.slice(0, 80)}" is not an asset id (32 lowercase hexadecimal characters).`,
      [{ path: 'asset_id', message: 'not an asset id' }],
    );
  return v;
}

function ordinalParam(req: HttpRequest): number {
  const v = req.params.ordinal ?? '';
  if (!/^\d{1,9}$/.test(v))
    throw new AppError('VALIDATION', `Version ordinal "${v.slice(0, 40)}" is not a non-negative integer.`, [
      { path: 'ordinal', message: 'must be a non-negative integer' },
    ]);
  return Number(v);
}

const Cursor = z.string().min(1).max(1000);
const Bool = z.enum(['true', 'false']);

const AssetsQuery = z.strictObject({
  platform_id: z.string().min(1).max(50).optional(),
  include_deleted: Bool.optional(),
  clearance_state: z.enum(CLEARANCE_STATES).optional(),
  /** JSON object of references the assets must have (e.g. {"dataset_id":"d1"}). */
  refs: z.string().max(4000).optional(),
  limit: limitParam(500),
  cursor: Cursor.optional(),
});

function refsFilter(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    v = undefined;
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw new AppError('VALIDATION', 'refs must be a JSON object of references, e.g. {"dataset_id":"d1"}.', [
      { path: 'refs', message: 'not a JSON object' },
    ]);
  return v as Record<string, unknown>;
}

export async function getAssets(req: HttpRequest): Promise<HttpResponseInit> {
  const q = parseQuery(req, AssetsQuery);
  const s = services();
  const refs = refsFilter(q.refs);
  const page = await listAssets(s.pool, s.schema, {
    ...(q.platform_id ? { platformId: q.platform_id } : {}),
    includeDeleted: q.include_deleted === 'true',
    ...(q.clearance_state ? { clearanceState: q.clearance_state } : {}),
    ...(refs ? { refs } : {}),
    ...(q.limit ? { limit: q.limit } : {}),
    ...(q.cursor ? { cursor: q.cursor } : {}),
  });
  return json(200, { assets: page.items.map(assetView), next_cursor: page.nextCursor });
}

async function assetOrThrow(assetId: string): Promise<AssetRow> {
  const s = services();
  const a = await getAsset(s.pool, s.schema, assetId);
  if (!a) throw assetNotFound(assetId);
  return a;
}

export async function getAssetRoute(req: HttpRequest): Promise<HttpResponseInit> {
  const a = await assetOrThrow(assetIdParam(req));
  const s = services();
  const latest = await latestApprovedVersion(s.pool, s.schema, a.asset_id);
  return json(200, { ...assetView(a), latest_approved_ordinal: latest?.version_ordinal ?? null });
}

const PageQuery = z.strictObject({ limit: limitParam(500), cursor: Cursor.optional() });

export async function getVersions(req: HttpRequest): Promise<HttpResponseInit> {
  const assetId = assetIdParam(req);
  const q = parseQuery(req, PageQuery);
  await assetOrThrow(assetId);
  const s = services();
  const page = await listVersions(s.pool, s.schema, assetId, {
    ...(q.limit ? { limit: q.limit } : {}),
    ...(q.cursor ? { cursor: q.cursor } : {}),
  });
  return json(200, {
    asset_id: assetId,
    versions: page.items.map(versionView),
    next_cursor: page.nextCursor,
  });
}

export async function getLatestVersion(req: HttpRequest): Promise<HttpResponseInit> {
  const assetId = assetIdParam(req);
  await assetOrThrow(assetId);
  const s = services();
  const v = await latestApprovedVersion(s.pool, s.schema, assetId);
  if (!v)
    throw new AppError('NOT_FOUND', `Asset ${assetId} has no approved version yet.`, {
      field: 'approval_state',
      asset_id: assetId,
    });
  return json(200, versionView(v));
}

export async function getVersionRoute(req: HttpRequest): Promise<HttpResponseInit> {
  const assetId = assetIdParam(req);
  const ordinal = ordinalParam(req);
  const s = services();
  const v = await getVersion(s.pool, s.schema, assetId, ordinal);
  if (!v) {
    await assetOrThrow(assetId);
    throw versionNotFound(assetId, ordinal);
  }
  return json(200, versionView(v));
}

export async function getAssetAudit(req: HttpRequest): Promise<HttpResponseInit> {
  const assetId = assetIdParam(req);
  const q = parseQuery(req, PageQuery);
  const s = services();
  const page = await listAudit(s.pool, s.schema, {
    assetId,
    ...(q.limit ? { limit: q.limit } : {}),
    ...(q.cursor ? { cursor: q.cursor } : {}),
  });
  if (page.items.length === 0 && !q.cursor) await assetOrThrow(assetId);
  return json(200, { asset_id: assetId, entries: page.items.map(auditView), next_cursor: page.nextCursor });
}

const Actor = z.string().min(1).max(256);
const ApproveBody = z.strictObject({
  reviewer: Actor.optional(),
  reason: z.string().max(500).optional(),
  notes: z.string().max(500).optional(),
});
const RejectBody = z.strictObject({
  reviewer: Actor.optional(),
  reason: z
    .string()
    .max(500, 'a rejection reason is at most 500 characters')
    .refine((r) => r.trim() !== '', 'a rejection reason is required'),
});

async function review(
  req: HttpRequest,
  decision: 'approved' | 'rejected',
  reviewer: string | undefined,
  reason?: string,
) {
  const assetId = assetIdParam(req);
  const ordinal = ordinalParam(req);
  const s = services();
  const actor = actorOf(req, s.config, {
    bodyField: 'reviewer',
    bodyActor: reviewer,
    required: true,
    roles: s.config.DAG_REVIEWER_ROLES,
    action: decision === 'approved' ? 'approve a version' : 'reject a version',
  })!;
  const r = await reviewVersion(s.pool, s.schema, {
    assetId,
    ordinal,
    decision,
    reviewer: actor,
    ...(reason !== undefined ? { reason } : {}),
  });
  switch (r.kind) {
    case 'applied':
      return json(200, {
        asset_id: assetId,
        version_ordinal: ordinal,
        approval_state: r.version.approval_state,
        reviewer: r.version.reviewer,
        reviewed_at: r.version.reviewed_at?.toISOString() ?? null,
        ...(decision === 'rejected' ? { rejection_reason: r.version.rejection_reason } : {}),
        version: versionView(r.version),
      });
    case 'not_found':
      await assetOrThrow(assetId);
      throw versionNotFound(assetId, ordinal);
    case 'asset_deleted':
      throw assetDeleted(assetId);
    case 'not_pending':
      throw new AppError(
        'CONFLICT',
        `Version ${ordinal} of asset ${assetId} is already ${r.current.approval_state}${r.current.reviewer ? ` by ${r.current.reviewer}` : ''}${r.current.reviewed_at ? ` at ${r.current.reviewed_at.toISOString()}` : ''}; only a version pending review can be ${decision}.`,
        { field: 'approval_state', current: r.current.approval_state, reviewer: r.current.reviewer ?? null },
      );
    case 'not_processed':
      throw new AppError(
        'CONFLICT',
        `Version ${ordinal} of asset ${assetId} cannot be approved while its processing is ${r.current.processing_state}${r.current.last_error ? ` (${r.current.last_error.slice(0, 200)})` : ''}; wait for it to complete, reprocess it, or reject it.`,
        { field: 'processing_state', current: r.current.processing_state },
      );
  }
}

export async function postApprove(req: HttpRequest): Promise<HttpResponseInit> {
  const b = await parseBody(req, ApproveBody);
  return review(req, 'approved', b.reviewer, b.reason ?? b.notes);
}

export async function postReject(req: HttpRequest): Promise<HttpResponseInit> {
  const b = await parseBody(req, RejectBody);
  return review(req, 'rejected', b.reviewer, b.reason);
}

const ActorBody = z.strictObject({ actor: Actor.optional(), reason: z.string().max(500).optional() });

function explainChange(
  r: Exclude<AssetChangeResult, { kind: 'applied' }>,
  assetId: string,
  what: string,
): AppError {
  if (r.kind === 'not_found') return assetNotFound(assetId);
  if (r.kind === 'deleted') return assetDeleted(assetId);
  return new AppError('CONFLICT', `Asset ${assetId} ${what}.`, {
    field: 'clearance_state',
    current: r.current.clearance_state,
    deleted: r.current.deleted_at !== null,
  });
}

/** POST /api/assets/{id}/clearance/{level}: ouo (alias "cleared", as in the original) or public. */
export async function postClearance(req: HttpRequest): Promise<HttpResponseInit> {
  const assetId = assetIdParam(req);
  const level = req.params.level;
  const to = level === 'ouo' || level === 'cleared' ? 'ouo' : level === 'public' ? 'public' : undefined;
  if (!to)
    throw new AppError(
      'VALIDATION',
      `Clearance level "${String(level).slice(0, 40)}" is not ouo (or cleared) or public.`,
      [{ path: 'level', message: 'must be ouo, cleared or public' }],
    );
  const b = await parseBody(req, ActorBody);
  const s = services();
  const actor = stewardActor(
    req,
    s.config,
    b.actor,
    `clear an asset for ${to === 'ouo' ? 'official use' : 'public release'}`,
  );
  const r = await changeClearance(s.pool, s.schema, { assetId, to, actor, reason: b.reason ?? null });
  if (r.kind !== 'applied') {
    const cur = r.kind === 'conflict' ? r.current.clearance_state : '';
    throw explainChange(
      r,
      assetId,
      `is ${cur}: clearance goes uncleared → ouo → public, one step at a time (${to} needs ${to === 'ouo' ? 'uncleared' : 'ouo'})`,
    );
  }
  return json(200, {
    asset_id: assetId,
    clearance_state: r.asset.clearance_state,
    asset: assetView(r.asset),
  });
}

/** DELETE /api/assets/{id}?actor=: soft delete; an already deleted asset answers deleted: false. */
export async function deleteAssetRoute(req: HttpRequest): Promise<HttpResponseInit> {
  const assetId = assetIdParam(req);
  const q = parseQuery(
    req,
    z.strictObject({ actor: Actor.optional(), reason: z.string().max(500).optional() }),
  );
  const b = await parseBody(req, ActorBody);
  const s = services();
  const actor = stewardActor(req, s.config, q.actor ?? b.actor, 'delete an asset');
  const r = await setAssetDeleted(s.pool, s.schema, {
    assetId,
    deleted: true,
    actor,
    reason: q.reason ?? b.reason ?? null,
  });
  if (r.kind === 'not_found') throw assetNotFound(assetId);
  return json(200, { deleted: r.kind === 'applied', asset_id: assetId });
}

export async function postRestore(req: HttpRequest): Promise<HttpResponseInit> {
  const assetId = assetIdParam(req);
  const b = await parseBody(req, ActorBody);
  const s = services();
  const actor = stewardActor(req, s.config, b.actor, 'restore an asset');
  const r = await setAssetDeleted(s.pool, s.schema, {
    assetId,
    deleted: false,
    actor,
    reason: b.reason ?? null,
  });
  if (r.kind === 'not_found') throw assetNotFound(assetId);
  if (r.kind !== 'applied')
    throw new AppError('CONFLICT', `Asset ${assetId} is not deleted; there is nothing to restore.`, {
      field: 'deleted_at',
      deleted: false,
    });
  return json(200, { restored: true, asset_id: assetId, asset: assetView(r.asset) });
}

export async function postReprocess(req: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const assetId = assetIdParam(req);
  const ordinal = ordinalParam(req);
  const b = await parseBody(req, ActorBody);
  const s = services();
  const actor = actorOf(req, s.config, {
    bodyField: 'actor',
    bodyActor: b.actor,
    required: false,
    action: 'reprocess a version',
  });
  const r = await reprocessAssetVersion(s, durableClient(context), {
    assetId,
    ordinal,
    actor,
    ...(b.reason ? { reason: b.reason } : {}),
  });
  return json(202, {
    asset_id: assetId,
    version_ordinal: ordinal,
    revision: r.version.revision,
    job_id: r.job.job_id,
    status: 'accepted',
    version: versionView(r.version),
    links: { job: `/api/jobs/${r.job.job_id}`, version: `/api/assets/${assetId}/versions/${ordinal}` },
  });
}

/** The zod schemas of these routes' bodies and query strings, by handler (the OpenAPI document). */
export const ASSET_ROUTE_SCHEMAS = new Map<unknown, { body?: z.ZodType; query?: z.ZodType }>([
  [getAssets, { query: AssetsQuery }],
  [getVersions, { query: PageQuery }],
  [getAssetAudit, { query: PageQuery }],
  [postApprove, { body: ApproveBody }],
  [postReject, { body: RejectBody }],
  [postClearance, { body: ActorBody }],
  [deleteAssetRoute, { body: ActorBody }],
  [postRestore, { body: ActorBody }],
  [postReprocess, { body: ActorBody }],
]);
