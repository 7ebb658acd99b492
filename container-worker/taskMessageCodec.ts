// The wire format of the container queues: base64-encoded JSON (what Functions queue triggers read
// and write with host.json messageEncoding "base64"), validated by the shared zod schemas.
import { z } from 'zod';
import {
  ContainerTaskBatchSchema,
  ContainerTaskMessageSchema,
  type ContainerTaskMessage,
} from '../lib/containerMessages';

/** The identity of an attempt, read leniently from a message that failed full validation. */
const AttemptIdentitySchema = z.object({
  task_id: z.string().min(1).max(200),
  job_id: z.string().min(1).max(64),
  node_id: z.string().min(1).max(140),
  attempt: z.int().min(0),
  reply_to: z.string().min(1).max(300).optional(),
  result_queue: z.string().min(3).max(63).optional(),
});
export type AttemptIdentity = z.infer<typeof AttemptIdentitySchema>;

export type DecodedTask =
  | { ok: true; message: ContainerTaskMessage }
  /** identity: present when the message names an attempt, so that its node can be failed. */
  | { ok: false; error: string; identity?: AttemptIdentity };

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function encodeQueueMessage(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64');
}

/** Decodes base64 JSON; undefined when the text is not base64 or not JSON. */
export function decodeQueueJson(text: string): { ok: true; value: unknown } | { ok: false; error: string } {
  const s = text.trim();
  if (s.length % 4 !== 0 || !BASE64.test(s)) {
    return { ok: false, error: 'the message is not base64 (container queues carry base64-encoded JSON)' };
  }
  try {
    return { ok: true, value: JSON.parse(Buffer.from(s, 'base64').toString('utf8')) as unknown };
  } catch (err) {
    return { ok: false, error: `the message is base64 but not JSON (${(err as Error).message})` };
  }
}

export function decodeTaskMessage(text: string): DecodedTask {
  const json = decodeQueueJson(text);
  if (!json.ok) return { ok: false, error: json.error };
  return decodeTask(json.value);
}

/** One task of a received message: its JSON as sent (for a spill or the poison queue) and its reading. */
export interface TaskPart {
  raw: unknown;
  decoded: DecodedTask;
}

export type DecodedMessage =
  /** batch: the message was `{v: 1, tasks: […]}`; tasks: one per task, in order. */
  { ok: true; batch: boolean; tasks: TaskPart[] } | { ok: false; error: string };

/** A task message or a batch of them (lib/containerMessages ContainerTaskBatchSchema). */
export function decodeTaskMessages(text: string): DecodedMessage {
  const json = decodeQueueJson(text);
  if (!json.ok) return json;
  const value = json.value;
  if (value !== null && typeof value === 'object' && 'tasks' in value) {
    const batch = ContainerTaskBatchSchema.safeParse(value);
    if (!batch.success)
      return {
        ok: false,
        error: `the message is not a valid batch of container tasks (${problemsOf(batch.error)})`,
      };
    return {
      ok: true,
      batch: true,
      tasks: batch.data.tasks.map((raw, i) => {
        const decoded = decodeTask(raw);
        return {
          raw,
          decoded: decoded.ok ? decoded : { ...decoded, error: `tasks[${i}]: ${decoded.error}` },
        };
      }),
    };
  }
  return { ok: true, batch: false, tasks: [{ raw: value, decoded: decodeTask(value) }] };
}

function decodeTask(value: unknown): DecodedTask {
  const parsed = ContainerTaskMessageSchema.safeParse(value);
  if (parsed.success) return { ok: true, message: parsed.data };
  const identity = AttemptIdentitySchema.safeParse(value);
  return {
    ok: false,
    error: `the message is not a valid container task message (${problemsOf(parsed.error)})`,
    ...(identity.success ? { identity: identity.data } : {}),
  };
}

function problemsOf(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.join('.') || 'message'}: ${i.message}`)
    .join('; ');
}
