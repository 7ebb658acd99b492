// Application Insights end to end (issue 14, docs/monitoring.md): the Function App (the dev host as a
// process) and the container worker (its process entry, container-worker/main.ts) send to a local
// ingestion endpoint set as the connection string's IngestionEndpoint. One job's telemetry — the
// submit request, the activities, the enqueue, the worker's receive and handler spans, the result
// trigger — shares one operation id across both cloud roles; the ids are custom dimensions of spans,
// logs and metrics; the product's metrics arrive; a failed node is an exception; secrets planted in
// the configuration and in a failing node's error never appear in what was sent.
import { BlobServiceClient } from '@azure/storage-blob';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { launchAzurite, type AzuriteInstance } from '../../devhost';
import { waitForExit, type HostProcess } from '../devhost/devHostProcess';
import { startIngestionServer, type Envelope, type IngestionServer } from '../support/ingestion';
import { createTestSchema, type TestSchema } from '../support/pg';
import { gdalReady, makeRaster, SPECS, tempDir } from '../raster/support';
import { api, dropSchemas, removeDir, startAppProcess, waitForJobEnd, workflowsDirWith } from './appProcess';
import { ROOT } from './stack';
import { jsonToBase64 } from '../../lib/base64';
import { signResult } from '../../lib/io/resultSignature';
import { approximateCount, queueClient, waitFor } from '../worker/support';

const PG_SECRET = 'PlantedPgPassw0rd77';
const SAS_SECRET = 'PlantedSasSignature99';
const ERROR_SECRET = 'PlantedErrPassw0rd55';
const RESULTS = 'results-telemetry';

const OK_WF = {
  workflow_id: 'telem_ok',
  name: 'telemetry: activity then container',
  nodes: {
    start: { type: 'start', next: 'prepare' },
    prepare: { type: 'task', handler: 'echo', params: { step: 'prepare' }, next: 'work' },
    work: {
      type: 'task',
      handler: 'echo',
      queue: 'container-tasks',
      params: { source: 'https://acct.blob.core.windows.net/in/a.tif?sv=2024-01-01&sig=' + SAS_SECRET },
      next: 'end',
    },
    end: { type: 'end' },
  },
};
const FAN_WF = {
  workflow_id: 'telem_fan',
  name: 'telemetry: a fan-out of activity children',
  nodes: {
    start: { type: 'start', next: 'split' },
    split: {
      type: 'fan_out',
      source: '{{ range(0, 30) }}',
      task: { handler: 'echo', params: { i: '{{ index }}' } },
      next: 'join',
    },
    join: { type: 'fan_in', aggregation: 'collect', next: 'end' },
    end: { type: 'end' },
  },
};
const FAIL_WF = {
  workflow_id: 'telem_fail',
  name: 'telemetry: a container node that fails',
  nodes: {
    start: { type: 'start', next: 'boom' },
    boom: {
      type: 'task',
      handler: 'fail',
      queue: 'container-tasks',
      params: {
        error_message: `cannot open postgres://etl:${ERROR_SECRET}@db.example/x (password=${ERROR_SECRET})`,
      },
      retry: { max_attempts: 0 },
      next: 'end',
    },
    end: { type: 'end' },
  },
};

let ingest: IngestionServer;
let schema: TestSchema;
let azurite: AzuriteInstance;
let workflowsDir: string;
let app: HostProcess | undefined;
let worker: { child: ChildProcess; output: () => string } | undefined;
let failed = false;
let okJob: string;
let failJob: string;
let fanJob: string;
let rasterJob: string;
const dir = tempDir('telemetry-');
const mount = path.join(dir, 'etl');

/** The app's login URL with a password planted (the test database trusts local logins: any password works). */
const withPassword = (url: string) =>
  url.replace(/^postgres(ql)?:\/\/([^:@/]+)(:[^@]*)?@/, `postgres://$2:${PG_SECRET}@`);

function telemetryEnv(): Record<string, string> {
  return {
    APPLICATIONINSIGHTS_CONNECTION_STRING: ingest.connectionString,
    NODE_EXTRA_CA_CERTS: ingest.caFile,
    DAG_TELEMETRY_METRIC_INTERVAL_MS: '1000',
    LOG_LEVEL: 'info',
  };
}

