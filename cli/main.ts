// The dagmaster command (SPEC §6).
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { validateInputs } from '../dag/validateInputs';
import { formatIssue } from '../dag/workflowIssue';
import { workflowJsonSchema } from '../dag/workflowJsonSchema';
import { renderDdl } from '../db/generateDdl';
import { loadConfig } from '../functions/config';
import { listWorkflowFiles, loadWorkflowFiles } from '../functions/workflowCatalog';
import { defaultRegistry } from '../handlers/handlerRegistry';
import { ApiError, call, exitCodeOf, follow, submit, summarize, type JobBody } from './jobClient';
import { runDbCommand } from './dbCommand';
import { startLocalStack } from './localStack';
import { runSettingsCommand } from './settingsCommand';
import { uploadFile } from './uploadFile';
import { runWorkerCommand } from './workerCommand';

const USAGE = `usage: dagmaster <command> [options]

commands:
  validate <file|dir>...                 check workflow files; prints file:line:col: message per problem
  run <workflow file|id> [--input JSON | --input-file F] [--json]
                                         start the local stack, run one job to its end, print it
                                         (exit 0 completed, 1 failed/cancelled, 2 invalid workflow or input)
  start [--port 7071]                    the local stack as a service on http://127.0.0.1:7071
  submit <workflow_id> [--input JSON | --input-file F] [--wait] [--url U] [--key K] [--json]
                                         submit a job to a running stack or to Azure
  upload <local file> <container>/<blob> put a file into the configured blob storage
  schema --json-schema | --ddl [--schema S]
                                         print the workflow JSON Schema or the SQL DDL
  db migrate | status | generate-migration <name> | new-migration <name> | seal
                                         the Postgres schema's versioned migrations (dagmaster db help)
  worker                                 the container worker alone, on ./local.settings.json
  settings [--database-url URL] [--force]
                                         write local.settings.json for a running Azurite and Postgres
`;

export interface CliIO {
  out: (s: string) => void;
  err: (s: string) => void;
}

const stdio: CliIO = {
  out: (s) => process.stdout.write(s + '\n'),
  err: (s) => process.stderr.write(s + '\n'),
};

class UsageError extends Error {}

