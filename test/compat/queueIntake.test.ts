// Job intake by queue (issue 16): the original JobQueueMessage on DAG_JOB_QUEUE runs through the same
// submit path as the API; a message delivered twice makes one job; messages that can never succeed
// land in <queue>-poison with the reason; `dagmaster submit --queue` produces the message. Local stack
// (dev host, Postgres, Azurite); the client reads results only through the original API.
import { randomUUID } from 'node:crypto';
import { QueueClient } from '@azure/storage-queue';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { runCli } from '../../cli/main';
import { startStack, type Stack } from '../e2e/stack';

let stack: Stack;
let failed = false;
const QUEUE = 'compat-jobs';
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const queue = (name: string) => new QueueClient(stack.azurite.connectionString, name);
const send = async (body: unknown) => {
  const q = queue(QUEUE);
  await q.createIfNotExists();
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  await q.sendMessage(Buffer.from(text).toString('base64'));
};

/** The job with this correlation id, once there (the original gateway's lookup). */
async function lookup(correlationId: string, timeoutMs = 30_000): Promise<Json> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const r = await stack.api<Json>('GET', `/api/status/lookup?correlation_id=${correlationId}`);
    if (r.status === 200) return r.body;
    expect(r.status).toBe(404);
    if (Date.now() > until) throw new Error(`no job with correlation id ${correlationId}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

async function finished(jobId: string): Promise<Json> {
  for (;;) {
    const r = await stack.api<Json>('GET', `/api/v1/jobs/${jobId}`);
    if (['completed', 'failed', 'cancelled'].includes(r.body.job.status)) return r.body;
    await new Promise((res) => setTimeout(res, 100));
  }
}

/** Poison messages read so far, decoded. */
const poisoned: Json[] = [];
async function poisonWith(pred: (m: Json) => boolean, timeoutMs = 30_000): Promise<Json> {
  const until = Date.now() + timeoutMs;
  const q = queue(`${QUEUE}-poison`);
  for (;;) {
    const found = poisoned.find(pred);
    if (found) return found;
    if (await q.exists()) {
      const got = await q.receiveMessages({ numberOfMessages: 32, visibilityTimeout: 300 });
      for (const m of got.receivedMessageItems)
        poisoned.push(JSON.parse(Buffer.from(m.messageText, 'base64').toString('utf8')) as Json);
    }
    if (Date.now() > until) throw new Error(`no such poison message; have ${JSON.stringify(poisoned)}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

beforeAll(async () => {
  stack = await startStack({ env: { DAG_JOB_QUEUE: QUEUE } });
}, 120_000);

afterAll(async () => {
  await stack?.stop(failed);
});

describe('job intake by queue', () => {
  it('the original JobQueueMessage makes a job through the submit path; a repeated message makes no second job', async () => {
    onTestFailed(() => void (failed = true));
    const message = {
      workflow_id: 'hello_world',
      input_params: { message: 'queued hello' },
      correlation_id: 'q-good-1',
      asset_id: null,
      submitted_by: 'rmhdagmaster-gateway',
      callback_url: null,
      idempotency_key: null,
      priority: 5,
      submitted_at: new Date().toISOString(),
      message_id: randomUUID(),
    };
    await send(message);
    await send(message); // a redelivery (same message_id)
    const job = await lookup('q-good-1');
    expect(job).toMatchObject({ workflow_id: 'hello_world', submitted_by: 'rmhdagmaster-gateway' });
    const d = await finished(job.job_id);
    expect(d.job.status).toBe('completed');
    expect(d.job.input_params).toEqual({ message: 'queued hello' });
    // Both deliveries were taken off the queue, and one job exists for the correlation id.
    for (;;) {
      const props = await queue(QUEUE).getProperties();
      if (props.approximateMessagesCount === 0) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    const all = await stack.api<Json>('GET', '/api/jobs?correlation_id=q-good-1');
    expect(all.body.jobs).toHaveLength(1);
  });

  it('an idempotency_key dedupes messages with other message ids', async () => {
    onTestFailed(() => void (failed = true));
    for (const _ of [1, 2])
      await send({
        workflow_id: 'hello_world',
        input_params: {},
        correlation_id: 'q-key',
        idempotency_key: 'q-key-1',
        message_id: randomUUID(),
      });
    const job = await lookup('q-key');
    await finished(job.job_id);
    for (;;) {
      if ((await queue(QUEUE).getProperties()).approximateMessagesCount === 0) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    expect((await stack.api<Json>('GET', '/api/jobs?correlation_id=q-key')).body.jobs).toHaveLength(1);
  });

  it('bad messages go to <queue>-poison with the reason, and make no job', async () => {
    onTestFailed(() => void (failed = true));
    await send('this is { not json');
    await send({ input_params: {}, correlation_id: 'q-nowf' });
    await send({ workflow_id: 'no_such_workflow', input_params: {}, correlation_id: 'q-unknown' });
    await send({ workflow_id: 'hello_world', input_params: { message: 42 }, correlation_id: 'q-invalid' });
    const parse = await poisonWith((m) => m.reason === 'ParseError');
    expect(parse.message).toBe('this is { not json');
    expect(parse.error).toMatch(/not JSON/);
    expect(parse.queue).toBe(QUEUE);
    const invalid = await poisonWith((m) => m.reason === 'InvalidMessage');
    expect(invalid.error).toMatch(/workflow_id/);
    const unknown = await poisonWith((m) => m.reason === 'WorkflowNotFound');
    expect(unknown.message.correlation_id).toBe('q-unknown');
    expect(unknown.error).toMatch(/no_such_workflow/);
    const inputs = await poisonWith((m) => m.reason === 'InvalidInputs');
    expect(inputs.message.correlation_id).toBe('q-invalid');
    expect(inputs.error).toMatch(/message/);
    for (const c of ['q-nowf', 'q-unknown', 'q-invalid'])
      expect((await stack.api('GET', `/api/status/lookup?correlation_id=${c}`)).status).toBe(404);
  });

  it('dagmaster submit --queue puts the original message on DAG_JOB_QUEUE', async () => {
    onTestFailed(() => void (failed = true));
    const saved = { conn: process.env.DAG_QUEUE_CONNECTION, q: process.env.DAG_JOB_QUEUE };
    process.env.DAG_QUEUE_CONNECTION = stack.azurite.connectionString;
    process.env.DAG_JOB_QUEUE = QUEUE;
    const out: string[] = [];
    const err: string[] = [];
    try {
      const code = await runCli(
        [
          'submit',
          'hello_world',
          '--queue',
          '--input',
          '{"message":"from the cli"}',
          '--correlation-id',
          'q-cli',
          '--json',
        ],
        { out: (s) => out.push(s), err: (s) => err.push(s) },
      );
      expect(err).toEqual([]);
      expect(code).toBe(0);
      const wait = await runCli(['submit', 'hello_world', '--queue', '--wait'], {
        out: () => undefined,
        err: (s) => err.push(s),
      });
      expect(wait).toBe(2);
      expect(err.join('\n')).toMatch(/--wait/);
    } finally {
      for (const [k, v] of [
        ['DAG_QUEUE_CONNECTION', saved.conn],
        ['DAG_JOB_QUEUE', saved.q],
      ] as const)
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
    }
    const sent = JSON.parse(out[0]!) as Json;
    expect(sent).toMatchObject({ queue: QUEUE, workflow_id: 'hello_world', correlation_id: 'q-cli' });
    expect(sent.message_id).toMatch(/^[0-9a-f-]{36}$/);
    const job = await lookup('q-cli');
    const d = await finished(job.job_id);
    expect(d.job.status).toBe('completed');
    expect(d.job.submitted_by).toBe('dagmaster-cli');
    expect(d.job.input_params).toEqual({ message: 'from the cli' });
  });
});
