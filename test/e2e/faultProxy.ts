// A loopback HTTP proxy in front of the dev host's Durable management listener: it forwards every
// request unchanged unless a fault rule answers for it (e.g. a 500 for one instance's status), so a
// test can make the real durable client see the errors Azure's extension can send.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type FaultRule = (req: { method: string; path: string }) => number | undefined;

export interface FaultProxy {
  /** The base URL to give the durable client (trailing slash, like rpcBaseUrl). */
  baseUrl: string;
  /** Where requests go (set once the dev host listens). */
  target: string | undefined;
  /** Answers a request with this status instead of forwarding it, when it returns one. */
  fault: FaultRule | undefined;
  /** Requests answered by a fault rule, as `<status> <method> <path>`. */
  faulted: string[];
  close(): Promise<void>;
}

export async function startFaultProxy(): Promise<FaultProxy> {
  const proxy: FaultProxy = {
    baseUrl: '',
    target: undefined,
    fault: undefined,
    faulted: [],
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const status = proxy.fault?.({ method: req.method ?? 'GET', path: url.pathname });
    if (status !== undefined) {
      proxy.faulted.push(`${status} ${req.method} ${url.pathname}`);
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ Message: `injected ${status}` }));
      return;
    }
    if (!proxy.target) {
      res.writeHead(503).end();
      return;
    }
    const target = new URL(proxy.target);
    const upstream = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        // The client calls <base>/instances/...; the listener serves the same path under its base.
        path: `${target.pathname.replace(/\/$/, '')}${url.pathname.replace(/^\/durabletask/, '')}${url.search}`,
        headers: { ...req.headers, host: target.host },
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/durabletask/`;
  return proxy;
}
