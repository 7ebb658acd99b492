// The launchers `dagmaster start/run` use: embedded Postgres (as root it runs as the OS user
// "postgres") and Azurite from npm. They must work here: with CI=true a failure is a failure.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { QueueServiceClient } from '@azure/storage-queue';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { launchAzurite, launchEmbeddedPostgres } from '../../devhost';

describe('launchers', () => {
  it('starts an embedded Postgres, restarts it on the same data, and stops it', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'devhost-pg-'));
    chmodSync(dir, 0o755);
    const dataDir = path.join(dir, 'data');
    try {
      let server = await launchEmbeddedPostgres({ dataDir, database: 'devhost_test' });
      try {
        const c = new pg.Client({ connectionString: server.url });
        await c.connect();
        await c.query('CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)');
        await c.end();
      } finally {
        await server.stop();
      }
      server = await launchEmbeddedPostgres({ dataDir, database: 'devhost_test' });
      try {
        expect(server.startedHere).toBe(true);
        const c = new pg.Client({ connectionString: server.url });
        await c.connect();
        expect((await c.query('SELECT v FROM kept')).rows).toEqual([{ v: 42 }]);
        await c.end();
      } finally {
        await server.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('starts Azurite on free ports and stops it', async () => {
    const azurite = await launchAzurite();
    try {
      expect(azurite.queueEndpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/devstoreaccount1$/);
      const q = QueueServiceClient.fromConnectionString(azurite.connectionString).getQueueClient(
        'launcher-test',
      );
      await q.createIfNotExists();
      await q.sendMessage('x');
      expect((await q.getProperties()).approximateMessagesCount).toBe(1);
    } finally {
      await azurite.stop();
    }
    expect(() => process.kill(azurite.pid, 0)).toThrow();
  });
});
