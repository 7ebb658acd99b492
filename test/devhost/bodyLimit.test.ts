// Request bodies over the host's limit (FUNCTIONS_REQUEST_BODY_SIZE_LIMIT, as on Azure; 100 MB by
// default) are refused with 413 as soon as the limit is passed: the host stops reading, so three
// concurrent 60 MB uploads do not cost 180 MB of memory.
import http from 'node:http';
import { describe, expect, it } from 'vitest';
import { startDevHost } from '../../devhost';
import { sampleApp, useDevHost } from './helpers';

const LIMIT = 1024 * 1024;
const host = useDevHost({ env: { FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: String(LIMIT) } });

/** PUTs `total` bytes in 64 KiB chunks (chunked, or with content-length); resolves with the status and bytes written. */
function upload(total: number, declareLength: boolean): Promise<{ status: number; written: number }> {
  const url = new URL(`${host().url}/api/echo`);
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  return new Promise((resolve, reject) => {
    let written = 0;
    let status = 0;
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'PUT',
        headers: declareLength ? { 'content-length': String(total) } : {},
      },
      (res) => {
        status = res.statusCode!;
        res.resume();
        res.on('end', () => resolve({ status, written }));
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => {
      // The server closes the connection after its 413: the rest of the upload fails to send.
      if (status) resolve({ status, written });
      else if (err.code === 'EPIPE' || err.code === 'ECONNRESET')
        setTimeout(() => resolve({ status, written }), 50);
      else reject(err);
    });
    const pump = () => {
      while (written < total && status === 0) {
        written += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      if (written >= total) req.end();
    };
    pump();
  });
}

describe('dev host: request body limit', () => {
  it('answers 413 PAYLOAD_TOO_LARGE at the limit and stops reading; memory stays flat', async () => {
    const before = process.memoryUsage().rss;
    const results = await Promise.all([
      upload(60 * 1024 * 1024, false),
      upload(60 * 1024 * 1024, false),
      upload(60 * 1024 * 1024, true),
    ]);
    for (const r of results) {
      expect(r.status).toBe(413);
      // The server stopped long before the 60 MB were sent (socket buffers hold a few MB at most).
      expect(r.written).toBeLessThan(20 * 1024 * 1024);
    }
    expect(process.memoryUsage().rss - before).toBeLessThan(60 * 1024 * 1024);
    const small = await fetch(`${host().url}/api/echo`, { method: 'PUT', body: 'x'.repeat(1000) });
    expect(small.status).toBe(201);
    const atLimit = await fetch(`${host().url}/api/echo`, { method: 'PUT', body: 'x'.repeat(LIMIT) });
    expect(atLimit.status).toBe(201);
    const over = await fetch(`${host().url}/api/echo`, { method: 'PUT', body: 'x'.repeat(LIMIT + 1) });
    expect(over.status).toBe(413);
    expect(((await over.json()) as { error: { code: string } }).error.code).toBe('PAYLOAD_TOO_LARGE');
  }, 60_000);

  it('refuses a limit that is not a number of bytes', async () => {
    await expect(
      startDevHost({ appEntry: sampleApp, env: { FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: '1MB' } }),
    ).rejects.toThrow(/FUNCTIONS_REQUEST_BODY_SIZE_LIMIT must be a positive number of bytes, got "1MB"/);
  });
});
