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
import type { InstanceFilter } from './store/instanceStore';

export interface ManagementContext {
  ops: DurableOperations;
  taskHub: string;
  connectionName: string;
  key: string | undefined;
  /** Origin for URLs in responses: the caller's Host for public routes. */
  origin(req: HostRequest): string;
  webhookPath: string;
}

const bool = z
  .enum(['true', 'false', 'True', 'False', 'TRUE', 'FALSE'])
  .transform((v) => v.toLowerCase() === 'true')
  .optional();
const date = z
  .string()
  .refine((v) => !Number.isNaN(Date.parse(v)), 'not a date')
  .transform((v) => new Date(v))
  .optional();
const statusQuery = z.looseObject({ showHistory: bool, showHistoryOutput: bool, showInput: bool });
const listQuery = z.looseObject({
  createdTimeFrom: date,
  createdTimeTo: date,
  runtimeStatus: z.string().optional(),
  instanceIdPrefix: z.string().optional(),
  showInput: bool,
  top: z.coerce.number().int().min(1).max(1000).optional(),
});
const startQuery = z.looseObject({
  version: z.string().optional(),
  timeout: z.coerce.number().min(0).optional(),
  pollingInterval: z.coerce.number().min(0).optional(),
});
function errorResponse(status: number, _code: string, message: string): HostResponse {
  return { status, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: message };
}

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

  if (head === 'orchestrators' && a && segs.length <= 3 && m === 'POST') {
    const sq = parse(startQuery, q, 'start orchestration');
    const id = await ctx.ops.startWithJson(a, bodyJson(req, 'start orchestration'), {
      instanceId: b,
      version: sq.version,
    });
    if (sq.timeout !== undefined) return waitAndRespond(req, ctx, id, sq.timeout * 1000);
    return checkStatus(req, ctx, id);
  }
  if (head === 'instances' && !a) {
    if (m === 'GET') return list(req, ctx);
    if (m === 'DELETE') {
      const lq = parse(listQuery, q, 'purge instances');
      const n = await ctx.ops.purgeBy(filterOf(lq));
      return n ? json(200, { instancesDeleted: n }) : errorResponse(404, 'not-found', 'No instances matched');
    }
  }
  if (head === 'instances' && a && !b) {
    if (m === 'GET') {
      const sq = parse(statusQuery, q, 'get status');
      const s = await ctx.ops.getStatus(a, sq);
      if (!s) return errorResponse(404, 'not-found', `No instance with ID '${a}'`);
      const running = !isTerminal(s.runtimeStatus);
      return json(running ? 202 : 200, s, running ? { location: req.url.href, 'retry-after': '5' } : {});
    }
    if (m === 'DELETE') {
      const n = await ctx.ops.purge(a);
      return n
        ? json(200, { instancesDeleted: n })
        : errorResponse(404, 'not-found', `No instance with ID '${a}'`);
    }
  }
  if (head === 'instances' && a && b === 'raiseEvent' && c && m === 'POST') {
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

function filterOf(lq: z.infer<typeof listQuery>): InstanceFilter {
  const statuses = lq.runtimeStatus
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const s of statuses ?? []) {
    if (!runtimeStatuses.includes(s)) {
      throw new DevHostError(
        'bad-request',
        `runtimeStatus '${s}' is not one of ${runtimeStatuses.join(', ')}`,
      );
    }
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
  const page = await ctx.ops.list(filterOf(lq), lq.top ?? 100, token || undefined, lq.showInput !== false);
  return json(200, page.items, page.continuation ? { 'x-ms-continuation-token': page.continuation } : {});
}

function payload(req: HostRequest, ctx: ManagementContext, id: string): Record<string, string> {
  const code = ctx.key ? `&code=${encodeURIComponent(ctx.key)}` : '';
  const q = `taskHub=${encodeURIComponent(ctx.taskHub)}&connection=${encodeURIComponent(ctx.connectionName)}${code}`;
  return managementUrls(`${ctx.origin(req)}${ctx.webhookPath}`, encodeURIComponent(id), q);
}

function checkStatus(req: HostRequest, ctx: ManagementContext, id: string): HostResponse {
  const p = payload(req, ctx, id);
  p.id = id;
  return json(202, p, { location: p.statusQueryGetUri!, 'retry-after': '10' });
}

/** createAndWaitOnNewInstancePostUri: wait, then answer like waitForCompletionOrCreateCheckStatusResponse. */
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
  return json(s.runtimeStatus === 'Failed' ? 500 : 200, s);
}
