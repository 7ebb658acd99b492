// The Durable Functions HTTP management API (what DurableClient calls through rpcBaseUrl, and the
// public /runtime/webhooks/durabletask routes behind createCheckStatusResponse): start, status,
// list, raise event, terminate, purge. Rewind/suspend/resume/restart and entities answer 501.
// Errors are plain text: DurableClient turns the body into its Error message.
import { z } from 'zod';
import { DevHostError, errorMessage } from './devHostError';
import { managementUrls } from './durableClientBinding';
import type { DurableOperations, OrchestrationStatus } from './durableOperations';
import { isTerminal } from './historyEvents';
import { json, type HostRequest, type HostResponse } from './httpTypes';
import type { Logger } from './logger';
import type { InstanceFilter } from './store/instanceStore';

export interface ManagementContext {
  ops: DurableOperations;
  logger?: Logger;
  taskHub: string;
  connectionName: string;
  key: string | undefined;
  /** Origin for URLs in responses: the caller's Host for public routes. */
  origin(req: HostRequest): string;
  webhookPath: string;
}

// Query parameters are read like HttpApiHandler reads them: a value that does not parse (bool.TryParse,
// DateTime.TryParse, int.TryParse, Enum.TryParse) is ignored, not rejected.
const bool = z
  .string()
  .optional()
  .transform((v) => {
    const t = v?.trim().toLowerCase();
    return t === 'true' ? true : t === 'false' ? false : undefined;
  });
const date = z
  .string()
  .optional()
  .transform((v) => (v === undefined || Number.isNaN(Date.parse(v)) ? undefined : new Date(v)));
const int = z
  .string()
  .optional()
  .transform((v) => (v !== undefined && /^\s*[+-]?\d+\s*$/.test(v) ? Number(v) : undefined));
const seconds = z
  .string()
  .optional()
  .transform((v) =>
    v === undefined || v.trim() === '' || !Number.isFinite(Number(v)) ? undefined : Number(v),
  );
const statusQuery = z.looseObject({
  showHistory: bool,
  showHistoryOutput: bool,
  showInput: bool,
  returnInternalServerErrorOnFailure: bool,
});
const listQuery = z.looseObject({
  createdTimeFrom: date,
  createdTimeTo: date,
  runtimeStatus: z.string().optional(),
  instanceIdPrefix: z.string().optional(),
  showInput: bool,
  top: int,
});
const startQuery = z.looseObject({
  version: z.string().optional(),
  timeout: seconds,
  pollingInterval: seconds,
});
function errorResponse(status: number, _code: string, message: string): HostResponse {
  return { status, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: message };
}

/** OrchestrationRuntimeStatus / DTFx OrchestrationStatus, in enum order (Enum.TryParse also takes the number). */
const runtimeStatuses = [
  'Running',
  'Completed',
  'ContinuedAsNew',
  'Failed',
  'Canceled',
  'Terminated',
  'Pending',
  'Suspended',
];

/** The extension's TryGetIEnumerableQueryParameterValue: comma-separated, case-sensitive names or
 * numbers; anything else is skipped. */
function parseStatuses(raw: string | undefined): { statuses: string[] | undefined; ignored: string[] } {
  const statuses: string[] = [];
  const ignored: string[] = [];
  for (const part of (raw ?? '').split(',')) {
    const v = part.trim();
    if (!v) continue;
    const byNumber = /^\d+$/.test(v) ? runtimeStatuses[Number(v)] : undefined;
    const name = byNumber ?? (runtimeStatuses.includes(v) ? v : undefined);
    if (name) statuses.push(name);
    else ignored.push(part);
  }
  return { statuses: statuses.length ? statuses : undefined, ignored };
}

function query(req: HostRequest): Record<string, string> {
  return Object.fromEntries(req.url.searchParams);
}

