// `dagmaster jobs` and `dagmaster cancel`: see and end the jobs of a running stack (the one on this
// .data/ by default) or of a deployment on Azure.
import type { Command } from './cliCommand';
import { optionalString, UsageError } from './cliCommand';
import { API_OPTIONS, apiTarget } from './apiTarget';
import { call } from './jobClient';

interface JobSummary {
  job_id: string;
  workflow_id: string;
  status: string;
  created_at: string;
  error_message: string | null;
}

export const jobsCommand: Command = {
  name: 'jobs',
  synopsis: 'jobs [--status S] [--workflow W] [--limit N] [--json] [--url U] [--key K]',
  summary: 'List jobs, newest first (default: the unfinished ones: pending and running).',
  options: {
    status: {
      type: 'string',
      value: 'S',
      description: 'a status or comma list (pending,running,completed,failed,cancelled), or "all"',
    },
    workflow: { type: 'string', value: 'W', description: 'only jobs of this workflow' },
    limit: { type: 'string', value: 'N', description: 'at most N jobs (1-500, default 50)' },
    json: { type: 'boolean', description: 'print the API answer as JSON' },
    ...API_OPTIONS,
  },
  positionals: { min: 0, max: 0, what: 'no arguments' },
  async run(args, io) {
    const { url, key } = apiTarget(args);
    const status = optionalString(args, 'status') ?? 'pending,running';
    const limit = optionalString(args, 'limit') ?? '50';
    if (!/^\d+$/.test(limit) || Number(limit) < 1 || Number(limit) > 500)
      throw new UsageError(`--limit must be an integer from 1 to 500, got "${limit}"`);
    const q = new URLSearchParams({ limit });
    if (status !== 'all') q.set('status', status);
    const workflow = optionalString(args, 'workflow');
    if (workflow) q.set('workflow_id', workflow);
    const r = await call<{ jobs: JobSummary[]; next_cursor: string | null }>(
      url,
      'GET',
      `/api/jobs?${q}`,
      undefined,
      key,
    );
    if (args.values.json === true) {
      io.out(JSON.stringify(r, null, 2));
      return 0;
    }
    if (!r.jobs.length) {
      io.err(`no ${status === 'all' ? '' : `${status} `}jobs at ${url}`);
      return 0;
    }
    for (const j of r.jobs) {
      io.out(
        `${j.job_id}  ${j.workflow_id.padEnd(24)} ${j.status.padEnd(9)} ${j.created_at}${j.error_message ? `  ${j.error_message}` : ''}`,
      );
    }
    if (r.next_cursor) io.err(`(more: --limit up to 500, or GET /api/jobs?cursor=${r.next_cursor})`);
    return 0;
  },
};

export const cancelCommand: Command = {
  name: 'cancel',
  synopsis: 'cancel <job_id>... [--reason TEXT] [--url U] [--key K]',
  summary: 'Cancel pending or running jobs (exit 1 if one could not be cancelled).',
  options: {
    reason: { type: 'string', value: 'TEXT', description: 'why (kept with the job)' },
    ...API_OPTIONS,
  },
  positionals: { min: 1, max: 100, what: 'the id of the job(s) to cancel' },
  async run(args, io) {
    const { url, key } = apiTarget(args);
    const reason = optionalString(args, 'reason');
    let failed = 0;
    for (const id of args.positionals) {
      try {
        await call(url, 'POST', `/api/jobs/${encodeURIComponent(id)}/cancel`, reason ? { reason } : {}, key);
        io.out(`${id}: cancel requested`);
      } catch (err) {
        failed++;
        io.err(`${id}: ${(err as Error).message}`);
      }
    }
    return failed ? 1 : 0;
  },
};