function startWorker(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'container-worker/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  return new Promise<{ child: ChildProcess; output: () => string }>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`worker did not start:\n${out}`)), 60_000);
    child.stdout!.on('data', () => {
      if (out.includes('container worker ready')) {
        clearTimeout(t);
        resolve({ child, output: () => out });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`worker exited (${code}) before it was ready:\n${out}`));
    });
  });
}

beforeAll(async () => {
  // The raster job needs GDAL (CI=true: its absence fails the test).
  if (!gdalReady) throw new Error('GDAL (gdalinfo) is not installed: the raster job cannot run');
  mkdirSync(mount, { recursive: true });
  ingest = await startIngestionServer();
  schema = await createTestSchema('telem');
  await schema.migrate();
  azurite = await launchAzurite();
  workflowsDir = workflowsDirWith([OK_WF, FAIL_WF, FAN_WF]);
  app = await startAppProcess({
    schema: { ...schema, url: withPassword(schema.url) },
    storage: azurite.connectionString,
    workflowsDir,
    taskHub: 'telemhub',
    resultQueue: RESULTS,
    env: { ...telemetryEnv(), DAG_CONTAINER_QUEUE: 'container-tasks' },
  });
  // A GeoTIFF made here with GDAL, uploaded to the bronze container for raster_ingest.
  const tif = makeRaster(path.join(dir, 'scene.tif'), SPECS.rgb);
  const bronze = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(
    'bronze',
  );
  await bronze.createIfNotExists();
  await bronze.getBlockBlobClient('uploads/scene.tif').uploadFile(tif);
  worker = await startWorker({
    ...telemetryEnv(),
    DAG_WORKER_ETL_MOUNT_PATH: mount,
    DAG_STORAGE_CONNECTION: azurite.connectionString,
    DAG_STAC_SCHEMA: schema.stacSchema,
    DATABASE_URL: withPassword(schema.url),
    DAG_DB_SCHEMA: schema.schema,
    AzureWebJobsStorage: azurite.connectionString,
    DAG_WORKER_QUEUES: 'container-tasks',
    DAG_WORKER_HEALTH_PORT: 'off',
    DAG_WORKER_POLL_INTERVAL_MS: '100',
    DAG_WORKER_ID: 'telemetry-worker',
  });

  const submit = async (workflowId: string, inputs: Record<string, unknown> = {}) => {
    const r = await api<{ job_id: string }>(app!.url, 'POST', '/api/jobs', {
      workflow_id: workflowId,
      inputs,
    });
    expect(r.status).toBe(202);
    return r.body.job_id;
  };
  okJob = await submit('telem_ok');
  failJob = await submit('telem_fail');
  fanJob = await submit('telem_fan');
  rasterJob = await submit('raster_ingest', {
    blob_name: 'uploads/scene.tif',
    container_name: 'bronze',
    collection_id: 'telemetry',
  });
  const ok = await waitForJobEnd(app.url, okJob, 60_000).catch((err: unknown) => {
    console.error(`app:\n${app!.output().slice(-5000)}\nworker:\n${worker!.output().slice(-5000)}`);
    throw err;
  });
  expect(ok.job.status).toBe('completed');
  const bad = await waitForJobEnd(app.url, failJob, 60_000);
  expect(bad.job.status).toBe('failed');
  const fan = await waitForJobEnd(app.url, fanJob, 60_000);
  expect(fan.job.status).toBe('completed');
  const raster = await waitForJobEnd(app.url, rasterJob, 150_000);
  expect(raster.job.status, JSON.stringify(raster.job.error_message)).toBe('completed');
  // A result signed with a key nobody holds (a forgery, or keys rebuilt under a worker): read from
  // Postgres, and counted.
  const results = queueClient(azurite.connectionString, RESULTS);
  const unverified = {
    v: 1 as const,
    // Of no job (the jobs above keep one operation id each): read, found unrecorded, dropped.
    task_id: 'forged-job_work_0',
    job_id: 'forged-job',
    node_id: 'work',
    attempt: 0,
    status: 'completed' as const,
    reported_at: new Date().toISOString(),
    reply_to: 'forged-job',
    outcome: { ok: true as const },
  };
  await results.sendMessage(
    jsonToBase64({
      ...unverified,
      signature: signResult({ keyId: 999, secret: randomBytes(32) }, unverified),
    }),
  );
  await waitFor('the unverified result consumed', async () => (await approximateCount(results)) === 0);
  // Metrics are exported every second; spans and logs in batches: let one more round go out, then
  // stop both processes gracefully (each flushes what it holds).
  await new Promise((r) => setTimeout(r, 2500));
  worker.child.kill('SIGTERM');
  app.child.kill('SIGTERM');
  await waitForExit(worker.child, 20_000);
  await waitForExit(app.child, 20_000);
}, 240_000);

