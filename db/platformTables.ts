// The platform layer's table models (docs/domain.md): client platforms, their geospatial assets, the
// numbered versions of an asset (each processed by a job), layer metadata, and an append-only audit
// log. Defined like the engine's tables (engineTables.ts, which holds the limits).
import { z } from 'zod';
import { APPROVAL_STATES, ASSET_DATA_TYPES, CLEARANCE_STATES, PROCESSING_STATES } from './assetStatuses';
import { col, defineTable, type Row } from './defineTable';
import { ASSET_LIMITS, LIMITS } from './engineTables';

const actor = () => col.varchar(ASSET_LIMITS.actor).nullable();

const FK_ASSET = (table: string) => ({
  name: `${table}_asset_fkey`,
  columns: ['asset_id'],
  references: { table: 'geospatial_assets', columns: ['asset_id'] },
  onDelete: 'CASCADE' as const,
});

export const platformsTable = defineTable({
  name: 'platforms',
  columns: z.object({
    platform_id: col.varchar(ASSET_LIMITS.platformId),
    display_name: col.varchar(ASSET_LIMITS.platformName),
    description: col.varchar(ASSET_LIMITS.platformDescription).nullable(),
    /** Reference names every submission must give (they make the asset's identity). */
    required_refs: z.array(z.string().max(ASSET_LIMITS.refName)).default([]),
    /** Reference names a submission may give besides the required ones. */
    optional_refs: z.array(z.string().max(ASSET_LIMITS.refName)).default([]),
    is_active: col.bool().default(true),
    created_at: col.timestamptz(),
    updated_at: col.timestamptz(),
    version: col.int().default(1),
  }),
  primaryKey: ['platform_id'],
  sqlDefaults: { created_at: 'now()', updated_at: 'now()' },
  indexes: [{ name: 'platforms_active_idx', columns: ['platform_id'], where: 'is_active' }],
  updatedAtTrigger: true,
});
export type PlatformRow = Row<typeof platformsTable>;

export const assetsTable = defineTable({
  name: 'geospatial_assets',
  columns: z.object({
    /** sha256(platform_id + "|" + canonical JSON of platform_refs)[:32] (db/assetIdentity.ts). */
    asset_id: col.varchar(ASSET_LIMITS.assetId),
    platform_id: col.varchar(ASSET_LIMITS.platformId),
    platform_refs: col.jsonObject(),
    data_type: col.enum('asset_data_type', ASSET_DATA_TYPES),
    clearance_state: col.enum('clearance_state', CLEARANCE_STATES).default('uncleared'),
    cleared_at: col.timestamptz().nullable(),
    cleared_by: actor(),
    made_public_at: col.timestamptz().nullable(),
    made_public_by: actor(),
    /** Soft delete: the asset and its versions stay; it is hidden from lists and refuses changes. */
    deleted_at: col.timestamptz().nullable(),
    deleted_by: actor(),
    created_by: actor(),
    created_at: col.timestamptz(),
    updated_at: col.timestamptz(),
    version: col.int().default(1),
  }),
  primaryKey: ['asset_id'],
  foreignKeys: [
    {
      name: 'geospatial_assets_platform_fkey',
      columns: ['platform_id'],
      references: { table: 'platforms', columns: ['platform_id'] },
      onDelete: 'RESTRICT',
    },
  ],
  sqlDefaults: { created_at: 'now()', updated_at: 'now()' },
  indexes: [
    {
      name: 'geospatial_assets_platform_idx',
      columns: [
        'platform_id',
        { name: 'created_at', descending: true },
        { name: 'asset_id', descending: true },
      ],
    },
    {
      name: 'geospatial_assets_created_idx',
      columns: ['created_at', 'asset_id'],
      descending: true,
    },
    { name: 'geospatial_assets_clearance_idx', columns: ['clearance_state'] },
    { name: 'geospatial_assets_not_deleted_idx', columns: ['platform_id'], where: 'deleted_at IS NULL' },
    { name: 'geospatial_assets_refs_gin', columns: ['platform_refs'], using: 'gin' },
  ],
  checks: [
    { name: 'geospatial_assets_version_check', expr: 'version >= 1' },
    {
      name: 'geospatial_assets_clearance_check',
      expr: "(clearance_state = 'uncleared' OR cleared_at IS NOT NULL) AND (clearance_state <> 'public' OR made_public_at IS NOT NULL)",
    },
  ],
  updatedAtTrigger: true,
});
export type AssetRow = Row<typeof assetsTable>;

