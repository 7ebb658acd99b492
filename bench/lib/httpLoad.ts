// An HTTP load generator in a worker thread: the clients of a benchmark do not share the event loop
// of the dev host they measure (in production they are other machines).
import { Worker } from 'node:worker_threads';

export interface HttpLoadResult {
  /** Per request, in completion order. */
  latenciesMs: number[];
  wallMs: number;
  /** Requests whose status was not the expected one (first few). */
  failures: string[];
}

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  const { url, n, clients, body, status } = workerData;
  const latenciesMs = [];
  const failures = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: clients }, async () => {
    while (next < n) {
      const i = next++;
      const s = performance.now();
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' },
                                     body: body.replaceAll('{i}', String(i)) });
      const text = await res.text();
      latenciesMs.push(performance.now() - s);
      if (res.status !== status && failures.length < 5) failures.push(res.status + ' ' + text.slice(0, 300));
    }
  }));
  parentPort.postMessage({ latenciesMs, wallMs: performance.now() - t0, failures });
})();
`;

/**
 * POSTs `n` requests to `url` from `clients` concurrent clients; `body` is the JSON text of each
 * request with every "{i}" replaced by the request's number.
 */
export function runHttpLoad(o: {
  url: string;
  n: number;
  clients: number;
  body: string;
  status: number;
}): Promise<HttpLoadResult> {
  return new Promise((resolve, reject) => {
    const w = new Worker(WORKER, { eval: true, workerData: o });
    w.once('message', (m: HttpLoadResult) => {
      void w.terminate();
      resolve(m);
    });
    w.once('error', reject);
  });
}
