// `dagmaster run`: validates a workflow and its inputs, starts the local stack (or uses the
// `dagmaster start` service already running on this .data/ when it serves the same workflow), runs
// one job to its end, prints it, stops what it started. Exit 0 completed, 1 failed or cancelled (or
// the stack could not start), 2 invalid workflow, inputs or usage.
//
// Ctrl-C records the job's cancel and waits (bounded) for the job to end before anything stops; a
// second Ctrl-C quits at once, says what was left, and asks the servers it started to shut down.
import { isDeepStrictEqual } from 'node:util';
import { copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { validateInputs } from '../dag/validateInputs';
import { formatIssue } from '../dag/workflowIssue';
import { loadConfig } from '../functions/config';
import { defaultRegistry } from '../handlers/handlerRegistry';
import { optionalString, type Command } from './cliCommand';
import { Interrupts } from './interrupts';
import { ApiError, call, exitCodeOf, follow, submit, summarize, TERMINAL, type JobBody } from './jobClient';
import { startLocalStack, StackBusyError, type LocalStack } from './localStack';
import { parsePort } from './parsePort';
import { INPUT_OPTIONS, readInputs } from './readInputs';
import { resolveWorkflow } from './resolveWorkflow';
import { readStackFile, type StackFile } from './stackFile';

/** How long a Ctrl-C waits for the cancelled job to end before the stack stops anyway. */
const CANCEL_WAIT_MS = 30_000;

export const runCommand: Command = {
  name: 'run',
  synopsis: 'run <workflow file|id> [--input JSON | --input-file F] [--json] [--port N]',
  summary:
    'Start the local stack (Postgres, Azurite, the dev host, the container worker), run one job to its\n' +
    'end and print it. Exit 0 completed, 1 failed or cancelled (or the stack could not start),\n' +
    '2 invalid workflow, inputs or usage.',
  options: {
    ...INPUT_OPTIONS,
    json: { type: 'boolean', description: 'print the job as JSON (the GET /api/jobs/{id} body)' },
    port: { type: 'string', value: 'N', description: 'the API port (default: a free one)' },
  },
  positionals: { min: 1, max: 1, what: 'one workflow file or workflow id' },
  details:
    'A file runs from a private copy; an id is looked up in DAG_WORKFLOWS_DIR (./workflows).\n' +
    'When `dagmaster start` is running on this directory and serves the same workflow, the job runs\n' +
    'there. Jobs that an interrupted earlier stack left unfinished resume while this one runs (they\n' +
    'are listed, and not waited for). Ctrl-C cancels the job and waits for it to end (up to 30 s);\n' +
    'a second Ctrl-C quits at once and leaves the job as it is.',
  async run(args, io) {
    const inputs = readInputs(args);
    const port = parsePort(optionalString(args, 'port'), 0);
    const config = loadConfig();
    const target = args.positionals[0]!;
    const resolved = resolveWorkflow(target, path.resolve(config.DAG_WORKFLOWS_DIR), {
      handlers: defaultRegistry().catalog(),
      activityQueues: config.DAG_ACTIVITY_QUEUES,
      defaultContainerQueue: config.DAG_CONTAINER_QUEUE,
      workerQueues: config.DAG_WORKER_QUEUES,
    });
    if (!resolved.ok) {
      for (const i of resolved.issues) io.out(formatIssue(i));
      io.err(`dagmaster run: ${resolved.message}`);
      return 2;
    }
    for (const w of resolved.loaded.warnings ?? []) io.err(formatIssue(w));
    const workflow = resolved.loaded.workflow!;
    const checked = validateInputs(workflow, inputs);
    if (!checked.ok) {
      io.err(`dagmaster run: invalid inputs for "${resolved.workflowId}":`);
      for (const p of checked.problems) io.err(`  - ${p.message}`);
      return 2;
    }
    const json = args.values.json === true;
    const root = process.cwd();

    const running = readStackFile(root);
    if (running) return runOnService(running, resolved.workflowId, workflow, checked.value, json, io);

    // A file runs from a private copy of itself, so that other files beside it do not matter. The
    // copy lives under .data/, and copies that killed runs left behind are removed here.
    let tempDir: string | undefined;
    let workflowsDir = path.resolve(config.DAG_WORKFLOWS_DIR);
    if (resolved.file) {
      tempDir = privateWorkflowDir(root);
      copyFileSync(resolved.file, path.join(tempDir, path.basename(resolved.file)));
      workflowsDir = tempDir;
    }
    const removeTemp = () => {
      if (tempDir) rmSync(tempDir, { recursive: true, force: true });
    };
    let stack: LocalStack | undefined;
    let jobId: string | undefined;
    let cancelRecorded = false;
    let cancelAsked: number | undefined;
    const interrupts = new Interrupts({
      first: () => {
        if (!jobId || !stack) {
          io.err('\ninterrupted: stopping (Ctrl-C again to quit at once)…');
          return;
        }
        cancelAsked = Date.now();
        io.err(`\ncancelling job ${jobId} (Ctrl-C again to quit at once)…`);
        const id = jobId;
        call(stack.url, 'POST', `/api/jobs/${id}/cancel`, {
          reason: 'interrupted (Ctrl-C) in dagmaster run',
        }).then(
          () => {
            cancelRecorded = true;
          },
          (err: unknown) => io.err(`could not record the cancel of job ${id}: ${(err as Error).message}`),
        );
      },
      second: () => {
        io.err(
          jobId
            ? cancelRecorded
              ? `quitting: the cancel of job ${jobId} is recorded; it takes effect when a stack next runs on this .data/`
              : `quitting: job ${jobId} was left running; it resumes when a stack next runs on this .data/ (dagmaster start), where dagmaster cancel ${jobId} ends it`
            : 'quitting',
        );
        stack?.abandon();
        removeTemp();
        process.exit(130);
      },
    });
    interrupts.install();
    try {
      try {
        stack = await startLocalStack({
          command: 'run',
          port,
          workflowsDir,
          apiKey: '',
          say: (s) => io.err(s),
        });
      } catch (err) {
        io.err(`dagmaster run: the local stack could not start: ${describeStartError(err, port)}`);
        return 1;
      }
      if (interrupts.count > 0) return 1;
      reportUnfinished(stack, io);
      const r = await submit(stack.url, resolved.workflowId, checked.value);
      jobId = r.job_id;
      io.err(`job ${jobId} submitted (${stack.url}/api/jobs/${jobId})`);
      const d = await follow(stack.url, jobId, {
        tty: process.stderr.isTTY === true,
        giveUp: () => cancelAsked !== undefined && Date.now() - cancelAsked > CANCEL_WAIT_MS,
      });
      printJob(d, json, io);
      if (!TERMINAL.includes(d.job.status)) {
        io.err(
          `job ${jobId} had not ended ${CANCEL_WAIT_MS / 1000} s after its cancel; the cancel is recorded and takes effect when a stack next runs on this .data/`,
        );
        return 1;
      }
      return exitCodeOf(d.job.status);
    } finally {
      await stack?.stop();
      removeTemp();
      interrupts.uninstall();
    }
  },
};

/**
 * .data/run-workflows/<pid>: this run's copy of its workflow file. Directories of runs whose process
 * is gone (killed before they could clean up) are removed.
 */
function privateWorkflowDir(root: string): string {
  const parent = path.join(root, '.data', 'run-workflows');
  mkdirSync(parent, { recursive: true });
  for (const entry of readdirSync(parent)) {
    const pid = Number(entry);
    if (pid === process.pid || !Number.isInteger(pid) || isAlive(pid)) continue;
    rmSync(path.join(parent, entry), { recursive: true, force: true });
  }
  const dir = path.join(parent, String(process.pid));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  return dir;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The job printed as the summary, or as JSON. */
function printJob(d: JobBody, json: boolean, io: { out: (s: string) => void }): void {
  io.out(json ? JSON.stringify(d, null, 2) : summarize(d));
}

function reportUnfinished(stack: LocalStack, io: { err: (s: string) => void }): void {
  const jobs = stack.unfinishedJobs;
  if (!jobs.length) return;
  io.err(
    `note: ${jobs.length} unfinished job(s) from an earlier, interrupted stack resume in this one and do not delay its exit:`,
  );
  for (const j of jobs.slice(0, 10))
    io.err(`  ${j.job_id}  ${j.workflow_id}  ${j.status}  since ${j.created_at}`);
  if (jobs.length > 10) io.err(`  … and ${jobs.length - 10} more`);
  io.err(
    '  `dagmaster start` runs them to their end; while it runs, `dagmaster jobs` lists them and `dagmaster cancel <id>` ends one.',
  );
}

/** The job on the `dagmaster start` service already running on this .data/ (its workflow must match). */
async function runOnService(
  running: StackFile,
  workflowId: string,
  workflow: unknown,
  inputs: Record<string, unknown>,
  json: boolean,
  io: { out: (s: string) => void; err: (s: string) => void },
): Promise<number> {
  const who = `dagmaster ${running.command} (pid ${running.pid}, ${running.url})`;
  if (running.command !== 'start') {
    io.err(
      `dagmaster run: another ${who} is using this directory's .data/; wait for it to end, or run \`dagmaster start\` once and submit several jobs to it`,
    );
    return 1;
  }
  let served: { valid: boolean; definition: unknown } | undefined;
  try {
    served = await call(running.url, 'GET', `/api/workflows/${workflowId}`, undefined, running.apiKey);
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 404)) throw err;
  }
  if (!served?.valid || !isDeepStrictEqual(served.definition, JSON.parse(JSON.stringify(workflow)))) {
    io.err(
      `dagmaster run: the local stack ${who} runs on this directory's .data/ and serves ${served ? `a different version of workflow "${workflowId}"` : `no workflow "${workflowId}"`}; stop it first, or submit to it with dagmaster submit`,
    );
    return 1;
  }
  io.err(`using the local stack already running here: ${who}`);
  const r = await submit(running.url, workflowId, inputs, running.apiKey);
  io.err(`job ${r.job_id} submitted (${running.url}/api/jobs/${r.job_id})`);
  let cancelAsked: number | undefined;
  const interrupts = new Interrupts({
    first: () => {
      cancelAsked = Date.now();
      io.err(`\ncancelling job ${r.job_id} (Ctrl-C again to quit at once)…`);
      call(
        running.url,
        'POST',
        `/api/jobs/${r.job_id}/cancel`,
        { reason: 'interrupted (Ctrl-C) in dagmaster run' },
        running.apiKey,
      ).catch((err: unknown) => io.err(`could not record the cancel: ${(err as Error).message}`));
    },
    second: () => {
      io.err(`quitting: job ${r.job_id} goes on in the running stack (dagmaster cancel ${r.job_id} ends it)`);
      process.exit(130);
    },
  });
  interrupts.install();
  try {
    const d = await follow(running.url, r.job_id, {
      ...(running.apiKey ? { key: running.apiKey } : {}),
      tty: process.stderr.isTTY === true,
      giveUp: () => cancelAsked !== undefined && Date.now() - cancelAsked > CANCEL_WAIT_MS,
    });
    printJob(d, json, io);
    return TERMINAL.includes(d.job.status) ? exitCodeOf(d.job.status) : 1;
  } finally {
    interrupts.uninstall();
  }
}

/** Why the stack did not start, in the user's terms. */
export function describeStartError(err: unknown, port: number): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'EADDRINUSE') {
    return `port ${port} is in use (another dagmaster start, or another program?); choose another with --port, or --port 0 for a free one`;
  }
  if (e.code === 'EACCES' && port > 0 && port < 1024) {
    return `port ${port} needs privileges; choose one above 1023 with --port`;
  }
  if (err instanceof StackBusyError) return err.message;
  return e.message ?? String(err);
}
