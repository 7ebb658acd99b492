// HTTP plumbing shared by every route: JSON bodies and query strings parsed with zod, errors as
// {error: {code, message, details?}} with the right status, never a stack trace (SPEC §5).
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { AppError, isAppError } from './appError';
import { isDbError } from '../db';
import { hasActiveSpan, markSpanFailed, telemetryEnabled, withSpan } from '../handlers/telemetry';
import { services } from './services';

/** The HTTP status of each AppError code (the JSON API and the dashboard alike). */
export const HTTP_STATUS: Record<AppError['code'], number> = {
  VALIDATION: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNAVAILABLE: 503,
  INTERNAL: 500,
};

export const MAX_BODY_BYTES = 1024 * 1024;

export function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponseInit {
  return {
    status,
    jsonBody: body,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
  };
}

export function errorResponse(
  status: number,
  code: string,
  message: string,
  details?: unknown,
): HttpResponseInit {
  return json(status, { error: { code, message, ...(details === undefined ? {} : { details }) } });
}

/**
 * Logs through the app's logger; when the services cannot even be created (an invalid setting, a
 * DAG_HANDLER_MODULES module that does not load) the error is written to stderr with that reason.
 */
function logError(message: string, data: Record<string, unknown>): void {
  try {
    services().log.error(message, data);
  } catch (err) {
    process.stderr.write(
      `${JSON.stringify({ level: 'error', msg: message, ...data, services_error: (err as Error).message })}\n`,
    );
  }
}

/** Maps anything thrown by a route to a response; unexpected errors are logged, not shown. */
export function toResponse(err: unknown, context: InvocationContext): HttpResponseInit {
  if (isAppError(err)) return errorResponse(HTTP_STATUS[err.code], err.code, err.message, err.details);
  if (isDbError(err)) {
    if (err.code === 'VALIDATION') return errorResponse(400, 'VALIDATION', err.message, err.details);
    if (err.code === 'CONFLICT') return errorResponse(409, 'CONFLICT', err.message);
  }
  const e = err as { code?: string; message?: string };
  if (typeof e?.code === 'string' && /^(ECONNREFUSED|ENOTFOUND|ETIMEDOUT|57P0[1-3]|08\d{3})$/.test(e.code)) {
    logError('dependency unavailable', { invocation: context.invocationId, error: e.message });
    return errorResponse(
      503,
      'UNAVAILABLE',
      'A dependency (Postgres or storage) is unavailable; retry later.',
    );
  }
  logError('unhandled error in HTTP function', {
    invocation: context.invocationId,
    function: context.functionName,
    error: err instanceof Error ? err.stack : String(err),
  });
  return errorResponse(500, 'INTERNAL', `Internal error (invocation ${context.invocationId}); see the logs.`);
}

/**
 * Wraps a route: errors become JSON responses. With Application Insights on, the invocation is a span:
 * a child of the host's request (Azure: the Functions host reports the request and hands its trace
 * context to the invocation) or, where no host context exists (the dev host), the request itself —
 * continuing a caller's W3C traceparent header.
 */
export function route(
  fn: (req: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>,
): (req: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit> {
  const run = async (req: HttpRequest, context: InvocationContext) => {
    try {
      return await fn(req, context);
    } catch (err) {
      return toResponse(err, context);
    }
  };
  return async (req, context) => {
    if (!telemetryEnabled()) return run(req, context);
    const hostParent = context.traceContext?.traceParent;
    const nested = !!hostParent || hasActiveSpan();
    const jobId = req.params.id && /^[A-Za-z0-9_.:-]{1,64}$/.test(req.params.id) ? req.params.id : undefined;
    return withSpan(
      nested ? `function ${context.functionName}` : `${req.method} /api/${context.functionName}`,
      {
        kind: nested ? 'internal' : 'server',
        parent: hostParent ?? (nested ? undefined : req.headers.get('traceparent')),
        ...(jobId && context.functionName.startsWith('jobs') ? { dimensions: { job_id: jobId } } : {}),
        attributes: {
          'faas.trigger': 'http',
          'faas.name': context.functionName,
          'faas.invocation_id': context.invocationId,
          'http.request.method': req.method,
          'url.path': new URL(req.url).pathname,
        },
      },
      async (span) => {
        const res = await run(req, context);
        const status = res.status ?? 200;
        span?.setAttribute('http.response.status_code', status);
        if (status >= 500) markSpanFailed(span, `HTTP ${status}`);
        return res;
      },
    );
  };
}

export function zodProblems(error: z.ZodError): Array<{ path: string; message: string }> {
  return error.issues.map((i) => ({
    path: i.path.map(String).join('.') || '(body)',
    message: i.code === 'unrecognized_keys' ? `unknown field(s): ${i.keys.join(', ')}` : i.message,
  }));
}

/**
 * Reads a JSON body (≤ 1 MiB) and validates it; every problem is listed in the 400. The host stops
 * reading a body at FUNCTIONS_REQUEST_BODY_SIZE_LIMIT (set to the same limit in infra/ and the local
 * stack), so an oversized upload is refused before it is buffered; this check is the app's own.
 */
export async function parseBody<T>(req: HttpRequest, schema: z.ZodType<T>): Promise<T> {
  const declared = Number(req.headers.get('content-length') ?? '0');
  if (declared > MAX_BODY_BYTES) {
    throw new AppError(
      'PAYLOAD_TOO_LARGE',
      `The request body is ${declared} bytes; the limit is ${MAX_BODY_BYTES}.`,
    );
  }
  const text = await req.text();
  if (Buffer.byteLength(text) > MAX_BODY_BYTES) {
    throw new AppError('PAYLOAD_TOO_LARGE', `The request body is larger than ${MAX_BODY_BYTES} bytes.`);
  }
  let body: unknown;
  try {
    body = text.trim() === '' ? {} : JSON.parse(text);
  } catch (err) {
    throw new AppError('VALIDATION', `The request body is not valid JSON: ${(err as Error).message}`);
  }
  return validated(schema, body, 'request body');
}

/**
 * Validates the query string (repeated keys are not supported: the first value wins). `code` is the
 * function key (the Functions host's ?code=), never a route's parameter.
 */
export function parseQuery<T>(req: HttpRequest, schema: z.ZodType<T>): T {
  const obj = Object.create(null) as Record<string, string>;
  for (const [k, v] of req.query.entries()) {
    if (k !== 'code' && !Object.hasOwn(obj, k)) obj[k] = v;
  }
  return validated(schema, obj, 'query string');
}

/** The value as the schema parses it; otherwise a VALIDATION error that lists every problem. */
function validated<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const problems = zodProblems(r.error);
  throw new AppError(
    'VALIDATION',
    `Invalid ${what}: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
    problems,
  );
}

/** A route parameter that must be present and look like an id. */
export function param(req: HttpRequest, name: string, max = 64): string {
  const v = req.params[name];
  if (!v || v.length > max || !/^[A-Za-z0-9_.:-]+$/.test(v)) {
    throw new AppError(
      'VALIDATION',
      `Route parameter "${name}" is not a valid id: ${JSON.stringify(v ?? '')}`,
    );
  }
  return v;
}

export const limitParam = (max: number) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a positive integer')
    .transform(Number)
    .pipe(z.number().int().min(1).max(max))
    .optional();
