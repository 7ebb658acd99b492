// `dagmaster submit`: a job to a running stack (the one on this .data/ by default) or to Azure.
import { randomUUID } from 'node:crypto';
import { jsonToBase64 } from '../lib/base64';
import { createQueueService, QueueDirectory } from '../lib/io/queueDirectory';
import { optionalString, UsageError, type Command, type CommandArgs } from './cliCommand';
import { API_OPTIONS, apiTarget } from './apiTarget';
import { readStackFile } from './stackFile';
import { exitCodeOf, follow, submit, summarize } from './jobClient';
import { INPUT_OPTIONS, readInputs } from './readInputs';

export const submitCommand: Command = {
  name: 'submit',
  synopsis:
    'submit <workflow_id> [--input JSON | --input-file F] [--wait] [--json] [--url U] [--key K]\n' +
    '       dagmaster submit <workflow_id> --queue [--input JSON] [--correlation-id C] [--idempotency-key K]',
  summary:
    'Submit a job to a running stack or to Azure and print its id; with --wait follow it to its end\n' +
    '(exit 0 completed, 1 failed or cancelled). 400 and 404 answers exit 2 with every problem.\n' +
    'With --queue: put the original JobQueueMessage on DAG_JOB_QUEUE (default dag-jobs) of the\n' +
    "queue storage (DAG_QUEUE_CONNECTION or AzureWebJobsStorage, else the running stack's) and print\n" +
    'its message_id; the job is then in GET /api/status/lookup?correlation_id=.',
  options: {
    ...INPUT_OPTIONS,
    queue: { type: 'boolean', description: 'send a job message to DAG_JOB_QUEUE instead of calling the API' },
    'correlation-id': { type: 'string', value: 'ID', description: 'with --queue: the job correlation id' },
    'idempotency-key': {
      type: 'string',
      value: 'KEY',
      description: 'with --queue: the same key never makes a second job',
    },
    wait: { type: 'boolean', description: 'follow the job to its end and print it' },
    json: { type: 'boolean', description: 'print JSON' },
    ...API_OPTIONS,
  },
  positionals: { min: 1, max: 1, what: 'one workflow id' },
  async run(args, io) {
    if (args.values.queue === true) return submitByQueue(args, io);
    const { url, key } = apiTarget(args);
    const inputs = readInputs(args);
    const json = args.values.json === true;
    const r = await submit(url, args.positionals[0]!, inputs, key);
    for (const w of r.warnings ?? []) io.err(`warning: ${w}`);
    if (args.values.wait !== true) {
      io.out(json ? JSON.stringify(r) : r.job_id);
      return 0;
    }
    const d = await follow(url, r.job_id, { ...(key ? { key } : {}), tty: process.stderr.isTTY === true });
    io.out(json ? JSON.stringify(d, null, 2) : summarize(d));
    return exitCodeOf(d.job.status);
  },
};

/** `submit --queue`: the original JobQueueMessage on DAG_JOB_QUEUE (base64, as Functions reads it). */
async function submitByQueue(args: CommandArgs, io: { out: (s: string) => void }): Promise<number> {
  if (args.values.wait === true)
    throw new UsageError('--wait cannot follow a queued job: drop --wait or --queue');
  const conn =
    process.env.DAG_QUEUE_CONNECTION ||
    (process.env.AzureWebJobsStorage !== 'UseDevelopmentStorage=true'
      ? process.env.AzureWebJobsStorage
      : '') ||
    readStackFile(process.cwd())?.storageConnectionString;
  if (!conn)
    throw new UsageError(
      'no queue storage: set DAG_QUEUE_CONNECTION (a connection string) or start a local stack (dagmaster start)',
    );
  const queue = process.env.DAG_JOB_QUEUE || 'dag-jobs';
  const correlationId = optionalString(args, 'correlation-id');
  const idempotencyKey = optionalString(args, 'idempotency-key');
  const message = {
    workflow_id: args.positionals[0]!,
    input_params: readInputs(args),
    correlation_id: correlationId ?? null,
    submitted_by: 'dagmaster-cli',
    idempotency_key: idempotencyKey ?? null,
    priority: 5,
    submitted_at: new Date().toISOString(),
    message_id: randomUUID(),
  };
  const client = await new QueueDirectory(createQueueService({ storageConnectionString: conn })).ensure(
    queue,
  );
  await client.sendMessage(jsonToBase64(message), {
    messageTimeToLive: 86400,
  });
  io.out(args.values.json === true ? JSON.stringify({ queue, ...message }) : message.message_id);
  return 0;
}
