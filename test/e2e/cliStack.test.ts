// The local stack as a user meets it with the embedded Postgres: one stack per .data/ (a `run`
// beside a `start` uses it; `upload`, `submit`, `jobs` and `cancel` reach it through
// .data/stack.json, key included), a Ctrl-C'd job stays cancelled, an orphan of a killed run is
// reported and not waited for, and no server or temp file is left behind.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CliProcess, cliDir, dagmaster, ROOT, serversOf, workflowFiles, type CliDir } from './cliHarness';

let dir: CliDir;
beforeAll(() => {
  dir = cliDir('embedded');
});
afterEach(() => {
  expect(dir.tmpLeftovers()).toEqual([]);
});
afterAll(async () => {
  await dir.cleanup();
});

const stackFile = () => path.join(dir.cwd, '.data', 'stack.json');
const file = (name: string, text: string) => {
  const f = path.join(dir.cwd, `${name}.yaml`);
  writeFileSync(f, text);
  return f;
};

async function startService(env: Record<string, string> = {}): Promise<CliProcess> {
  const p = new CliProcess(['start', '--port', '0'], dir, env);
  await p.waitFor(/Ctrl-C stops it/);
  return p;
}

async function stopService(p: CliProcess): Promise<void> {
  p.interruptGroup();
  const r = await p.exited;
  expect(r.code).toBe(0);
  // Stopping terminates no connection it did not close itself: no error lines.
  expect(r.err).not.toMatch(/ERROR|error:/);
  expect(existsSync(stackFile())).toBe(false);
  expect(serversOf(dir)).toEqual([]);
}

describe('dagmaster commands', () => {
  it('--help for every command, --version, and validate --help is not read as a file', async () => {
    const help = await dagmaster(['--help'], dir);
    expect(help.code).toBe(0);
    for (const c of ['validate', 'run', 'start', 'submit', 'jobs', 'cancel', 'upload', 'schema']) {
      expect(help.out).toContain(`  ${c}`);
      const h = await dagmaster([c, '--help'], dir);
      expect(h.code).toBe(0);
      expect(h.out).toMatch(new RegExp(`^usage: dagmaster ${c}`));
    }
    const v = await dagmaster(['--version'], dir);
    expect(v.out.trim()).toBe(JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version);
    const unknown = await dagmaster(['strat'], dir);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('unknown command "strat" (did you mean "start"?)');
  }, 120_000);
});

describe('a Ctrl-C during run', () => {
  it('leaves the job cancelled in Postgres, with its unrun nodes skipped; a later start does not resume it', async () => {
    const p = new CliProcess(['run', file('slow', workflowFiles.slow(120)), '--json'], dir);
    const [, jobId] = await p.waitFor(/job (\w+) submitted/);
    await new Promise((r) => setTimeout(r, 1500));
    p.interruptGroup();
    const r = await p.exited;
    expect(r.code).toBe(1);
    expect(serversOf(dir)).toEqual([]);

    const service = await startService();
    try {
      expect(service.err).not.toContain('resuming');
      expect(service.err).toContain('warning: DAG_API_KEY is not set, so the API needs no key');
      const unfinished = await dagmaster(['jobs', '--json'], dir);
      expect(JSON.parse(unfinished.out).jobs).toEqual([]);
      const job = await dagmaster(['jobs', '--status', 'all', '--json'], dir);
      const row = (JSON.parse(job.out).jobs as Array<{ job_id: string; status: string }>).find(
        (j) => j.job_id === jobId,
      );
      expect(row?.status).toBe('cancelled');
      const detail = JSON.parse(r.out) as {
        nodes: Array<{ node_id: string; status: string; skip_reason: string | null }>;
      };
      expect(detail.nodes.find((n) => n.node_id === 'nap')?.status).toBe('failed');
      expect(detail.nodes.find((n) => n.node_id === 'end')).toMatchObject({
        status: 'skipped',
        skip_reason: 'job_cancelled',
      });
    } finally {
      await stopService(service);
    }
  }, 240_000);
});

