// The JSON shapes of the platform layer's answers (docs/domain.md): timestamps as ISO strings,
// every field present (null when unset), links to the related routes.
import type { AssetRow, AssetVersionRow, AuditRow, LayerMetadataRow, PlatformRow } from '../db';

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

export const assetLinks = (assetId: string) => {
  const base = `/api/assets/${assetId}`;
  return {
    self: base,
    versions: `${base}/versions`,
    latest: `${base}/versions/latest`,
    audit: `${base}/audit`,
    metadata: `/api/layer-metadata/${assetId}`,
  };
};

export function platformView(p: PlatformRow) {
  return {
    platform_id: p.platform_id,
    display_name: p.display_name,
    description: p.description ?? null,
    required_refs: p.required_refs,
    optional_refs: p.optional_refs,
    is_active: p.is_active,
    created_at: iso(p.created_at),
    updated_at: iso(p.updated_at),
    version: p.version,
  };
}

export function assetView(a: AssetRow) {
  return {
    asset_id: a.asset_id,
    platform_id: a.platform_id,
    platform_refs: a.platform_refs,
    data_type: a.data_type,
    clearance_state: a.clearance_state,
    cleared_at: iso(a.cleared_at),
    cleared_by: a.cleared_by ?? null,
    made_public_at: iso(a.made_public_at),
    made_public_by: a.made_public_by ?? null,
    is_public: a.clearance_state === 'public',
    is_deleted: a.deleted_at !== null,
    deleted_at: iso(a.deleted_at),
    deleted_by: a.deleted_by ?? null,
    created_by: a.created_by ?? null,
    created_at: iso(a.created_at),
    updated_at: iso(a.updated_at),
    version: a.version,
    links: assetLinks(a.asset_id),
  };
}

export function versionView(v: AssetVersionRow) {
  const base = `/api/assets/${v.asset_id}/versions/${v.version_ordinal}`;
  return {
    asset_id: v.asset_id,
    version_ordinal: v.version_ordinal,
    version_label: v.version_label ?? null,
    approval_state: v.approval_state,
    reviewer: v.reviewer ?? null,
    reviewed_at: iso(v.reviewed_at),
    rejection_reason: v.rejection_reason ?? null,
    processing_state: v.processing_state,
    processing_started_at: iso(v.processing_started_at),
    processing_completed_at: iso(v.processing_completed_at),
    last_error: v.last_error ?? null,
    current_job_id: v.current_job_id ?? null,
    revision: v.revision,
    request_id: v.request_id ?? null,
    workflow_id: v.workflow_id,
    input_params: v.input_params,
    submitted_by: v.submitted_by ?? null,
    blob_path: v.blob_path ?? null,
    table_name: v.table_name ?? null,
    stac_item_id: v.stac_item_id ?? null,
    stac_collection_id: v.stac_collection_id ?? null,
    content_hash: v.content_hash ?? null,
    is_approved: v.approval_state === 'approved',
    is_processing_terminal: v.processing_state === 'completed' || v.processing_state === 'failed',
    has_artifacts: !!(v.blob_path || v.table_name || v.stac_item_id),
    created_at: iso(v.created_at),
    updated_at: iso(v.updated_at),
    version: v.version,
    links: {
      self: base,
      asset: `/api/assets/${v.asset_id}`,
      job: v.current_job_id ? `/api/jobs/${v.current_job_id}` : null,
      approve: `${base}/approve`,
      reject: `${base}/reject`,
      reprocess: `${base}/reprocess`,
    },
  };
}

export function auditView(e: AuditRow) {
  return {
    audit_id: e.audit_id,
    asset_id: e.asset_id ?? null,
    version_ordinal: e.version_ordinal ?? null,
    platform_id: e.platform_id ?? null,
    action: e.action,
    actor: e.actor ?? null,
    from: e.from_state ?? null,
    to: e.to_state ?? null,
    details: e.details,
    job_id: e.job_id ?? null,
    request_id: e.request_id ?? null,
    at: iso(e.created_at),
  };
}

export function layerView(m: LayerMetadataRow) {
  return {
    asset_id: m.asset_id,
    data_type: m.data_type,
    display_name: m.display_name,
    description: m.description ?? null,
    attribution: m.attribution ?? null,
    keywords: m.keywords,
    style: m.style ?? null,
    legend: m.legend ?? null,
    field_metadata: m.field_metadata ?? null,
    min_zoom: m.min_zoom ?? null,
    max_zoom: m.max_zoom ?? null,
    default_visible: m.default_visible,
    sort_order: m.sort_order,
    thumbnail_url: m.thumbnail_url ?? null,
    published_at: iso(m.published_at),
    is_published: m.published_at !== null,
    has_style: m.style != null,
    has_legend: m.legend != null,
    created_at: iso(m.created_at),
    updated_at: iso(m.updated_at),
    version: m.version,
  };
}
