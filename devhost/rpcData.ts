// Conversions between the worker's RpcTypedData and plain values / JSON text, mirroring what the
// host does with a function's return value.
import type { RpcTypedData } from './functionsCore';

/** The value an RpcTypedData carries (as `fromRpcTypedData` in @azure/functions would give it). */
export function fromRpc(data: RpcTypedData | null | undefined): unknown {
  if (!data) return undefined;
  if (data.json !== undefined && data.json !== null) return JSON.parse(data.json);
  if (data.string !== undefined && data.string !== null) return data.string;
  if (data.int !== undefined && data.int !== null) return Number(data.int);
  if (data.double !== undefined && data.double !== null) return Number(data.double);
  if (data.bytes) return Buffer.from(data.bytes);
  return undefined;
}

/**
 * JSON text for a function's return value as the Durable extension stores it (TaskCompleted.Result):
 * strings become JSON strings, objects keep their JSON, bytes become a base64 string, nothing is null.
 */
export function rpcToJsonText(data: RpcTypedData | null | undefined): string {
  if (!data) return 'null';
  if (data.json !== undefined && data.json !== null) return data.json;
  if (data.string !== undefined && data.string !== null) return JSON.stringify(data.string);
  if (data.int !== undefined && data.int !== null) return String(Number(data.int));
  if (data.double !== undefined && data.double !== null) return JSON.stringify(Number(data.double));
  if (data.bytes) return JSON.stringify(Buffer.from(data.bytes).toString('base64'));
  return 'null';
}

/** Parses JSON text, falling back to the text itself (the worker's `tryJsonParse`). */
export function tryJsonParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
