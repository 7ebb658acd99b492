// A local Application Insights ingestion endpoint for tests: the connection string's IngestionEndpoint
// points here, and every envelope the SDK sends (POST /v2.1/track, /v2/track; gzip or plain JSON, an
// array or newline-delimited) is decoded and kept, with the raw decoded text for secret searches.
// The exporter only speaks HTTPS (it rewrites http:// endpoints), so the server has a self-signed
// certificate made with the openssl CLI; processes that send here get NODE_EXTRA_CA_CERTS=caFile.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';

export interface Envelope {
  name: string;
  time: string;
  iKey?: string;
  tags?: Record<string, string>;
  data?: {
    baseType: string;
    baseData: {
      name?: string;
      id?: string;
      message?: string;
      type?: string;
      data?: string;
      success?: boolean;
      responseCode?: string;
      resultCode?: string;
      duration?: string;
      properties?: Record<string, string>;
      metrics?: Array<{ name: string; value: number; count?: number }>;
      exceptions?: Array<{ typeName: string; message: string; stack?: string }>;
      severityLevel?: string;
    };
  };
}

export interface IngestionServer {
  url: string;
  /** The server's certificate: NODE_EXTRA_CA_CERTS of the processes that send here. */
  caFile: string;
  connectionString: string;
  envelopes: Envelope[];
  /** Every decoded body received, for "does this string appear anywhere" checks. */
  rawText(): string;
  requests: number;
  stop(): Promise<void>;
}

export async function startIngestionServer(): Promise<IngestionServer> {
  const envelopes: Envelope[] = [];
  const raw: string[] = [];
  const state = { requests: 0 };
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ingest-'));
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1'].concat([
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ]),
    { stdio: 'ignore' },
  );
  const server = https.createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      state.requests++;
      let body = Buffer.concat(chunks);
      if (
        /gzip/i.test(String(req.headers['content-encoding'] ?? '')) ||
        (body[0] === 0x1f && body[1] === 0x8b)
      )
        body = gunzipSync(body);
      const text = body.toString('utf8');
      raw.push(text);
      let items: Envelope[] = [];
      try {
        const parsed = JSON.parse(text) as Envelope | Envelope[];
        items = Array.isArray(parsed) ? parsed : [parsed];
      } catch {
        items = text
          .split('\n')
          .filter((l) => l.trim())
          .map((l) => JSON.parse(l) as Envelope);
      }
      envelopes.push(...items);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ itemsReceived: items.length, itemsAccepted: items.length, errors: [] }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    caFile: cert,
    connectionString: `InstrumentationKey=00000000-0000-4000-8000-000000000001;IngestionEndpoint=${url}/;LiveEndpoint=${url}/`,
    envelopes,
    rawText: () => raw.join('\n'),
    get requests() {
      return state.requests;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          rmSync(dir, { recursive: true, force: true });
          resolve();
        });
      }),
  };
}
