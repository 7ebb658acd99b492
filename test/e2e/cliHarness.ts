// Runs the dagmaster command as a user does: a child process in a directory of its own (its
// .data/), with the embedded Postgres (no DATABASE_URL) or a given one, and a private TMPDIR so a
// test can check that nothing was left in the temp directory. A spawned CLI gets a process group
// of its own, as a terminal's foreground job, so a test can Ctrl-C the whole group.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dropSchemasAndRoles, TEST_DATABASE_URL } from '../support/pg';

export const ROOT = path.join(__dirname, '..', '..');
export const BIN = path.join(ROOT, 'bin', 'dagmaster.js');

export type PostgresMode = 'embedded' | 'external';

export interface CliDir {
  /** The working directory (holds .data/). */
  cwd: string;
  /** The TMPDIR of every CLI run here. */
  tmp: string;
  env: Record<string, string>;
  /** Entries left in the private TMPDIR (should be none after a run). */
  tmpLeftovers(): string[];
  /** Drops the schema (external mode) and the directories. */
  cleanup(): Promise<void>;
}

export function cliDir(mode: PostgresMode, extraEnv: Record<string, string> = {}): CliDir {
  const cwd = mkdtempSync(path.join(os.tmpdir(), `cli-${mode}-`));
  const tmp = mkdtempSync(path.join(os.tmpdir(), `cli-tmp-`));
  // As a project directory usually is: the embedded Postgres's user ("postgres", when the tests run
  // as root) can enter it and keeps its data in .data/postgres.
  chmodSync(cwd, 0o755);
  const schema = `cli_${path
    .basename(cwd)
    .replace(/[^a-z0-9]/gi, '')
    .toLowerCase()}`;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !/^(DATABASE_URL|DAG_|AzureWebJobsStorage)/.test(k)) env[k] = v;
  }
  Object.assign(env, {
    TMPDIR: tmp,
    LOG_LEVEL: 'error',
    DAG_WORKFLOWS_DIR: path.join(ROOT, 'workflows'),
    ...(mode === 'external'
      ? { DATABASE_URL: TEST_DATABASE_URL, DAG_DB_SCHEMA: schema, DAG_STAC_SCHEMA: `${schema}_stac` }
      : {}),
    ...extraEnv,
  });
  return {
    cwd,
    tmp,
    env,
    tmpLeftovers: () => readdirSync(tmp),
    async cleanup() {
      // What the CLI deployed into the test database: its schemas and its roles (app role, login).
      if (mode === 'external')
        await dropSchemasAndRoles([schema, `${schema}_durable`, `${schema}_stac`], schema);
      rmSync(cwd, { recursive: true, force: true });
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
}

/** A CLI process in its own process group; output is collected as it comes. */
export class CliProcess {
  readonly child: ChildProcess;
  out = '';
  err = '';
  readonly exited: Promise<CliRun>;

  constructor(args: string[], dir: CliDir, env: Record<string, string> = {}) {
    this.child = spawn(process.execPath, [BIN, ...args], {
      cwd: dir.cwd,
      env: { ...dir.env, ...env },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (c: Buffer) => (this.out += c.toString()));
    this.child.stderr!.on('data', (c: Buffer) => (this.err += c.toString()));
    this.exited = new Promise((resolve) => {
      this.child.once('close', (code, signal) => resolve({ code, signal, out: this.out, err: this.err }));
    });
  }

  /** Resolves when stdout or stderr matches; rejects if the process ends first or after timeoutMs. */
  async waitFor(pattern: RegExp, timeoutMs = 90_000): Promise<RegExpMatchArray> {
    const until = Date.now() + timeoutMs;
    let ended = false;
    void this.exited.then(() => (ended = true));
    for (;;) {
      const m = pattern.exec(this.out) ?? pattern.exec(this.err);
      if (m) return m;
      if (ended || Date.now() > until) {
        throw new Error(
          `dagmaster ${ended ? 'ended' : 'still running'} without printing ${pattern}:\n--- stdout\n${this.out}\n--- stderr\n${this.err}`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** A terminal's Ctrl-C: SIGINT to the whole foreground process group. */
  interruptGroup(): void {
    process.kill(-this.child.pid!, 'SIGINT');
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.child.kill(signal);
  }
}

export async function dagmaster(
  args: string[],
  dir: CliDir,
  env: Record<string, string> = {},
): Promise<CliRun> {
  const p = new CliProcess(args, dir, env);
  const timer = setTimeout(() => p.kill(), 170_000);
  try {
    return await p.exited;
  } finally {
    clearTimeout(timer);
  }
}

/** Processes (embedded Postgres, Azurite) still running with this directory in their command line. */
export function serversOf(dir: CliDir): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmd.includes(dir.cwd) && (cmd.includes('postgres') || cmd.includes('azurite')))
        pids.push(Number(entry));
    } catch {
      // gone
    }
  }
  return pids;
}

/** Workflow files written for a test. */
export const workflowFiles = {
  failing:
    'workflow_id: cli_failing\nname: f\nnodes:\n  start: {type: start, next: boom}\n' +
    '  boom: {type: task, handler: fail, params: {error_message: nope}, retry: {max_attempts: 0}, next: end}\n' +
    '  end: {type: end}\n',
  timeout:
    'workflow_id: cli_timeout\nname: t\nnodes:\n  start: {type: start, next: nap}\n' +
    '  nap: {type: task, handler: sleep, params: {duration_seconds: 30}, timeout_seconds: 1, retry: {max_attempts: 0}, next: end}\n' +
    '  end: {type: end}\n',
  templateError:
    'workflow_id: cli_template\nname: t\ninputs:\n  obj: {type: object, required: false, default: {}}\n' +
    'nodes:\n  start: {type: start, next: echo}\n' +
    '  echo: {type: task, handler: echo, params: {v: "{{ inputs.obj.missing.deeper }}"}, next: end}\n' +
    '  end: {type: end}\n',
  failedChild:
    'workflow_id: cli_child\nname: c\nnodes:\n  start: {type: start, next: fan}\n' +
    '  fan: {type: fan_out, source: "{{ [1, 2, 3] }}", task: {handler: fail, params: {error_message: "child {{ index }}"}, retry: {max_attempts: 0}}, next: gather}\n' +
    '  gather: {type: fan_in, aggregation: collect, next: end}\n' +
    '  end: {type: end}\n',
  slow: (seconds: number) =>
    `workflow_id: cli_slow\nname: s\nnodes:\n  start: {type: start, next: nap}\n` +
    `  nap: {type: task, handler: sleep, params: {duration_seconds: ${seconds}}, timeout_seconds: 3600, next: end}\n` +
    '  end: {type: end}\n',
  invalid:
    'workflow_id: cli_invalid\nname: i\nnodes:\n  start: {type: start, next: nowhere}\n  end: {type: end}\n',
};
