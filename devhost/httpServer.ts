// The dev host's HTTP front: httpTrigger functions under /<routePrefix>/ and the Durable management
// webhooks on the public port (bound to 127.0.0.1), plus the Durable client's local RPC listener on a
// second loopback port (as the extension's LocalHttpListener). Function keys: when an API key is
// configured, non-anonymous functions and the webhooks require it (x-functions-key or ?code=).
// The RPC listener answers only under a random path token that the durable client binding carries
// in its rpcBaseUrl: another local user cannot list or terminate instances through it.
// Request bodies stop being read at FUNCTIONS_REQUEST_BODY_SIZE_LIMIT (the host's app setting,
// default 100 MB as on Azure): 413 at once, nothing buffered beyond the limit.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { errorMessage } from './devHostError';
import { webhookPath } from './durableClientBinding';
import type { FunctionInvoker } from './functionInvoker';
import { errorResponse, json, type HostRequest, type HostResponse } from './httpTypes';
import type { Registration } from './loadApp';
import type { Logger } from './logger';
import { handleManagement, type ManagementContext } from './managementApi';
import type { OutputBindings } from './outputBindings';
import { compareRoutes, compileRoute, type CompiledRoute } from './routeTemplate';

export interface HttpHostOptions {
  host: string;
  port: number;
  routePrefix: string;
  apiKey: string | undefined;
  registrations: Map<string, Registration>;
  invoker: FunctionInvoker;
  outputs: OutputBindings;
  management: Omit<ManagementContext, 'origin' | 'webhookPath'>;
  logger: Logger;
  /** FUNCTIONS_REQUEST_BODY_SIZE_LIMIT (default 100 MB, the Functions host's). */
  maxBodyBytes?: number;
}

/** The Functions host's default request body limit (FUNCTIONS_REQUEST_BODY_SIZE_LIMIT). */
export const DEFAULT_MAX_BODY_BYTES = 100 * 1024 * 1024;

interface HttpRoute {
  reg: Registration;
  route: CompiledRoute;
  methods: Set<string>;
  authLevel: string;
}

interface RpcHttpResponse {
  statusCode?: string | number;
  headers?: Record<string, string>;
  cookies?: RpcCookie[];
  body?: { bytes?: Uint8Array; string?: string } | null;
}

interface RpcCookie {
  name: string;
  value: string;
  domain?: { value: string };
  path?: { value: string };
  expires?: { value: { seconds: number } };
  secure?: { value: boolean };
  httpOnly?: { value: boolean };
  sameSite?: string;
  maxAge?: { value: number };
}

export class HttpHost {
  private readonly routes: HttpRoute[];
  private server: http.Server | undefined;
  private rpc: http.Server | undefined;
  private port = 0;
  private rpcPort = 0;
  private readonly rpcToken = randomBytes(16).toString('hex');

  constructor(private readonly o: HttpHostOptions) {
    this.routes = [...o.registrations.values()]
      .filter((r) => r.kind === 'http')
      .map((reg) => {
        const t = reg.trigger;
        const methods = Array.isArray(t.methods) ? (t.methods as string[]) : ['GET', 'POST'];
        return {
          reg,
          route: compileRoute(typeof t.route === 'string' && t.route ? t.route : reg.name),
          methods: new Set(methods.map((x) => x.toUpperCase())),
          authLevel: String(t.authLevel ?? 'anonymous').toLowerCase(),
        };
      })
      .sort((a, b) => compareRoutes(a.route, b.route));
  }

  get url(): string {
    return `http://${this.o.host}:${this.port}`;
  }

  get rpcBaseUrl(): string {
    return `http://127.0.0.1:${this.rpcPort}/${this.rpcToken}/durabletask/`;
  }