export async function runCli(argv: string[], io: CliIO = stdio): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'validate':
        return validate(rest, io);
      case 'schema':
        return schema(rest, io);
      case 'run':
        return await run(rest, io);
      case 'start':
        return await start(rest, io);
      case 'submit':
        return await submitCommand(rest, io);
      case 'upload':
        return await upload(rest, io);
      case 'db':
        return await runDbCommand(rest, io);
      case 'worker':
        return await runWorkerCommand(rest, io);
      case 'settings':
        return await runSettingsCommand(rest, io);
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        io.out(USAGE);
        return command === undefined ? 2 : 0;
      default:
        io.err(`dagmaster: unknown command "${command}"\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`dagmaster ${command}: ${err.message}`);
      return 2;
    }
    if (err instanceof ApiError) {
      io.err(`dagmaster ${command}: ${err.message}`);
      const details = (err.body as { error?: { details?: unknown } })?.error?.details;
      if (Array.isArray(details))
        for (const d of details)
          io.err(
            `  - ${typeof d === 'string' ? d : ((d as { message?: string }).message ?? JSON.stringify(d))}`,
          );
      return err.status === 400 || err.status === 404 ? 2 : 1;
    }
    io.err(`dagmaster ${command}: ${(err as Error).message}`);
    return 1;
  }
}

interface Flags {
  positional: string[];
  flags: Map<string, string | true>;
}

function parseFlags(args: string[], withValue: string[]): Flags {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
      if (eq > 0) flags.set(name, a.slice(eq + 1));
      else if (withValue.includes(name)) {
        const v = args[++i];
        if (v === undefined) throw new UsageError(`--${name} needs a value`);
        flags.set(name, v);
      } else flags.set(name, true);
    } else positional.push(a);
  }
  return { positional, flags };
}

function str(f: Flags, name: string): string | undefined {
  const v = f.flags.get(name);
  return typeof v === 'string' ? v : undefined;
}

function readInputs(f: Flags): unknown {
  const inline = str(f, 'input');
  const file = str(f, 'input-file');
  if (inline !== undefined && file !== undefined)
    throw new UsageError('use --input or --input-file, not both');
  const text = inline ?? (file !== undefined ? readFileSync(file, 'utf8') : undefined);
  if (text === undefined) return {};
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`the inputs are not valid JSON: ${(err as Error).message}`);
  }
}

function validate(args: string[], io: CliIO): number {
  if (!args.length) throw new UsageError('name at least one workflow file or directory');
  const config = loadConfig();
  const files: string[] = [];
  for (const a of args) {
    try {
      files.push(...listWorkflowFiles(a));
    } catch (err) {
      io.out(`${a}:1:1: cannot read: ${(err as Error).message}`);
      return 1;
    }
  }
  const catalog = loadWorkflowFiles(files, {
    handlers: defaultRegistry().catalog(),
    activityQueues: config.DAG_ACTIVITY_QUEUES,
  });
  let problems = 0;
  for (const f of catalog.files) {
    for (const issue of f.issues) {
      io.out(formatIssue(issue));
      problems++;
    }
  }
  const valid = catalog.files.filter((f) => f.plan).length;
  io.err(`${valid} of ${catalog.files.length} workflow file(s) valid, ${problems} problem(s)`);
  return problems ? 1 : 0;
}

function schema(args: string[], io: CliIO): number {
  const f = parseFlags(args, ['schema']);
  if (f.flags.has('json-schema')) {
    io.out(JSON.stringify(workflowJsonSchema(), null, 2));
    return 0;
  }
  if (f.flags.has('ddl')) {
    io.out(renderDdl(str(f, 'schema') ?? process.env.DAG_DB_SCHEMA ?? 'dagapp'));
    return 0;
  }
  throw new UsageError('use --json-schema or --ddl [--schema NAME]');
}

/** `run`: the workflow (a file, or an id in DAG_WORKFLOWS_DIR), validated before anything starts. */
async function run(args: string[], io: CliIO): Promise<number> {
  const f = parseFlags(args, ['input', 'input-file', 'port']);
  const target = f.positional[0];
  if (!target || f.positional.length > 1) throw new UsageError('name one workflow file or workflow id');
  const inputs = readInputs(f);
  const config = loadConfig();
  const catalogOptions = {
    handlers: defaultRegistry().catalog(),
    activityQueues: config.DAG_ACTIVITY_QUEUES,
  };

  // A file runs from a private copy of itself, so that other files beside it do not matter.
  let workflowsDir = path.resolve(config.DAG_WORKFLOWS_DIR);
  let workflowId = target;
  let tempDir: string | undefined;
  if (existsSync(target) && statSync(target).isFile()) {
    const loaded = loadWorkflowFiles([target], catalogOptions).files[0]!;
    if (!loaded.plan) {
      for (const i of loaded.issues) io.out(formatIssue(i));
      io.err(`dagmaster run: ${target} is not a valid workflow`);
      return 2;
    }
    workflowId = loaded.workflow!.workflow_id;
    tempDir = mkdtempSync(path.join(os.tmpdir(), 'dagmaster-run-'));
    copyFileSync(target, path.join(tempDir, path.basename(target)));
    workflowsDir = tempDir;
  }
  if (!existsSync(workflowsDir)) {
    io.err(
      `dagmaster run: "${target}" is not a file, and the workflows directory ${workflowsDir} does not exist (DAG_WORKFLOWS_DIR)`,
    );
    return 2;
  }
  const catalog = loadWorkflowFiles(listWorkflowFiles(workflowsDir), catalogOptions);
  const lw = catalog.workflows.get(workflowId);
  if (!lw) {
    const bad = catalog.files.find((x) => x.workflow?.workflow_id === workflowId);
    for (const i of bad?.issues ?? []) io.out(formatIssue(i));
    io.err(`dagmaster run: no valid workflow "${workflowId}" in ${workflowsDir}`);
    return 2;
  }
  const checked = validateInputs(lw.workflow!, inputs);
  if (!checked.ok) {
    io.err(`dagmaster run: invalid inputs for "${workflowId}":`);
    for (const p of checked.problems) io.err(`  - ${p.message}`);
    return 2;
  }

  const tty = process.stderr.isTTY === true;
  const stack = await startLocalStack({
    port: Number(str(f, 'port') ?? 0),
    workflowsDir,
    apiKey: '',
    say: (s) => io.err(s),
  });
  let interrupted = false;
  let jobId: string | undefined;
  const onSignal = () => {
    if (interrupted || !jobId) process.exit(130);
    interrupted = true;
    io.err(`\ncancelling job ${jobId} (Ctrl-C again to quit at once)…`);
    void call(stack.url, 'POST', `/api/jobs/${jobId}/cancel`, {}).catch(() => undefined);
  };
  process.on('SIGINT', onSignal);
  try {
    const r = await submit(stack.url, workflowId, checked.value);
    jobId = r.job_id;
    io.err(`job ${jobId} submitted (${stack.url}/api/jobs/${jobId})`);
    const d = await follow(stack.url, jobId, { tty });
    io.out(f.flags.has('json') ? JSON.stringify(d, null, 2) : summarize(d));
    return exitCodeOf(d.job.status);
  } finally {
    process.off('SIGINT', onSignal);
    await stack.stop();
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
  }
}

async function start(args: string[], io: CliIO): Promise<number> {
  const f = parseFlags(args, ['port']);
  const config = loadConfig();
  const stack = await startLocalStack({
    port: Number(str(f, 'port') ?? 7071),
    workflowsDir: path.resolve(config.DAG_WORKFLOWS_DIR),
    say: (s) => io.err(s),
  });
  io.out(`rmhdagmaster is running on ${stack.url}`);
  io.out(`  API:      ${stack.url}/api/jobs, ${stack.url}/api/workflows, ${stack.url}/api/health`);
  io.out(`  Postgres: ${stack.databaseUrl.replace(/:[^:@/]*@/, ':***@')} (schema ${stack.schema})`);
  io.out('Ctrl-C stops it.');
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  io.err('stopping…');
  await stack.stop();
  return 0;
}

async function submitCommand(args: string[], io: CliIO): Promise<number> {
  const f = parseFlags(args, ['input', 'input-file', 'url', 'key']);
  const workflowId = f.positional[0];
  if (!workflowId || f.positional.length > 1) throw new UsageError('name one workflow id');
  const url = str(f, 'url') ?? process.env.DAG_API_URL ?? 'http://127.0.0.1:7071';
  const key = str(f, 'key') ?? process.env.DAG_API_KEY;
  const r = await submit(url, workflowId, readInputs(f), key);
  if (!f.flags.has('wait')) {
    io.out(f.flags.has('json') ? JSON.stringify(r) : r.job_id);
    return 0;
  }
  const d: JobBody = await follow(url, r.job_id, {
    ...(key ? { key } : {}),
    tty: process.stderr.isTTY === true,
  });
  io.out(f.flags.has('json') ? JSON.stringify(d, null, 2) : summarize(d));
  return exitCodeOf(d.job.status);
}

async function upload(args: string[], io: CliIO): Promise<number> {
  const f = parseFlags(args, []);
  const [file, target] = f.positional;
  if (!file || !target || f.positional.length !== 2)
    throw new UsageError('usage: upload <local file> <container>/<blob>');
  const r = await uploadFile(file, target, { say: (s) => io.err(s) });
  io.out(`uploaded ${r.bytes} bytes to ${r.url}`);
  return 0;
}

export function main(argv: string[]): void {
  runCli(argv).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`dagmaster: ${(err as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