function parse<T extends z.ZodType>(schema: T, value: unknown, what: string): z.infer<T> {
  const r = schema.safeParse(value);
  if (!r.success) {
    throw new DevHostError(
      'bad-request',
      `${what}: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  return r.data;
}

/** JSON text of a request body (empty body: null). */
function bodyJson(req: HostRequest, what: string): string | null {
  const text = req.body.toString('utf8');
  if (text.trim() === '') return null;
  try {
    JSON.parse(text);
  } catch (err) {
    throw new DevHostError(
      'bad-request',
      `${what}: the request body is not valid JSON (${errorMessage(err)})`,
    );
  }
  return text;
}

export async function handleManagement(
  req: HostRequest,
  path: string,
  ctx: ManagementContext,
): Promise<HostResponse> {
  try {
    return await route(req, path, ctx);
  } catch (err) {
    if (err instanceof DevHostError) {
      const status =
        err.code === 'bad-request' || err.code === 'config'
          ? 400
          : err.code === 'not-found'
            ? 404
            : err.code === 'conflict'
              ? 409
              : err.code === 'gone'
                ? 410
                : err.code === 'unsupported'
                  ? 501
                  : 500;
      return errorResponse(status, err.code, err.message);
    }
    throw err;
  }
}

async function route(req: HostRequest, rawPath: string, ctx: ManagementContext): Promise<HostResponse> {
  const q = query(req);
  if (q.taskHub && q.taskHub !== ctx.taskHub) {
    return errorResponse(
      404,
      'not-found',
      `This dev host serves task hub '${ctx.taskHub}', not '${q.taskHub}'`,
    );
  }
  const segs = rawPath
    .split('/')
    .filter((s) => s !== '')
    .map(decodeURIComponent);
  const [head, a, b, c] = segs;
  const m = req.method;

  if (head === 'orchestrators' && a && segs.length <= 3 && m === 'POST') return start(req, ctx, a, b);
  if (head === 'instances' && !a) {
    if (m === 'GET') return list(req, ctx);
    if (m === 'DELETE') return purgeBy(req, ctx);
  }
  if (head === 'instances' && a && !b) {
    if (m === 'GET') {
      const sq = parse(statusQuery, q, 'get status');
      const s = await ctx.ops.getStatus(a, sq);
      if (!s) return errorResponse(404, 'not-found', `No instance with ID '${a}'`);
      return statusResponse(req, s, sq.returnInternalServerErrorOnFailure === true);
    }
    if (m === 'DELETE') {
      // HandleDeleteHistoryByIdRequestAsync: only finished instances can be purged by id.
      const s = await ctx.ops.getStatus(a, { showInput: false });
      if (!s) return errorResponse(404, 'not-found', `No instance with ID '${a}'`);
      if (!isTerminal(s.runtimeStatus)) {
        return errorResponse(
          412,
          'precondition-failed',
          `Only orchestrations in a terminal state can be purged, but the orchestration with instance ID ${a} ` +
            `has status ${s.runtimeStatus}`,
        );
      }
      return json(200, { instancesDeleted: await ctx.ops.purge(a) });
    }
  }
  if (head === 'instances' && a && b === 'raiseEvent' && c && m === 'POST') {
    // HandleRaiseEventRequestAsync: 404 / 410 first, then only application/json bodies. A valid
    // request is checked and queued by one statement; only a bad one reads the instance first.
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    let body: string | null | undefined;
    try {
      if (type === 'application/json') body = bodyJson(req, 'raise event');
    } catch {
      body = undefined;
    }
    if (body !== undefined) {
      try {
        await ctx.ops.raiseEvent(a, c, body);
        return { status: 202 };
      } catch (err) {
        if (!(err instanceof DevHostError) || (err.code !== 'not-found' && err.code !== 'gone')) throw err;
      }
    }
    const s = await ctx.ops.getStatus(a, { showInput: false });
    if (!s) return errorResponse(404, 'not-found', `No instance with ID '${a}'`);
    if (isTerminal(s.runtimeStatus)) return { status: 410 };
    if (type !== 'application/json') {
      return errorResponse(400, 'bad-request', 'Only application/json request content is supported');
    }
    // The body is not JSON (this throws the 400), or the instance ended just now (raise again: 410).
    await ctx.ops.raiseEvent(a, c, bodyJson(req, 'raise event'));
    return { status: 202 };
  }
  if (head === 'instances' && a && b === 'terminate' && !c && m === 'POST') {
    await ctx.ops.terminate(a, q.reason ?? '');
    return { status: 202 };
  }
  if (head === 'instances' && a && b && ['rewind', 'suspend', 'resume', 'restart'].includes(b)) {
    return errorResponse(501, 'unsupported', `The dev host does not support ${b} (instance '${a}').`);
  }
  if (head === 'entities') {
    return errorResponse(501, 'unsupported', 'Durable entities are not supported by the dev host.');
  }
  return errorResponse(404, 'not-found', `No Durable management route for ${m} ${rawPath}`);
}

/** HttpApiHandler.HandleStartOrchestratorRequestAsync. */
async function start(
  req: HostRequest,
  ctx: ManagementContext,
  name: string,
  instanceId: string | undefined,
): Promise<HostResponse> {
  const sq = parse(startQuery, query(req), 'start orchestration');
  let id: string;
  try {
    id = await ctx.ops.startWithJson(name, bodyJson(req, 'start orchestration'), {
      instanceId,
      version: sq.version,
    });
  } catch (err) {
    if (!(err instanceof DevHostError) || err.code !== 'conflict' || !instanceId) throw err;
    // DTFx throws OrchestrationAlreadyExistsException (ThrowExceptionOnInvalidDedupeStatus, set by
    // the extension); the handler has no catch for it, so the request answers 500.
    const existing = await ctx.ops.getStatus(instanceId);
    return json(500, {
      Message: 'Something went wrong while processing your request',
      ExceptionMessage: `An Orchestration instance with the status ${existing?.runtimeStatus ?? 'Running'} already exists.`,
      ExceptionType: 'DurableTask.Core.Exceptions.OrchestrationAlreadyExistsException',
    });
  }
  // createAndWaitOnNewInstancePostUri: the handler waits only when both values are given.
  if (sq.timeout !== undefined && sq.pollingInterval !== undefined) {
    return waitAndRespond(req, ctx, id, sq.timeout * 1000);
  }
  return checkStatus(req, ctx, id);
}

/** HttpApiHandler.HandleGetStatusRequestAsync: 202 while running, 200 when finished, Failed answers
 * 500 only with returnInternalServerErrorOnFailure. */
function statusResponse(req: HostRequest, s: OrchestrationStatus, failedIs500: boolean): HostResponse {
  if (!isTerminal(s.runtimeStatus)) {
    return json(202, s, { location: req.url.href, 'retry-after': '5' });
  }
  return json(s.runtimeStatus === 'Failed' && failedIs500 ? 500 : 200, s);
}

function filterOf(lq: z.infer<typeof listQuery>, ctx: ManagementContext, what: string): InstanceFilter {
  const { statuses, ignored } = parseStatuses(lq.runtimeStatus);
  if (ignored.length) {
    ctx.logger?.warn(
      `${what}: ignoring runtimeStatus value(s) ${ignored.map((x) => `'${x}'`).join(', ')} (not one of ` +
        `${runtimeStatuses.join(', ')}; names are case-sensitive), as the Durable extension does`,
    );
  }
  return {
    createdTimeFrom: lq.createdTimeFrom,
    createdTimeTo: lq.createdTimeTo,
    runtimeStatus: statuses,
    instanceIdPrefix: lq.instanceIdPrefix,
  };
}

async function list(req: HostRequest, ctx: ManagementContext): Promise<HostResponse> {
  const lq = parse(listQuery, query(req), 'list instances');
  const token = req.headers['x-ms-continuation-token'];
  const top = lq.top !== undefined && lq.top >= 1 ? Math.min(lq.top, 1000) : 100;
  const page = await ctx.ops.list(
    filterOf(lq, ctx, 'list instances'),
    top,
    token || undefined,
    lq.showInput !== false,
  );
  return json(200, page.items, page.continuation ? { 'x-ms-continuation-token': page.continuation } : {});
}

/** HttpApiHandler.HandleDeleteHistoryWithFiltersRequestAsync. */
async function purgeBy(req: HostRequest, ctx: ManagementContext): Promise<HostResponse> {
  const lq = parse(listQuery, query(req), 'purge instances');
  if (!lq.createdTimeFrom) {
    return errorResponse(400, 'bad-request', "Please provide value for 'createdTimeFrom' parameter.");
  }
  const filter = filterOf({ ...lq, createdTimeTo: lq.createdTimeTo ?? new Date() }, ctx, 'purge instances');
  const n = await ctx.ops.purgeBy({ ...filter, instanceIdPrefix: undefined });
  return n ? json(200, { instancesDeleted: n }) : errorResponse(404, 'not-found', 'No instances matched');
}

function payload(req: HostRequest, ctx: ManagementContext, id: string): Record<string, string> {
  const code = ctx.key ? `&code=${encodeURIComponent(ctx.key)}` : '';
  const q = `taskHub=${encodeURIComponent(ctx.taskHub)}&connection=${encodeURIComponent(ctx.connectionName)}${code}`;
  return managementUrls(`${ctx.origin(req)}${ctx.webhookPath}`, encodeURIComponent(id), q);
}

/** HttpApiHandler.CreateCheckStatusResponseMessage: 202 with the management URLs (no rewindPostUri). */
function checkStatus(req: HostRequest, ctx: ManagementContext, id: string): HostResponse {
  const p = payload(req, ctx, id);
  const body = {
    id,
    statusQueryGetUri: p.statusQueryGetUri,
    sendEventPostUri: p.sendEventPostUri,
    terminatePostUri: p.terminatePostUri,
    purgeHistoryDeleteUri: p.purgeHistoryDeleteUri,
    restartPostUri: p.restartPostUri,
    suspendPostUri: p.suspendPostUri,
    resumePostUri: p.resumePostUri,
  };
  return json(202, body, { location: p.statusQueryGetUri!, 'retry-after': '10' });
}

/** WaitForCompletionOrCreateCheckStatusResponseAsync: Completed answers 200 with the output;
 * Failed, Terminated and Canceled answer 200 with the status; still running answers 202. */
async function waitAndRespond(
  req: HostRequest,
  ctx: ManagementContext,
  id: string,
  timeoutMs: number,
): Promise<HostResponse> {
  let s: OrchestrationStatus;
  try {
    s = await ctx.ops.waitForCompletion(id, timeoutMs);
  } catch {
    return checkStatus(req, ctx, id);
  }
  if (s.runtimeStatus === 'Completed') return json(200, s.output);
  return statusResponse(req, s, false);
}
