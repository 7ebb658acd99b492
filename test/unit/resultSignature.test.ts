// A result's signature covers everything the trigger raises and to whom: change any of it, or the
// key, and it no longer checks out.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ContainerResultMessageSchema } from '../../lib/containerMessages';
import {
  resultSignatureMatches,
  signatureKeyId,
  signResult,
  type SignedResult,
} from '../../lib/io/resultSignature';

const key = { keyId: 3, secret: randomBytes(32) };
const base: SignedResult = {
  task_id: 'job1_work_0',
  job_id: 'job1',
  node_id: 'work',
  attempt: 0,
  reply_to: 'job1',
  results_event: 'job1_fan__0_0',
  outcome: { ok: false, error: 'boom', retryable: true },
};

describe('result signatures', () => {
  it('a signature checks out with its key, names it, and fits the wire schema', () => {
    const sig = signResult(key, base);
    expect(signatureKeyId(sig)).toBe(3);
    expect(resultSignatureMatches(key, base, sig)).toBe(true);
    const wire = ContainerResultMessageSchema.safeParse({
      v: 1,
      ...base,
      status: 'failed',
      reported_at: new Date().toISOString(),
      signature: sig,
    });
    expect(wire.success).toBe(true);
  });

  it.each<[string, Partial<SignedResult>]>([
    ['task_id', { task_id: 'job1_work_1' }],
    ['job_id', { job_id: 'job2' }],
    ['node_id', { node_id: 'other' }],
    ['attempt', { attempt: 1 }],
    ['reply_to', { reply_to: 'someone-else' }],
    ['results_event', { results_event: undefined }],
    ['outcome.ok', { outcome: { ok: true } }],
    ['outcome.error', { outcome: { ok: false, error: 'boom!', retryable: true } }],
    ['outcome.retryable', { outcome: { ok: false, error: 'boom', retryable: false } }],
    ['outcome.cancelled', { outcome: { ok: false, error: 'boom', retryable: true, cancelled: true } }],
  ])('changing %s breaks it', (_field, change) => {
    const sig = signResult(key, base);
    expect(resultSignatureMatches(key, { ...base, ...change }, sig)).toBe(false);
  });

  it('another key, another key id, or a malformed signature does not check out', () => {
    const sig = signResult(key, base);
    expect(resultSignatureMatches({ keyId: 3, secret: randomBytes(32) }, base, sig)).toBe(false);
    expect(resultSignatureMatches({ ...key, keyId: 4 }, base, sig)).toBe(false);
    expect(resultSignatureMatches(key, base, sig.replace(/^3\./, '4.'))).toBe(false);
    expect(resultSignatureMatches(key, base, `${sig}A`)).toBe(false);
    expect(resultSignatureMatches(key, base, '3.short')).toBe(false);
    expect(signatureKeyId('x.y')).toBeUndefined();
  });
});
