// Minimal request/response values passed between the node:http server and the route handlers.

export interface HostRequest {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body: Buffer;
}

export interface HostResponse {
  status: number;
  headers?: Record<string, string | string[]>;
  body?: string | Uint8Array;
}

export function json(status: number, value: unknown, headers: Record<string, string> = {}): HostResponse {
  return {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
    body: value === undefined ? '' : JSON.stringify(value),
  };
}

/** Error body shared with the product API (SPEC §5): {error: {code, message}}. */
export function errorResponse(status: number, code: string, message: string): HostResponse {
  return json(status, { error: { code, message } });
}
