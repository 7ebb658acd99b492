// Vocabularies of the platform layer (geospatial assets, their versions and clearance). Each is a zod
// enum and a PostgreSQL enum type of the same name, like the job statuses in statuses.ts.
import { z } from 'zod';

export const ASSET_DATA_TYPES = ['raster', 'vector'] as const;
export const AssetDataType = z.enum(ASSET_DATA_TYPES);
export type AssetDataType = z.infer<typeof AssetDataType>;

/** Release clearance: uncleared → ouo (official use only) → public; nothing else. */
export const CLEARANCE_STATES = ['uncleared', 'ouo', 'public'] as const;
export const ClearanceState = z.enum(CLEARANCE_STATES);
export type ClearanceState = z.infer<typeof ClearanceState>;
export const CLEARANCE_NEXT: Record<ClearanceState, ClearanceState | null> = {
  uncleared: 'ouo',
  ouo: 'public',
  public: null,
};

export const APPROVAL_STATES = ['pending_review', 'approved', 'rejected'] as const;
export const ApprovalState = z.enum(APPROVAL_STATES);
export type ApprovalState = z.infer<typeof ApprovalState>;

/** A version's processing follows its current job: queued (pending) → processing (running) → completed | failed. */
export const PROCESSING_STATES = ['queued', 'processing', 'completed', 'failed'] as const;
export const ProcessingState = z.enum(PROCESSING_STATES);
export type ProcessingState = z.infer<typeof ProcessingState>;
export const TERMINAL_PROCESSING_STATES: readonly ProcessingState[] = ['completed', 'failed'];

/** What the audit log records (asset_audit_log.action). */
export const AUDIT_ACTIONS = [
  'platform_created',
  'platform_updated',
  'asset_created',
  'asset_deleted',
  'asset_restored',
  'clearance_changed',
  'version_submitted',
  'version_approved',
  'version_rejected',
  'version_reprocessed',
  'processing_started',
  'processing_completed',
  'processing_failed',
  'metadata_created',
  'metadata_updated',
  'metadata_deleted',
] as const;
export const AuditAction = z.enum(AUDIT_ACTIONS);
export type AuditAction = z.infer<typeof AuditAction>;
