// Job messages wait in DAG_JOB_QUEUE while the Function App is down (issue 16): messages sent before
// the app starts, and while it is killed (SIGKILL), become jobs once it runs. The app runs in a dev
// host process on Azurite and Postgres; the client uses the original API only.
import { randomUUID } from 'node:crypto';
import { QueueClient } from '@azure/storage-queue';
import { afterAll, beforeAll, expect, it, onTestFailed } from 'vitest';
import { launchAzurite, type AzuriteInstance } from '../../devhost';
import type { HostProcess } from '../devhost/devHostProcess';
import { api, dropSchemas, killHard, removeDir, startAppProcess, workflowsDirWith } from '../e2e/appProcess';
import { createTestSchema, type TestSchema } from '../support/pg';

let schema: TestSchema;
let azurite: AzuriteInstance;
let workflowsDir: string;
let failed = false;
const hosts: HostProcess[] = [];
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

beforeAll(async () => {
  schema = await createTestSchema('qdown');
  await schema.migrate();
  azurite = await launchAzurite();
  workflowsDir = workflowsDirWith([]);
}, 120_000);

afterAll(async () => {
  for (const h of hosts) h.child.kill('SIGKILL');
  await azurite?.stop().catch(() => undefined);
  removeDir(workflowsDir);
  await dropSchemas(schema, failed);
});

async function startHost(): Promise<HostProcess> {
  const h = await startAppProcess({
    schema,
    storage: azurite.connectionString,
    workflowsDir,
    taskHub: 'qdownhub',
    resultQueue: 'results-qdown',
    env: { DAG_JOB_QUEUE: 'dag-jobs' },
  });
  hosts.push(h);
  return h;
}

async function send(correlationId: string) {
  const q = new QueueClient(azurite.connectionString, 'dag-jobs');
  await q.createIfNotExists();
  const m = {
    workflow_id: 'hello_world',
    input_params: {},
    correlation_id: correlationId,
    message_id: randomUUID(),
  };
  await q.sendMessage(Buffer.from(JSON.stringify(m)).toString('base64'));
}

async function completed(url: string, correlationId: string): Promise<Json> {
  for (;;) {
    const r = await api<Json>(url, 'GET', `/api/status/lookup?correlation_id=${correlationId}`);
    if (r.status === 200 && r.body.status === 'completed') return r.body;
    await new Promise((res) => setTimeout(res, 200));
  }
}

it('messages sent while the app is down become jobs when it runs again', async () => {
  onTestFailed(() => void (failed = true));
  await send('down-1');
  await send('down-2');
  const first = await startHost();
  expect((await completed(first.url, 'down-1')).workflow_id).toBe('hello_world');
  await completed(first.url, 'down-2');
  await killHard(first);
  await send('down-3');
  const second = await startHost();
  await completed(second.url, 'down-3');
  const all = await api<Json>(second.url, 'GET', '/api/status/stats');
  expect(all.body.job_counts_by_status.completed).toBe(3);
}, 180_000);
