// The worker's probes: GET /livez (the process answers), /readyz (receiving, stores reachable; 503
// otherwise), /health (Postgres, queues with their backlog and poison counts, counters, running
// tasks; 503 when a store is down). Container Apps probes /livez.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HealthReport } from './workerStats';

export interface HealthServerOptions {
  port: number;
  host: string;
  live: () => boolean;
  ready: () => Promise<{ ready: boolean; reasons: string[] }>;
  report: () => Promise<HealthReport>;
}

export interface HealthServer {
  url: string;
  close(): Promise<void>;
}

export async function startHealthServer(o: HealthServerOptions): Promise<HealthServer> {
  const send = (res: http.ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(text);
  };
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!.replace(/\/+$/, '') || '/';
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, { error: { code: 'METHOD_NOT_ALLOWED', message: 'Only GET is served here.' } });
      return;
    }
    const route = path.replace(/^\/api/, '');
    (async () => {
      switch (route) {
        case '/livez': {
          const alive = o.live();
          send(res, alive ? 200 : 503, { alive });
          return;
        }
        case '/readyz': {
          const r = await o.ready();
          send(res, r.ready ? 200 : 503, {
            ready: r.ready,
            ...(r.reasons.length ? { reasons: r.reasons } : {}),
          });
          return;
        }
        case '/':
        case '/health': {
          const r = await o.report();
          send(res, r.status === 'unhealthy' ? 503 : 200, r);
          return;
        }
        default:
          send(res, 404, {
            error: { code: 'NOT_FOUND', message: `No route ${path}: try /livez, /readyz or /health.` },
          });
      }
    })().catch((err: unknown) => {
      send(res, 500, {
        error: { code: 'INTERNAL', message: (err as Error)?.message ?? 'health check failed' },
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = o.host === '0.0.0.0' || o.host === '::' ? '127.0.0.1' : o.host;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${addr.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      }),
  };
}
