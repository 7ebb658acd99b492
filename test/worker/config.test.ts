// The worker's environment configuration and its message codec.
import { describe, expect, it } from 'vitest';
import { decodeTaskMessage, encodeQueueMessage, loadWorkerConfig } from '../../container-worker';

const base = {
  DATABASE_URL: 'postgres://u@127.0.0.1:5432/db',
  AzureWebJobsStorage:
    'AccountName=devstoreaccount1;AccountKey=a2V5;QueueEndpoint=http://127.0.0.1:1/devstoreaccount1',
};

describe('loadWorkerConfig', () => {
  it('has the documented defaults', () => {
    const c = loadWorkerConfig(base);
    expect(c).toMatchObject({
      queues: ['container-tasks', 'dag-worker-tasks'],
      maxConcurrent: 4,
      shutdownTimeoutSeconds: 30,
      healthPort: 8080,
      healthHost: '0.0.0.0',
      maxDequeueCount: 5,
      visibilityTimeoutSeconds: 60,
      pollIntervalMs: 1000,
      etlMountPath: '/mnt/etl',
      storageConnectionString: base.AzureWebJobsStorage,
      etlCleanup: {
        mountPath: '/mnt/etl',
        retention: { completedMs: 24 * 3_600_000, failedMs: 168 * 3_600_000 },
        intervalMs: 30 * 60_000,
      },
    });
    expect(c.workerId).toMatch(/-\d+$/);
    expect(c.db.schema).toBe('dagapp');
  });

  it('reads every variable', () => {
    const c = loadWorkerConfig({
      ...base,
      DAG_WORKER_QUEUES: ' a-queue , other-q,a-queue',
      DAG_WORKER_MAX_CONCURRENT: '16',
      DAG_WORKER_SHUTDOWN_TIMEOUT_SEC: '90',
      DAG_WORKER_ID: 'replica-7',
      DAG_WORKER_HEALTH_PORT: 'off',
      DAG_WORKER_MAX_DEQUEUE_COUNT: '3',
      DAG_WORKER_VISIBILITY_TIMEOUT_SEC: '120',
      DAG_WORKER_ETL_MOUNT_PATH: '/data/etl',
      DAG_WORKER_ETL_RETENTION_HOURS: '2',
      DAG_WORKER_ETL_FAILED_RETENTION_HOURS: '48',
      DAG_WORKER_ETL_SWEEP_MINUTES: '5',
      DAG_DB_SCHEMA: 'other',
      DAG_QUEUE_CONNECTION: 'AccountName=x;AccountKey=eQ==',
    });
    expect(c).toMatchObject({
      queues: ['a-queue', 'other-q'],
      maxConcurrent: 16,
      shutdownTimeoutSeconds: 90,
      workerId: 'replica-7',
      healthPort: undefined,
      maxDequeueCount: 3,
      visibilityTimeoutSeconds: 120,
      etlMountPath: '/data/etl',
      etlCleanup: {
        mountPath: '/data/etl',
        retention: { completedMs: 2 * 3_600_000, failedMs: 48 * 3_600_000 },
        intervalMs: 5 * 60_000,
      },
      storageConnectionString: 'AccountName=x;AccountKey=eQ==',
    });
    expect(c.db.schema).toBe('other');
  });

  it('DAG_WORKER_ETL_SWEEP_MINUTES=0 turns the mount sweep off; a bad retention is named', () => {
    expect(loadWorkerConfig({ ...base, DAG_WORKER_ETL_SWEEP_MINUTES: '0' }).etlCleanup).toBeUndefined();
    expect(() => loadWorkerConfig({ ...base, DAG_WORKER_ETL_RETENTION_HOURS: '-1' })).toThrow(
      /DAG_WORKER_ETL_RETENTION_HOURS must be an integer between 0 and 87600, got "-1"/,
    );
  });

  it('uses the managed identity when only DAG_QUEUE_SERVICE_URL is set', () => {
    const c = loadWorkerConfig({
      DATABASE_URL: base.DATABASE_URL,
      AzureWebJobsStorage: 'UseDevelopmentStorage=true',
      DAG_QUEUE_SERVICE_URL: 'https://acct.queue.core.windows.net',
    });
    expect(c.storageConnectionString).toBeUndefined();
    expect(c.queueServiceUrl).toBe('https://acct.queue.core.windows.net');
  });

  it('reports every problem with the variable name and points at the docs', () => {
    expect(() =>
      loadWorkerConfig({
        ...base,
        DAG_WORKER_MAX_CONCURRENT: '0',
        DAG_WORKER_QUEUES: 'Bad_Queue',
        DAG_WORKER_HEALTH_PORT: 'x',
      }),
    ).toThrow(
      /DAG_WORKER_QUEUES "Bad_Queue" is not a valid queue name.*DAG_WORKER_MAX_CONCURRENT must be an integer between 1 and 256, got "0".*DAG_WORKER_HEALTH_PORT must be a port.*docs\/container-worker\.md/,
    );
    expect(() => loadWorkerConfig({ DATABASE_URL: base.DATABASE_URL })).toThrow(/no queue storage/);
    expect(() => loadWorkerConfig({ AzureWebJobsStorage: base.AzureWebJobsStorage })).toThrow(
      /No database configured/,
    );
  });
});

describe('task message codec', () => {
  const msg = {
    v: 1,
    task_id: 'j_n_0',
    job_id: 'j',
    node_id: 'n',
    attempt: 0,
    handler: 'echo',
    params: { a: 1 },
    timeout_seconds: 60,
    deadline: '2030-01-01T00:00:00.000Z',
    dispatched_at: '2030-01-01T00:00:00.000Z',
    reply_to: 'inst',
    result_queue: 'results',
  };

  it('decodes base64 JSON', () => {
    const d = decodeTaskMessage(encodeQueueMessage(msg));
    expect(d).toEqual({ ok: true, message: { ...msg, params_in_db: false } });
  });

  it('rejects plain JSON, non-JSON and schema-invalid messages, keeping the attempt identity when there is one', () => {
    expect(decodeTaskMessage(JSON.stringify(msg))).toMatchObject({
      ok: false,
      error: expect.stringMatching(/not base64/),
    });
    expect(decodeTaskMessage(Buffer.from('{nope').toString('base64'))).toMatchObject({
      ok: false,
      error: expect.stringMatching(/base64 but not JSON/),
    });
    const d = decodeTaskMessage(encodeQueueMessage({ ...msg, attempt: -1 }));
    expect(d).toMatchObject({ ok: false, error: expect.stringMatching(/attempt/) });
    expect('identity' in d && d.identity).toBe(false);
    const e = decodeTaskMessage(encodeQueueMessage({ ...msg, handler: 7 }));
    expect(e).toMatchObject({
      ok: false,
      identity: { task_id: 'j_n_0', reply_to: 'inst', result_queue: 'results' },
    });
  });
});