export const assetVersionsTable = defineTable({
  name: 'asset_versions',
  columns: z.object({
    asset_id: col.varchar(ASSET_LIMITS.assetId),
    /** 0, 1, 2, ... per asset. */
    version_ordinal: col.int(),
    version_label: col.varchar(ASSET_LIMITS.versionLabel).nullable(),
    approval_state: col.enum('approval_state', APPROVAL_STATES).default('pending_review'),
    reviewer: actor(),
    reviewed_at: col.timestamptz().nullable(),
    rejection_reason: col.varchar(ASSET_LIMITS.rejectionReason).nullable(),
    processing_state: col.enum('processing_state', PROCESSING_STATES).default('queued'),
    processing_started_at: col.timestamptz().nullable(),
    processing_completed_at: col.timestamptz().nullable(),
    last_error: col.varchar(LIMITS.errorMessage).nullable(),
    /** The job processing this version (its latest run); application-enforced, no foreign key (retention). */
    current_job_id: col.varchar(LIMITS.jobId).nullable(),
    /** 0 at submit, +1 per reprocess. */
    revision: col.int().default(0),
    /** The submitter's request id (idempotency key of the submission; jobs carry it as correlation_id). */
    request_id: col.varchar(ASSET_LIMITS.requestId).nullable(),
    /** What a reprocess runs again. */
    workflow_id: col.varchar(LIMITS.workflowId),
    input_params: col.jsonObject().default({}),
    submitted_by: actor(),
    // Artifacts, taken from the job's node outputs when it completes (the workflow's artifacts: map).
    blob_path: col.varchar(ASSET_LIMITS.blobPath).nullable(),
    table_name: col.varchar(ASSET_LIMITS.tableName).nullable(),
    stac_item_id: col.varchar(ASSET_LIMITS.stacId).nullable(),
    stac_collection_id: col.varchar(ASSET_LIMITS.stacId).nullable(),
    content_hash: col.varchar(ASSET_LIMITS.contentHash).nullable(),
    created_at: col.timestamptz(),
    updated_at: col.timestamptz(),
    version: col.int().default(1),
  }),
  primaryKey: ['asset_id', 'version_ordinal'],
  foreignKeys: [FK_ASSET('asset_versions')],
  sqlDefaults: { created_at: 'now()', updated_at: 'now()' },
  indexes: [
    // At most one version of an asset awaits review: the database enforces what submit checks.
    {
      name: 'asset_versions_one_pending_uq',
      columns: ['asset_id'],
      unique: true,
      where: "approval_state = 'pending_review'",
    },
    {
      name: 'asset_versions_request_uq',
      columns: ['request_id'],
      unique: true,
      where: 'request_id IS NOT NULL',
    },
    { name: 'asset_versions_job_idx', columns: ['current_job_id'], where: 'current_job_id IS NOT NULL' },
    {
      name: 'asset_versions_latest_approved_idx',
      columns: ['asset_id', { name: 'version_ordinal', descending: true }],
      where: "approval_state = 'approved'",
    },
    { name: 'asset_versions_processing_idx', columns: ['processing_state'] },
  ],
  checks: [
    { name: 'asset_versions_ordinal_check', expr: 'version_ordinal >= 0' },
    { name: 'asset_versions_revision_check', expr: 'revision >= 0' },
    { name: 'asset_versions_version_check', expr: 'version >= 1' },
    {
      name: 'asset_versions_rejection_check',
      expr: "approval_state <> 'rejected' OR rejection_reason IS NOT NULL",
    },
  ],
  updatedAtTrigger: true,
});
export type AssetVersionRow = Row<typeof assetVersionsTable>;

export const layerMetadataTable = defineTable({
  name: 'layer_metadata',
  columns: z.object({
    asset_id: col.varchar(ASSET_LIMITS.assetId),
    data_type: col.enum('asset_data_type', ASSET_DATA_TYPES),
    display_name: col.varchar(ASSET_LIMITS.layerName),
    description: col.text().nullable(),
    attribution: col.varchar(ASSET_LIMITS.attribution).nullable(),
    keywords: z.array(z.string()).default([]),
    style: col.jsonb().nullable(),
    legend: col.jsonb().nullable(),
    field_metadata: col.jsonb().nullable(),
    min_zoom: col.int().nullable(),
    max_zoom: col.int().nullable(),
    default_visible: col.bool().default(true),
    sort_order: col.int().default(0),
    thumbnail_url: col.varchar(ASSET_LIMITS.url).nullable(),
    published_at: col.timestamptz().nullable(),
    created_at: col.timestamptz(),
    updated_at: col.timestamptz(),
    version: col.int().default(1),
  }),
  primaryKey: ['asset_id'],
  foreignKeys: [FK_ASSET('layer_metadata')],
  sqlDefaults: { created_at: 'now()', updated_at: 'now()' },
  indexes: [{ name: 'layer_metadata_type_idx', columns: ['data_type', 'sort_order'] }],
  checks: [
    {
      name: 'layer_metadata_zoom_check',
      expr: '(min_zoom IS NULL OR min_zoom BETWEEN 0 AND 24) AND (max_zoom IS NULL OR max_zoom BETWEEN 0 AND 24) AND (min_zoom IS NULL OR max_zoom IS NULL OR min_zoom <= max_zoom)',
    },
    { name: 'layer_metadata_version_check', expr: 'version >= 1' },
  ],
  updatedAtTrigger: true,
});
export type LayerMetadataRow = Row<typeof layerMetadataTable>;

/** Append-only: the repository only inserts and reads (db/auditRepository.ts). No foreign keys: it outlives what it describes. */
export const auditLogTable = defineTable({
  name: 'asset_audit_log',
  appendOnly: true,
  columns: z.object({
    audit_id: col.bigserial(),
    asset_id: col.varchar(ASSET_LIMITS.assetId).nullable(),
    version_ordinal: col.int().nullable(),
    platform_id: col.varchar(ASSET_LIMITS.platformId).nullable(),
    action: col.varchar(ASSET_LIMITS.auditAction),
    /** Who did it: the authenticated caller, the body's actor, or system:<component> for processing. */
    actor: actor(),
    from_state: col.jsonb().nullable(),
    to_state: col.jsonb().nullable(),
    details: col.jsonObject().default({}),
    job_id: col.varchar(LIMITS.jobId).nullable(),
    request_id: col.varchar(ASSET_LIMITS.requestId).nullable(),
    created_at: col.timestamptz(),
  }),
  primaryKey: ['audit_id'],
  // clock_timestamp(): entries written in one transaction still order by time.
  sqlDefaults: { created_at: 'clock_timestamp()' },
  indexes: [
    { name: 'asset_audit_log_asset_idx', columns: ['asset_id', 'audit_id'], where: 'asset_id IS NOT NULL' },
    {
      name: 'asset_audit_log_platform_idx',
      columns: ['platform_id', 'audit_id'],
      where: 'platform_id IS NOT NULL',
    },
  ],
});
export type AuditRow = Row<typeof auditLogTable>;