describe('an orphaned job (its run was killed)', () => {
  it('is reported by the next run, which does not wait for it; start resumes it and cancel ends it', async () => {
    const killed = new CliProcess(['run', file('orphan', workflowFiles.slow(600))], dir);
    const [, orphan] = await killed.waitFor(/job (\w+) submitted/);
    await new Promise((r) => setTimeout(r, 1500));
    killed.kill('SIGKILL');
    await killed.exited;
    expect(serversOf(dir).length).toBeGreaterThan(0); // Postgres and Azurite outlive a SIGKILL

    // The orphan sleeps 600 s: this run ends long before (the test's own timeout says so).
    const next = await dagmaster(['run', path.join(ROOT, 'workflows', 'hello_world.yaml')], dir);
    expect(next.code).toBe(0);
    expect(next.err).toMatch(/1 unfinished job\(s\) from an earlier, interrupted stack/);
    expect(next.err).toContain(orphan);
    expect(serversOf(dir)).toEqual([]); // the servers it adopted are stopped
    expect(existsSync(path.join(dir.cwd, '.data', 'run-workflows', String(killed.child.pid)))).toBe(false);

    const service = await startService();
    try {
      expect(service.err).toContain('resuming 1 unfinished job(s)');
      const listed = await dagmaster(['jobs'], dir);
      expect(listed.out).toContain(orphan);
      const cancel = await dagmaster(['cancel', orphan!, '--reason', 'orphan'], dir);
      expect(cancel.code).toBe(0);
      for (let i = 0; i < 100; i++) {
        const all = JSON.parse((await dagmaster(['jobs', '--status', 'all', '--json'], dir)).out) as {
          jobs: Array<{ job_id: string; status: string; error_message: string | null }>;
        };
        const row = all.jobs.find((j) => j.job_id === orphan)!;
        if (row.status === 'cancelled') {
          expect(row.error_message).toBe('The job was cancelled: orphan');
          break;
        }
        await new Promise((r) => setTimeout(r, 300));
      }
      expect((await dagmaster(['cancel', orphan!], dir)).code).toBe(1); // already ended
    } finally {
      await stopService(service);
    }
  }, 300_000);
});

describe('one stack per .data/', () => {
  it('run, submit, jobs and upload use the running start (URL and key from .data/stack.json)', async () => {
    const service = await startService({ DAG_API_KEY: 'stack-key-1' });
    try {
      expect(service.err).not.toContain('DAG_API_KEY is not set');
      const stack = JSON.parse(readFileSync(stackFile(), 'utf8')) as {
        pid: number;
        url: string;
        apiKey: string;
        storageConnectionString: string;
      };
      expect(stack).toMatchObject({ pid: service.child.pid, apiKey: 'stack-key-1' });

      const submitted = await dagmaster(
        ['submit', 'hello_world', '--input', '{"message": "s"}', '--wait', '--json'],
        dir,
      );
      expect(submitted.code).toBe(0);
      expect(JSON.parse(submitted.out).job.result_data.hello).toEqual({ message: 's' });

      const run = await dagmaster(['run', 'hello_world', '--input', '{"message": "r"}', '--json'], dir);
      expect(run.code).toBe(0);
      expect(run.err).toContain(
        `using the local stack already running here: dagmaster start (pid ${stack.pid}`,
      );
      expect(JSON.parse(run.out).job.result_data.hello).toEqual({ message: 'r' });
      expect(JSON.parse(readFileSync(stackFile(), 'utf8')).pid).toBe(stack.pid); // not removed by run

      const other = await dagmaster(['run', file('failing', workflowFiles.failing)], dir);
      expect(other.code).toBe(1);
      expect(other.err).toContain('serves no workflow "cli_failing"');

      const second = await dagmaster(['start', '--port', '0'], dir);
      expect(second.code).toBe(1);
      expect(second.err).toContain('a local stack is already running');
      expect(JSON.parse(readFileSync(stackFile(), 'utf8')).pid).toBe(stack.pid);

      const up = await dagmaster(
        ['upload', path.join(ROOT, 'samples', 'sample_rgb_utm33n.tif'), 'bronze/x.tif'],
        dir,
      );
      expect(up.code).toBe(0);
      const blobEndpoint = /BlobEndpoint=([^;]+)/.exec(stack.storageConnectionString)![1]!;
      expect(up.out).toContain(`${blobEndpoint}/bronze/x.tif`);

      const listed = await dagmaster(['jobs', '--status', 'completed'], dir);
      expect(listed.code).toBe(0);
      expect(listed.out).toContain(JSON.parse(submitted.out).job.job_id);
      expect(listed.out).toContain(JSON.parse(run.out).job.job_id);
      const noKey = await dagmaster(['jobs'], dir, { DAG_API_URL: stack.url });
      expect(noKey.code).toBe(1);
      expect(noKey.err).toContain('A function key is required');
    } finally {
      await stopService(service);
    }
  }, 300_000);
});
