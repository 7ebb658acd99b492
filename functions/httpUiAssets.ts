// The dashboard's platform pages (docs/dashboard.md "Assets"): assets with their versions, review
// and clearance, and the audit log. Review and clearance go through the platform API's own route
// handlers (functions/httpAssets.ts) with the same rules — roles with DAG_AUTH_ENABLED, the actor
// from App Service authentication when present, else the name typed in the form.
import { HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { isAppError } from './appError';
import {
  CLEARANCE_STATES,
  getAsset,
  latestApprovedVersion,
  listAssets,
  listAudit,
  listVersions,
} from '../db';
import { parseQuery } from './http';
import { assetIdParam, postApprove, postClearance, postReject } from './httpAssets';
import { assetNotFound } from './platformService';
import { services } from './services';
import { readForm, redirect, render, UI_BASE, uiRoute, type UiSession } from './uiSupport';

const opt = (max: number) =>
  z
    .string()
    .max(max)
    .optional()
    .transform((s) => (s === undefined || s.trim() === '' ? undefined : s.trim()));

const AssetsQuery = z.strictObject({
  platform_id: opt(50),
  clearance_state: z.enum(CLEARANCE_STATES).or(z.literal('')).optional(),
  cursor: opt(1000),
});

async function assetsPage(req: HttpRequest, _ctx: InvocationContext, sess: UiSession) {
  const q = parseQuery(req, AssetsQuery);
  const s = services();
  const page = await listAssets(s.pool, s.schema, {
    ...(q.platform_id ? { platformId: q.platform_id } : {}),
    ...(q.clearance_state ? { clearanceState: q.clearance_state } : {}),
    ...(q.cursor ? { cursor: q.cursor } : {}),
    limit: 50,
  });
  const filters = { platform_id: q.platform_id ?? '', clearance_state: q.clearance_state ?? '' };
  const next = page.nextCursor
    ? `${UI_BASE}/assets?${new URLSearchParams(
        Object.entries({ ...filters, cursor: page.nextCursor }).filter(([, v]) => v !== ''),
      ).toString()}`
    : null;
  return render(
    'assets.njk',
    { title: 'Assets', nav: 'assets', items: page.items, filters, clearances: CLEARANCE_STATES, next },
    sess,
  );
}

const AssetQuery = z.strictObject({ flash: opt(1000), error: opt(1000) });

async function assetPage(req: HttpRequest, _ctx: InvocationContext, sess: UiSession) {
  const assetId = assetIdParam(req);
  const q = parseQuery(req, AssetQuery);
  const s = services();
  const asset = await getAsset(s.pool, s.schema, assetId);
  if (!asset) throw assetNotFound(assetId);
  const [versions, audit, latest] = await Promise.all([
    listVersions(s.pool, s.schema, assetId, { limit: 100 }),
    listAudit(s.pool, s.schema, { assetId, limit: 200 }),
    latestApprovedVersion(s.pool, s.schema, assetId),
  ]);
  return render(
    'asset.njk',
    {
      title: `Asset ${assetId}`,
      nav: 'assets',
      asset,
      versions: versions.items,
      audit: audit.items,
      latestApproved: latest?.version_ordinal ?? null,
      flash: q.flash ?? null,
      error: q.error ?? null,
      authEnabled: s.config.DAG_AUTH_ENABLED,
      nextClearance:
        asset.clearance_state === 'uncleared' ? 'ouo' : asset.clearance_state === 'ouo' ? 'public' : null,
    },
    sess,
  );
}

/** Calls a platform route handler with a JSON body, keeping the caller's App Service principal. */
async function callPlatform(
  req: HttpRequest,
  handler: (r: HttpRequest) => Promise<HttpResponseInit>,
  params: Record<string, string>,
  body: Record<string, unknown>,
): Promise<string | null> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  for (const h of ['x-ms-client-principal', 'x-ms-client-principal-name', 'x-ms-client-principal-id']) {
    const v = req.headers.get(h);
    if (v) headers[h] = v;
  }
  const inner = new HttpRequest({
    method: 'POST',
    url: req.url,
    headers,
    params,
    body: { string: JSON.stringify(body) },
  });
  try {
    await handler(inner);
    return null;
  } catch (err) {
    if (isAppError(err)) return err.message;
    throw err;
  }
}

const back = (assetId: string, key: 'flash' | 'error', message: string) =>
  redirect(`${UI_BASE}/assets/${assetId}?${key}=${encodeURIComponent(message.slice(0, 900))}`);

async function reviewAction(req: HttpRequest, _ctx: InvocationContext, sess: UiSession) {
  const assetId = assetIdParam(req);
  const form = await readForm(req, sess);
  const ordinal = form.get('ordinal') ?? '';
  const decision = form.get('decision');
  const reviewer = form.get('reviewer')?.trim() || undefined;
  const reason = form.get('reason')?.trim() || undefined;
  const approve = decision === 'approve';
  const error = await callPlatform(
    req,
    approve ? postApprove : postReject,
    { id: assetId, ordinal },
    {
      ...(reviewer ? { reviewer } : {}),
      ...(reason !== undefined || !approve ? { reason: reason ?? '' } : {}),
    },
  );
  return error
    ? back(assetId, 'error', error)
    : back(assetId, 'flash', `Version ${ordinal} ${approve ? 'approved' : 'rejected'}.`);
}

async function clearanceAction(req: HttpRequest, _ctx: InvocationContext, sess: UiSession) {
  const assetId = assetIdParam(req);
  const form = await readForm(req, sess);
  const level = form.get('level') ?? '';
  const actor = form.get('actor')?.trim() || undefined;
  const reason = form.get('reason')?.trim() || undefined;
  const error = await callPlatform(
    req,
    postClearance,
    { id: assetId, level },
    { ...(actor ? { actor } : {}), ...(reason ? { reason } : {}) },
  );
  return error ? back(assetId, 'error', error) : back(assetId, 'flash', `Clearance set to ${level}.`);
}

export const uiAssets = {
  list: uiRoute(assetsPage),
  asset: uiRoute(assetPage),
  review: uiRoute(reviewAction),
  clearance: uiRoute(clearanceAction),
};
