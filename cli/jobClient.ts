// A small HTTP client of the product's API for the CLI: submit a job, follow it to its end with a
// live progress line on a TTY, and turn the outcome into an exit code (SPEC §6).

export interface JobBody {
  job: { job_id: string; status: string; error_message: string | null; result_data: unknown };
  nodes: Array<{
    node_id: string;
    status: string;
    error_message: string | null;
    started_at?: string | null;
    completed_at?: string | null;
  }>;
  node_summary: Record<string, number>;
}

export const TERMINAL = ['completed', 'failed', 'cancelled'];

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    const e = (body as { error?: { message?: string; details?: unknown } })?.error;
    super(e?.message ?? `HTTP ${status}`);
  }
}

export async function call<T>(
  base: string,
  method: string,
  route: string,
  body?: unknown,
  key?: string,
): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${base.replace(/\/$/, '')}${route}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(key ? { 'x-functions-key': key } : {}),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch (err) {
    throw new Error(
      `cannot reach ${base}: ${(err as Error).message}. Is the stack running (dagmaster start)?`,
    );
  }
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON
  }
  if (!res.ok) throw new ApiError(res.status, parsed);
  return parsed as T;
}

export async function submit(
  base: string,
  workflowId: string,
  inputs: unknown,
  key?: string,
): Promise<{ job_id: string; status: string; warnings?: string[] }> {
  return call(base, 'POST', '/api/jobs', { workflow_id: workflowId, inputs }, key);
}

/**
 * Polls the job until it ends (or `giveUp` says to stop waiting: the last body is returned); on a
 * TTY rewrites one progress line.
 */
export async function follow(
  base: string,
  jobId: string,
  opts: {
    key?: string;
    tty?: boolean;
    write?: (s: string) => void;
    intervalMs?: number;
    giveUp?: () => boolean;
  } = {},
): Promise<JobBody> {
  const write = opts.write ?? ((s: string) => process.stderr.write(s));
  let lastLine = '';
  for (;;) {
    const d = await call<JobBody>(base, 'GET', `/api/jobs/${jobId}`, undefined, opts.key);
    const s = d.node_summary;
    const line = `${jobId} ${d.job.status}: ${s.completed ?? 0}/${s.total ?? 0} completed, ${(s.running ?? 0) + (s.dispatched ?? 0)} running, ${s.failed ?? 0} failed, ${s.skipped ?? 0} skipped`;
    if (opts.tty && line !== lastLine) {
      write(`\r\x1b[2K${line}`);
      lastLine = line;
    }
    if (TERMINAL.includes(d.job.status) || opts.giveUp?.()) {
      if (opts.tty) write('\n');
      return d;
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 250));
  }
}

/** 0 completed, 1 failed or cancelled. */
export function exitCodeOf(status: string): number {
  return status === 'completed' ? 0 : 1;
}

/** The job, its nodes in the order they ran (those that never ran last), and its result. */
export function summarize(d: JobBody): string {
  const lines = [`job ${d.job.job_id}: ${d.job.status}`];
  if (d.job.error_message) lines.push(`error: ${d.job.error_message}`);
  for (const n of executionOrder(d.nodes.filter((x) => !x.node_id.includes('__')))) {
    lines.push(`  ${n.node_id.padEnd(24)} ${n.status}${n.error_message ? `  ${n.error_message}` : ''}`);
  }
  const children = d.nodes.filter((x) => x.node_id.includes('__')).length;
  if (children) lines.push(`  (+ ${children} fan-out children; GET /api/jobs/${d.job.job_id}/nodes)`);
  if (d.job.result_data) lines.push(`result_data: ${JSON.stringify(d.job.result_data, null, 2)}`);
  return lines.join('\n');
}

/** By when each node started (or ended, for nodes that complete without running); then by id. */
export function executionOrder<T extends JobBody['nodes'][number]>(nodes: T[]): T[] {
  const at = (n: T) => n.started_at ?? n.completed_at ?? null;
  return [...nodes].sort((a, b) => {
    const x = at(a);
    const y = at(b);
    if (x !== y) {
      if (x === null) return 1;
      if (y === null) return -1;
      return x < y ? -1 : 1;
    }
    return a.node_id < b.node_id ? -1 : a.node_id > b.node_id ? 1 : 0;
  });
}