afterAll(async () => {
  if (process.env.DUMP_TELEMETRY)
    (await import('node:fs')).writeFileSync(
      process.env.DUMP_TELEMETRY,
      JSON.stringify(ingest.envelopes, null, 1),
    );
  if (worker && worker.child.exitCode === null) worker.child.kill('SIGKILL');
  if (app && app.child.exitCode === null) app.child.kill('SIGKILL');
  await azurite?.stop().catch(() => undefined);
  removeDir(workflowsDir);
  if (!failed) rmSync(dir, { recursive: true, force: true });
  if (schema) await dropSchemas(schema, failed);
  await ingest?.stop();
});

const kind = (e: Envelope) => e.name.replace('Microsoft.ApplicationInsights.', '');
const role = (e: Envelope) => e.tags?.['ai.cloud.role'];
const op = (e: Envelope) => e.tags?.['ai.operation.id'];
const props = (e: Envelope) => e.data?.baseData.properties ?? {};
/** A span's name (a request's is its operation name). */
const spanName = (e: Envelope) => e.data?.baseData.name ?? e.tags?.['ai.operation.name'] ?? kind(e);
const of = (jobId: string) => ingest.envelopes.filter((e) => props(e).job_id === jobId);

describe('Application Insights telemetry of a job', () => {
  it('both cloud roles report, with distinct role names', () => {
    onTestFailed(() => {
      failed = true;
    });
    const roles = new Set(ingest.envelopes.map(role));
    expect(roles).toContain('rmhdagmaster-functionapp');
    expect(roles).toContain('rmhdagmaster-worker');
  });

  it('one operation id from the submit request through the activities and the worker back to the result trigger', () => {
    onTestFailed(() => {
      failed = true;
    });
    const items = of(okJob);
    const request = ingest.envelopes.find(
      (e) => kind(e) === 'Request' && role(e) === 'rmhdagmaster-functionapp' && props(e).job_id === okJob,
    );
    expect(request, 'the submit request').toBeDefined();
    const opId = op(request!)!;
    expect(opId).toMatch(/^[0-9a-f]{32}$/);
    const names = (r: string) => items.filter((e) => role(e) === r && op(e) === opId).map(spanName);
    const fa = names('rmhdagmaster-functionapp');
    const wk = names('rmhdagmaster-worker');
    // Function App: activities, the producer span of the enqueue, the result queue's consumer span.
    expect(fa).toEqual(
      expect.arrayContaining(['activity dagLoadJob', 'activity dagRunTasks', 'handler echo']),
    );
    expect(fa.some((n) => n.startsWith('enqueue container-tasks'))).toBe(true);
    expect(fa).toContain(`process ${RESULTS}`);
    // Worker: the receive (consumer → a request) and the handler span inside it.
    expect(wk).toEqual(expect.arrayContaining(['process container-tasks', 'handler echo']));
    const consumer = items.find(
      (e) => role(e) === 'rmhdagmaster-worker' && spanName(e) === 'process container-tasks',
    )!;
    expect(kind(consumer)).toBe('Request');
    // Every span of the job's work (both roles) is in that one operation; the status reads the test
    // made (GET /api/jobs/{id}) are requests of their own.
    const spans = items.filter(
      (e) => ['Request', 'RemoteDependency'].includes(kind(e)) && spanName(e) !== 'function jobsGet',
    );
    expect(spans.length).toBeGreaterThan(8);
    expect(new Set(spans.map(op))).toEqual(new Set([opId]));
    // The orchestration was replayed at every step (each activity result, the container event), yet
    // each unit of work was reported once: orchestrations emit nothing, activities run once per call.
    const count = (n: string) => spans.filter((e) => spanName(e) === n).length;
    expect(count('activity dagLoadJob')).toBe(1);
    expect(count('activity dagRunTasks')).toBe(1);
    expect(count('activity dagEnqueueContainerTasks')).toBe(1);
    expect(count('process container-tasks')).toBe(1);
    expect(count(`process ${RESULTS}`)).toBe(1);
    expect(count('handler echo')).toBe(2); // prepare (activity runner) and work (container)
  });

  it('a raster job: the GDAL processes are spans of the worker in the job operation, with their command lines', () => {
    onTestFailed(() => {
      failed = true;
    });
    const submitSpan = ingest.envelopes.find(
      (e) => spanName(e) === 'function jobsSubmit' && props(e).job_id === rasterJob,
    )!;
    const opId = op(submitSpan)!;
    const inOp = ingest.envelopes.filter((e) => op(e) === opId);
    expect(new Set(inOp.map(role))).toEqual(new Set(['rmhdagmaster-functionapp', 'rmhdagmaster-worker']));
    const handlers = inOp.filter(
      (e) => role(e) === 'rmhdagmaster-worker' && spanName(e).startsWith('handler raster.'),
    );
    expect(handlers.map(spanName)).toEqual(
      expect.arrayContaining([
        'handler raster.blob_to_mount',
        'handler raster.validate',
        'handler raster.create_cog',
      ]),
    );
    const gdal = inOp.filter(
      (e) => role(e) === 'rmhdagmaster-worker' && spanName(e) === 'exec gdal_translate',
    );
    expect(gdal.length).toBeGreaterThan(0);
    const line = props(gdal[0]!)['process.command_line']!;
    expect(line).toMatch(/^gdal_translate .*-of COG/);
    expect(props(gdal[0]!)).toMatchObject({ job_id: rasterJob, node_id: 'create_cog', runner: 'container' });
  });

  it('job ids are custom dimensions of spans and logs; dependencies (pg, storage) are tracked', () => {
    onTestFailed(() => {
      failed = true;
    });
    const workerSpan = ingest.envelopes.find(
      (e) =>
        role(e) === 'rmhdagmaster-worker' &&
        e.data?.baseData.name === 'handler echo' &&
        props(e).job_id === okJob,
    )!;
    expect(props(workerSpan)).toMatchObject({
      job_id: okJob,
      workflow_id: 'telem_ok',
      node_id: 'work',
      task_id: `${okJob}_work_0`,
      attempt: '0',
      runner: 'container',
    });
    const logs = ingest.envelopes.filter((e) => kind(e) === 'Message' && props(e).job_id === okJob);
    expect(logs.length).toBeGreaterThan(0);
    expect(logs.some((e) => props(e).node_id === 'work' && props(e).task_id === `${okJob}_work_0`)).toBe(
      true,
    );
    const deps = ingest.envelopes.filter((e) => kind(e) === 'RemoteDependency');
    const types = new Set(deps.map((e) => e.data?.baseData.type));
    expect([...types].some((t) => /postgres/i.test(String(t)))).toBe(true);
    expect([...types].some((t) => /Http|Queue|Azure/i.test(String(t)))).toBe(true);
    // A pool checkout is not a dependency call (pg-pool is not instrumented).
    expect(deps.filter((e) => /pg-pool|connect/i.test(spanName(e)))).toEqual([]);
  });

  it('a fan-out: each batch of children is one activity span; its set-based bookkeeping statements are not dependencies of their own', () => {
    onTestFailed(() => {
      failed = true;
    });
    const batches = of(fanJob).filter(
      (e) => spanName(e) === 'activity dagRunTasks' && props(e)['dag.fan_out_children'] !== undefined,
    );
    expect(batches.reduce((n, e) => n + Number(props(e)['dag.fan_out_children']), 0)).toBe(30);
    const batchIds = new Set(batches.map((e) => e.data?.baseData.id));
    const pg = ingest.envelopes.filter(
      (e) => kind(e) === 'RemoteDependency' && /postgres/i.test(String(e.data?.baseData.type)),
    );
    const underBatches = pg.filter((e) => batchIds.has(e.tags?.['ai.operation.parentId']));
    const writes = (e: Envelope) => /^\s*(WITH|INSERT|UPDATE)\b/i.test(e.data?.baseData.data ?? '');
    expect(underBatches.filter(writes)).toEqual([]);
    // The job's other work still reports its statements (the fan-out's expansion, the transitions).
    const opId = op(batches[0]!);
    expect(pg.some((e) => op(e) === opId)).toBe(true);
    // A static task's batch (telem_ok's "prepare") does report them.
    const okBatch = of(okJob).find((e) => spanName(e) === 'activity dagRunTasks')!;
    expect(pg.some((e) => e.tags?.['ai.operation.parentId'] === okBatch.data?.baseData.id && writes(e))).toBe(
      true,
    );
  });

  it('the product metrics arrive with their dimensions', () => {
    onTestFailed(() => {
      failed = true;
    });
    const metrics = ingest.envelopes.filter((e) => kind(e) === 'Metric');
    const named = (n: string) => metrics.filter((e) => e.data?.baseData.metrics?.some((m) => m.name === n));
    expect(named('dag.jobs.submitted').some((e) => props(e).workflow_id === 'telem_ok')).toBe(true);
    expect(named('dag.jobs.completed').some((e) => props(e).workflow_id === 'telem_ok')).toBe(true);
    expect(named('dag.jobs.failed').some((e) => props(e).workflow_id === 'telem_fail')).toBe(true);
    const durations = named('dag.attempt.duration');
    expect(durations.some((e) => props(e).handler === 'echo' && props(e).runner === 'container')).toBe(true);
    expect(durations.some((e) => props(e).handler === 'echo' && props(e).runner === 'activity')).toBe(true);
    expect(named('dag.container.wait').some((e) => props(e).queue === 'container-tasks')).toBe(true);
    expect(named('dag.results.unverified').some((e) => props(e).reason === 'unknown_key')).toBe(true);
    const depth = named('dag.queue.depth');
    expect(depth.some((e) => props(e).queue === 'container-tasks' && props(e).poison === 'true')).toBe(true);
    // The pool's connections are observed at export, in both processes (not counted per statement).
    const pools = named('dag.db.connections');
    expect(new Set(pools.map((e) => props(e).pool))).toEqual(new Set(['functionapp', 'worker']));
    expect(new Set(pools.map((e) => props(e).state))).toEqual(new Set(['used', 'idle']));
    expect(named('dag.db.connections.waiting').length).toBeGreaterThan(0);
    // The pg instrumentation's per-statement metrics are off (their cost: docs/monitoring.md "Cost").
    expect(metrics.some((e) => e.data?.baseData.metrics?.some((m) => m.name.startsWith('db.client.')))).toBe(
      false,
    );
  });

  it('a failed node and its job are exceptions with their ids', () => {
    onTestFailed(() => {
      failed = true;
    });
    const ex = ingest.envelopes.filter((e) => kind(e) === 'Exception' && props(e).job_id === failJob);
    const types = ex.map((e) => e.data?.baseData.exceptions?.[0]?.typeName);
    expect(types).toEqual(expect.arrayContaining(['TaskAttemptFailed', 'NodeFailed', 'JobFailed']));
    const node = ex.find((e) => e.data?.baseData.exceptions?.[0]?.typeName === 'NodeFailed')!;
    expect(props(node)).toMatchObject({ job_id: failJob, node_id: 'boom', attempt: '0' });
    expect(node.data?.baseData.exceptions?.[0]?.message).toContain('cannot open');
  });

  it('no planted secret appears anywhere in what was sent', () => {
    onTestFailed(() => {
      failed = true;
    });
    const text = ingest.rawText();
    expect(text.length).toBeGreaterThan(1000);
    for (const secret of [PG_SECRET, SAS_SECRET, ERROR_SECRET, azuriteKey(azurite.connectionString)])
      expect(text.includes(secret), `secret ${secret.slice(0, 6)}… in the payloads`).toBe(false);
  });
});

function azuriteKey(conn: string): string {
  return /AccountKey=([^;]+)/.exec(conn)?.[1] ?? 'no-key-in-connection-string';
}