  get boundPort(): number {
    return this.port;
  }

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => void this.serve(req, res, 'public'));
    this.rpc = http.createServer((req, res) => void this.serve(req, res, 'rpc'));
    this.port = await listen(this.server, this.o.port, this.o.host);
    this.rpcPort = await listen(this.rpc, 0, '127.0.0.1');
  }

  async stop(): Promise<void> {
    await Promise.all([close(this.server), close(this.rpc)]);
  }

  private async serve(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    side: 'public' | 'rpc',
  ): Promise<void> {
    let response: HostResponse;
    const started = performance.now();
    const limit = this.o.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    try {
      const body = await readBody(req, limit);
      if (body === undefined) {
        response = errorResponse(
          413,
          'PAYLOAD_TOO_LARGE',
          `The request body exceeds the host's limit of ${limit} bytes (FUNCTIONS_REQUEST_BODY_SIZE_LIMIT)`,
        );
        // The rest of the body is not read: answer, then close the connection.
        res.setHeader('connection', 'close');
        res.once('finish', () => req.destroy());
      } else {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers)) {
          if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
        }
        const hostHeader = headers.host ?? `${this.o.host}:${side === 'rpc' ? this.rpcPort : this.port}`;
        const request: HostRequest = {
          method: (req.method ?? 'GET').toUpperCase(),
          url: new URL(req.url ?? '/', `http://${hostHeader}`),
          headers,
          body,
        };
        response = side === 'rpc' ? await this.serveRpc(request) : await this.servePublic(request);
      }
    } catch (err) {
      this.o.logger.error(`HTTP ${req.method} ${req.url} failed in the dev host: ${errorMessage(err)}`, {
        err,
      });
      response = errorResponse(500, 'INTERNAL', 'Internal error in the dev host (see its log)');
    }
    this.o.logger.debug(`${req.method} ${req.url} -> ${response.status}`, {
      ms: Math.round(performance.now() - started),
    });
    if (res.headersSent) return;
    res.writeHead(response.status, response.headers ?? {});
    res.end(response.body ?? '');
  }

  private async serveRpc(req: HostRequest): Promise<HostResponse> {
    const prefix = `/${this.rpcToken}/durabletask/`;
    if (!req.url.pathname.startsWith(prefix)) return errorResponse(404, 'NOT_FOUND', 'No such route');
    return handleManagement(req, req.url.pathname.slice(prefix.length), {
      ...this.o.management,
      webhookPath,
      origin: () => this.url,
    });
  }

  private async servePublic(req: HostRequest): Promise<HostResponse> {
    const path = req.url.pathname;
    if (path === webhookPath || path.startsWith(`${webhookPath}/`)) {
      if (!this.authorized(req)) return unauthorized();
      return handleManagement(req, path.slice(webhookPath.length + 1), {
        ...this.o.management,
        webhookPath,
        origin: (r) => r.url.origin,
      });
    }
    if (path === '/admin/host/status' && req.method === 'GET') {
      return json(200, { state: 'Running', version: 'devhost', functions: [...this.o.registrations.keys()] });
    }
    const prefix = this.o.routePrefix ? `/${this.o.routePrefix}` : '';
    if (prefix && path !== prefix && !path.toLowerCase().startsWith(`${prefix.toLowerCase()}/`)) {
      return errorResponse(404, 'NOT_FOUND', `No function matches ${req.method} ${path}`);
    }
    return this.invokeHttpFunction(req, path.slice(prefix.length));
  }

  private authorized(req: HostRequest): boolean {
    const key = this.o.apiKey;
    if (!key) return true;
    return req.headers['x-functions-key'] === key || req.url.searchParams.get('code') === key;
  }

  private async invokeHttpFunction(req: HostRequest, path: string): Promise<HostResponse> {
    // The key is checked before the method: a caller without it learns nothing about the routes.
    let matched: HttpRoute | undefined;
    for (const r of this.routes) {
      const params = r.route.match(path);
      if (!params) continue;
      matched ??= r;
      if (!r.methods.has(req.method)) continue;
      if (r.authLevel !== 'anonymous' && !this.authorized(req)) return unauthorized();
      return this.invoke(r, req, params);
    }
    if (matched) {
      if (matched.authLevel !== 'anonymous' && !this.authorized(req)) return unauthorized();
      return errorResponse(405, 'METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${req.url.pathname}`);
    }
    return errorResponse(404, 'NOT_FOUND', `No function matches ${req.method} ${req.url.pathname}`);
  }

  private async invoke(
    r: HttpRoute,
    req: HostRequest,
    params: Record<string, string>,
  ): Promise<HostResponse> {
    const query: Record<string, string> = {};
    for (const [k, v] of req.url.searchParams) query[k] = v;
    const httpData = {
      method: req.method,
      url: req.url.href,
      headers: req.headers,
      query,
      params,
      ...(req.body.length ? { body: { bytes: req.body } } : {}),
    };
    let extra;
    try {
      extra = this.o.outputs.extraInputs(r.reg);
    } catch (err) {
      this.o.logger.warn(errorMessage(err), { function: r.reg.name });
      return { status: 500 };
    }
    const res = await this.o.invoker.invoke(r.reg.name, [
      { name: r.reg.triggerBinding, data: { http: httpData } },
      ...extra,
    ]);
    if (!res.ok) {
      this.o.logger.warn(`Function '${r.reg.name}' failed: ${res.error.message}`);
      this.o.logger.debug(res.error.stack ?? '', { function: r.reg.name });
      return { status: 500 };
    }
    try {
      await this.o.outputs.write(r.reg, res.response);
    } catch (err) {
      this.o.logger.warn(`Function '${r.reg.name}' output bindings failed: ${errorMessage(err)}`);
      return { status: 500 };
    }
    const out = (res.response.returnValue as { http?: RpcHttpResponse } | null | undefined)?.http;
    if (!out) return { status: 204 };
    const headers: Record<string, string | string[]> = { ...(out.headers ?? {}) };
    const cookies = (out.cookies ?? []).map(formatCookie);
    if (cookies.length) headers['set-cookie'] = cookies;
    const body = out.body?.bytes ? Buffer.from(out.body.bytes) : (out.body?.string ?? '');
    return { status: Number(out.statusCode ?? 200), headers, body };
  }
}

function unauthorized(): HostResponse {
  return errorResponse(
    401,
    'UNAUTHORIZED',
    'A function key is required: send it as x-functions-key or ?code=',
  );
}

function formatCookie(c: RpcCookie): string {
  let s = `${c.name}=${c.value}`;
  if (c.domain?.value) s += `; Domain=${c.domain.value}`;
  if (c.path?.value) s += `; Path=${c.path.value}`;
  if (c.expires?.value) s += `; Expires=${new Date(c.expires.value.seconds * 1000).toUTCString()}`;
  if (c.maxAge?.value !== undefined) s += `; Max-Age=${c.maxAge.value}`;
  if (c.secure?.value) s += '; Secure';
  if (c.httpOnly?.value) s += '; HttpOnly';
  if (c.sameSite === 'lax') s += '; SameSite=Lax';
  else if (c.sameSite === 'strict') s += '; SameSite=Strict';
  else if (c.sameSite === 'explicitNone') s += '; SameSite=None';
  return s;
}

/** The body, or undefined as soon as it is known to exceed the limit (reading stops there). */
function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.pause();
    return Promise.resolve(undefined);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size <= limit) {
        chunks.push(c);
        return;
      }
      req.off('data', onData);
      req.pause();
      chunks.length = 0;
      resolve(undefined);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function listen(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function close(server: http.Server | undefined): Promise<void> {
  if (!server || !server.listening) return Promise.resolve();
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
