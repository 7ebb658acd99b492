// Runs a child process for a handler (GDAL tools and the like): an argument array, never a shell
// string; its own process group, so that on abort (cancel, timeout, shutdown) the whole tree gets
// SIGTERM, then SIGKILL after a grace period; output streamed line by line and the tail kept for
// the error message. Groups still alive when the worker exits are killed too.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { displayCommand } from './scrubSecrets';
import { telemetryEnabled, withSpan } from './telemetry';

export interface RunProcessOptions {
  /** Fires on cancel / timeout / shutdown: the process group is terminated. */
  signal?: AbortSignal;
  cwd?: string;
  /** The child's environment (default: the worker's). */
  env?: NodeJS.ProcessEnv;
  /** Variables added to the child's environment (GDAL config options, AZURE_STORAGE_*). */
  extraEnv?: Record<string, string>;
  onStdout?: (line: string) => void;
  onStderr?: (line: string) => void;
  /** Between SIGTERM and SIGKILL after an abort (default 5000 ms). */
  killGraceMs?: number;
  /** Keep this many characters of each stream for the result / error (default 8192). */
  keepChars?: number;
  /** Resolve on a non-zero exit instead of rejecting. */
  allowNonZeroExit?: boolean;
  /** Data written to stdin (then closed); default: stdin is closed at once. */
  input?: string | Buffer;
}

export interface ProcessResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  pid: number;
}

/** A process that failed: exited non-zero, was killed, or could not start. */
export class ProcessError extends Error {
  constructor(
    message: string,
    readonly result: Partial<ProcessResult> & { command: string },
    readonly aborted = false,
  ) {
    super(message);
    this.name = 'ProcessError';
  }
}

const liveGroups = new Set<number>();
let exitHookInstalled = false;

function killGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    // the group is gone already
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A worker that exits (normally or after an uncaught error) takes its children with it.
  process.on('exit', () => {
    for (const pid of liveGroups) killGroup(pid, 'SIGKILL');
  });
}

/** The pids of process groups started by runProcess that are still running (diagnostics, tests). */
export function runningProcessGroups(): number[] {
  return [...liveGroups];
}

/**
 * Runs the process; with Application Insights on, as a span `exec <program>` of the current attempt
 * whose command line has its secrets removed (SAS tokens in /vsicurl/ URLs, passwords).
 */
export function runProcess(
  command: string,
  args: readonly string[],
  o: RunProcessOptions = {},
): Promise<ProcessResult> {
  if (!telemetryEnabled()) return spawnProcess(command, args, o);
  return withSpan(
    `exec ${path.basename(command)}`,
    {
      attributes: {
        'process.executable.name': path.basename(command),
        'process.command_line': displayCommand(command, args),
      },
    },
    async (span) => {
      const r = await spawnProcess(command, args, o);
      span?.setAttributes({ 'process.exit.code': r.code ?? -1, 'process.pid': r.pid });
      return r;
    },
  );
}

function spawnProcess(
  command: string,
  args: readonly string[],
  o: RunProcessOptions = {},
): Promise<ProcessResult> {
  const keep = o.keepChars ?? 8192;
  const grace = o.killGraceMs ?? 5000;
  // Secrets (a SAS token in a /vsicurl/ URL) never reach logs or error messages.
  const display = displayCommand(command, args);
  const started = Date.now();
  return new Promise<ProcessResult>((resolve, reject) => {
    if (o.signal?.aborted) {
      reject(
        new ProcessError(
          `${display}: not started: ${reasonText(o.signal.reason)}`,
          { command: display },
          true,
        ),
      );
      return;
    }
    installExitHook();
    const child = spawn(command, [...args], {
      cwd: o.cwd,
      // The child inherits the process's environment: passed through, not read as configuration.
      env: o.env ?? (o.extraEnv ? { ...process.env, ...o.extraEnv } : process.env),
      detached: true, // its own process group: kill(-pid) reaches grandchildren too
      shell: false,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const pid = child.pid;
    let stdout = '';
    let stderr = '';
    let aborted = false;
    let killTimer: NodeJS.Timeout | undefined;
    const collect = (which: 'out' | 'err', onLine: ((l: string) => void) | undefined) => {
      let partial = '';
      return (chunk: Buffer) => {
        const text = chunk.toString('utf8');
        if (which === 'out') stdout = (stdout + text).slice(-keep);
        else stderr = (stderr + text).slice(-keep);
        if (!onLine) return;
        partial += text;
        const lines = partial.split(/\r?\n/);
        partial = lines.pop() ?? '';
        for (const l of lines) onLine(l);
        if (partial.length > 65536) {
          onLine(partial);
          partial = '';
        }
      };
    };
    child.stdout.on('data', collect('out', o.onStdout));
    child.stderr.on('data', collect('err', o.onStderr));
    child.stdin.on('error', () => undefined); // a child that exits without reading stdin
    if (o.input !== undefined) child.stdin.end(o.input);
    else child.stdin.end();

    const onAbort = () => {
      if (pid === undefined || aborted) return;
      aborted = true;
      killGroup(pid, 'SIGTERM');
      killTimer = setTimeout(() => killGroup(pid, 'SIGKILL'), grace);
    };
    if (pid !== undefined) liveGroups.add(pid);
    o.signal?.addEventListener('abort', onAbort, { once: true });

    child.on('error', (err) => {
      o.signal?.removeEventListener('abort', onAbort);
      if (pid !== undefined) liveGroups.delete(pid);
      if (killTimer) clearTimeout(killTimer);
      reject(
        new ProcessError(`${display}: could not start: ${err.message}`, {
          command: display,
          durationMs: Date.now() - started,
        }),
      );
    });
    child.on('close', (code, sig) => {
      o.signal?.removeEventListener('abort', onAbort);
      if (killTimer) clearTimeout(killTimer);
      if (pid !== undefined) {
        // Descendants that outlived the leader (e.g. backgrounded by a script) go with it.
        killGroup(pid, 'SIGKILL');
        liveGroups.delete(pid);
      }
      const result: ProcessResult = {
        code,
        signal: sig,
        stdout,
        stderr,
        durationMs: Date.now() - started,
        pid: pid ?? -1,
      };
      if (aborted) {
        reject(
          new ProcessError(
            `${display}: stopped (${sig ?? `exit ${code}`}): ${reasonText(o.signal?.reason)}`,
            { ...result, command: display },
            true,
          ),
        );
      } else if ((code !== 0 || sig) && !o.allowNonZeroExit) {
        const tail = stderr.trim().split(/\r?\n/).slice(-10).join('\n');
        reject(
          new ProcessError(
            `${display} ${sig ? `was killed by ${sig}` : `exited with code ${code}`}${tail ? `: ${tail}` : ''}`,
            { ...result, command: display },
          ),
        );
      } else resolve(result);
    });
  });
}

function reasonText(reason: unknown): string {
  if (reason instanceof Error) return reason.message;
  return typeof reason === 'string' ? reason : 'aborted';
}
