// A container result's signature: HMAC-SHA256, with a key kept in Postgres (dag_result_keys), over the
// attempt, where its event goes and the outcome the worker's record statement applied. A trigger
// that checks it raises the outcome as the message carries it; one that cannot (no signature, a key
// it does not hold, a mismatch) reads the recorded result instead, as for any doorbell
// (docs/messages.md "Trust"). So forging a result still needs the apps' access to Postgres: the key
// is read from there. Pure but for node:crypto, hence lib/io/.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { RESULT_SIGNATURE, type AttemptOutcome, type ContainerResultMessage } from '../containerMessages';

export interface SigningKey {
  keyId: number;
  secret: Buffer;
}

/** What a signature covers: everything the trigger raises, and to whom. */
export type SignedResult = Pick<
  ContainerResultMessage,
  'task_id' | 'job_id' | 'node_id' | 'attempt' | 'reply_to' | 'results_event'
> & { outcome: AttemptOutcome };

/** `<key id>.<base64url HMAC>`. */
export function signResult(key: SigningKey, m: SignedResult): string {
  return `${key.keyId}.${mac(key.secret, key.keyId, m).toString('base64url')}`;
}

/** The key id a signature names (undefined: malformed). */
export function signatureKeyId(signature: string): number | undefined {
  const m = RESULT_SIGNATURE.exec(signature);
  return m ? Number(m[1]) : undefined;
}

/** True when `signature` is this key's signature of the result. */
export function resultSignatureMatches(key: SigningKey, m: SignedResult, signature: string): boolean {
  if (signatureKeyId(signature) !== key.keyId) return false;
  const given = Buffer.from(signature.slice(signature.indexOf('.') + 1), 'base64url');
  const expected = mac(key.secret, key.keyId, m);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function mac(secret: Buffer, keyId: number, m: SignedResult): Buffer {
  const o = m.outcome;
  // A JSON array: one unambiguous encoding of the fields, in a fixed order.
  const text = JSON.stringify([
    'dag-result/1',
    keyId,
    m.task_id,
    m.job_id,
    m.node_id,
    m.attempt,
    m.reply_to,
    m.results_event ?? null,
    o.ok,
    o.ok ? null : o.error,
    o.ok ? null : o.retryable,
    o.ok ? null : (o.cancelled ?? false),
  ]);
  return createHmac('sha256', secret).update(text).digest();
}
