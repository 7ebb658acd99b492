// The README's Core Tools path up to `func start` (which needs Core Tools), as a user runs it: child
// processes of bin/dagmaster.js in a fresh directory holding only local.settings.example.json —
// `dagmaster settings` writes local.settings.json for a running Azurite and Postgres, `dagmaster db
// migrate` deploys the schema from it (as the deployment does), and `dagmaster worker` runs the container
// worker alone against the same settings, connected as the app role's login.
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkSchemaReadiness } from '../../db';
import { launchAzurite, type AzuriteInstance } from '../../devhost';
import { createTestSchema, dropTestSchema, TEST_DATABASE_URL, type TestSchema } from '../support/pg';
import { ROOT } from './stack';

let azurite: AzuriteInstance;
let schema: TestSchema;
const dir = mkdtempSync(path.join(os.tmpdir(), 'coretools-'));

/** The environment of a user's shell: no DATABASE_URL or storage settings (they come from the file). */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!/^(DATABASE_URL|DAG_|AzureWebJobsStorage|TEST_)/.test(k)) env[k] = v;
  // Only the names of this test's schema (the user's would be the defaults, dagapp and stac).
  return {
    ...env,
    DAG_DB_SCHEMA: schema.schema,
    DAG_STAC_SCHEMA: schema.stacSchema,
    DAG_DB_APP_ROLE: schema.appRole,
    LOG_LEVEL: 'error',
    ...extra,
  };
}

function dagmaster(args: string[], env = userEnv()): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(ROOT, 'bin', 'dagmaster.js'), ...args],
      { cwd: dir, env, encoding: 'utf8', timeout: 120_000 },
      (error, stdout, stderr) => {
        const code = error ? (error as { code?: number }).code : 0;
        resolve({ code: typeof code === 'number' ? code : 1, out: stdout, err: stderr });
      },
    );
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

const portOf = (endpoint: string) => Number(new URL(endpoint).port);

beforeAll(async () => {
  schema = await createTestSchema('ct');
  azurite = await launchAzurite({ inMemory: true });
  copyFileSync(path.join(ROOT, 'local.settings.example.json'), path.join(dir, 'local.settings.example.json'));
}, 60_000);

afterAll(async () => {
  await azurite?.stop();
  if (schema) await dropTestSchema(schema);
  rmSync(dir, { recursive: true, force: true });
});

describe('the Core Tools path of the README, up to func start', () => {
  it('settings refuses when Azurite does not answer, and writes nothing', async () => {
    const closed = await freePort();
    const r = await dagmaster([
      'settings',
      '--database-url',
      TEST_DATABASE_URL,
      '--blob-port',
      String(closed),
      '--queue-port',
      String(portOf(azurite.queueEndpoint)),
      '--table-port',
      String(portOf(azurite.tableEndpoint)),
    ]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(new RegExp(`Azurite's blob service does not answer on 127\\.0\\.0\\.1:${closed}`));
    expect(existsSync(path.join(dir, 'local.settings.json'))).toBe(false);
  });

  it('settings → db migrate → worker: the schema is migrated and the worker runs against Azurite', async () => {
    // 1. local.settings.json for the running Azurite and Postgres.
    const s = await dagmaster([
      'settings',
      '--database-url',
      TEST_DATABASE_URL,
      '--blob-port',
      String(portOf(azurite.blobEndpoint)),
      '--queue-port',
      String(portOf(azurite.queueEndpoint)),
      '--table-port',
      String(portOf(azurite.tableEndpoint)),
    ]);
    expect(s.err).toBe('');
    expect(s.code).toBe(0);
    expect(s.out).toMatch(/wrote local\.settings\.json .* Next: `npx dagmaster db migrate`/);
    const settings = JSON.parse(readFileSync(path.join(dir, 'local.settings.json'), 'utf8')) as {
      IsEncrypted: boolean;
      Values: Record<string, string>;
    };
    const example = JSON.parse(readFileSync(path.join(ROOT, 'local.settings.example.json'), 'utf8')) as {
      Values: Record<string, string>;
    };
    expect(Object.keys(settings.Values).sort()).toEqual(Object.keys(example.Values).sort());
    expect(settings.Values).toMatchObject({
      FUNCTIONS_WORKER_RUNTIME: 'node',
      DATABASE_URL: TEST_DATABASE_URL,
      DAG_TASK_HUB: example.Values.DAG_TASK_HUB,
    });
    expect(settings.Values.AzureWebJobsStorage).toContain(`QueueEndpoint=${azurite.queueEndpoint}`);
    expect(settings.Values.AzureWebJobsStorage).toContain(`BlobEndpoint=${azurite.blobEndpoint}`);
    expect(settings.Values.AzureWebJobsStorage).toContain(`TableEndpoint=${azurite.tableEndpoint}`);
    // A second run does not overwrite it.
    expect((await dagmaster(['settings', '--database-url', TEST_DATABASE_URL])).code).toBe(1);

    // 2. The schema, by the command the deployment runs (the admin URL comes from the file).
    expect((await dagmaster(['db', 'status'])).code).toBe(1);
    const m = await dagmaster(['db', 'migrate', '--grant', schema.login]);
    expect(m.code, m.err).toBe(0);
    expect(m.err).toMatch(/applied 0001_initial\.sql/); // progress on stderr
    const st = await dagmaster(['db', 'status']);
    expect(st.code).toBe(0);
    expect(st.out).toMatch(/up to date/);
    expect(await checkSchemaReadiness(schema.pool, schema.schema)).toMatchObject({ ok: true });

    // 3. The worker alone, on the same settings, connected as the app's login (as on Azure).
    const healthPort = await freePort();
    const worker = spawn(process.execPath, [path.join(ROOT, 'bin', 'dagmaster.js'), 'worker'], {
      cwd: dir,
      env: userEnv({ DATABASE_URL: schema.url, DAG_WORKER_HEALTH_PORT: String(healthPort) }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    worker.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    worker.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => worker.once('exit', (code) => resolve(code)));
    try {
      let health: { status?: string; ready?: boolean; queues?: Array<{ name: string; ok: boolean }> } = {};
      for (let i = 0; i < 120 && !health.ready; i++) {
        await new Promise((r) => setTimeout(r, 250));
        health = await fetch(`http://127.0.0.1:${healthPort}/health`)
          .then((r) => r.json() as Promise<typeof health>)
          .catch(() => ({}));
      }
      expect(health.ready, output).toBe(true);
      expect(health.queues!.map((q) => [q.name, q.ok])).toEqual([
        ['container-tasks', true],
        ['dag-worker-tasks', true],
      ]);
    } finally {
      worker.kill('SIGTERM');
    }
    expect(await exited, output).toBe(0);
  }, 180_000);
});
