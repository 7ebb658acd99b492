// The text of Storage queue messages: base64 of UTF-8 (what Functions queue triggers read and write with
// host.json messageEncoding "base64"), for every sender and reader of the project's queues.

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function toBase64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

/** A value as a queue message: base64 of its JSON. */
export function jsonToBase64(value: unknown): string {
  return toBase64(JSON.stringify(value));
}

/** The text of a base64 message; undefined when it is not base64 (Buffer would decode garbage). */
export function fromBase64(text: string): string | undefined {
  const s = text.trim();
  if (s.length % 4 !== 0 || !BASE64.test(s)) return undefined;
  return Buffer.from(s, 'base64').toString('utf8');
}
