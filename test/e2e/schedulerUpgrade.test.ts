// A job started by an older scheduler finishes after the Function App is upgraded, replaying the calls
// its history holds: a process pinned to DAG_SCHEDULER_VERSION=1 (each structural step its own
// recording call) starts the job and is killed while the job's task runs; a process with the newest
// scheduler (which records the job start with the start node and the end node with the job end)
// finishes it without a replay mismatch. A job started after the upgrade makes the newer calls; a
// fan-out under max_parallel runs its window in one runner call on version 1, in four on version 2.
import { expect, it, onTestFailed } from 'vitest';
import { ACTIVITY } from '../../activities/contracts';
import type { HostProcess } from '../devhost/devHostProcess';
import { jobHistory } from '../support/jobHistory';
import { api, killHard, useAppProcesses, waitForJobEnd } from './appProcess';
import type { JobDetail } from './stack';

const apps = useAppProcesses({
  name: 'upgrade',
  workflows: [
    {
      workflow_id: 'upg_nap',
      name: 'nap',
      nodes: {
        start: { type: 'start', next: 'nap' },
        nap: { type: 'task', handler: 'sleep', params: { duration_seconds: 3 }, next: 'end' },
        end: { type: 'end' },
      },
    },
    {
      workflow_id: 'upg_fan',
      name: 'fan-out of 16, 8 at a time',
      nodes: {
        start: { type: 'start', next: 'split' },
        split: {
          type: 'fan_out',
          source: '{{ range(0, 16) }}',
          max_parallel: 8,
          task: { handler: 'echo', params: { i: '{{ index }}' } },
          next: 'join',
        },
        join: { type: 'fan_in', aggregation: 'collect', next: 'end' },
        end: { type: 'end' },
      },
    },
  ],
});

async function submit(host: HostProcess, workflowId = 'upg_nap'): Promise<string> {
  const r = await api<{ job_id: string }>(host.url, 'POST', '/api/jobs', { workflow_id: workflowId });
  expect(r.status).toBe(202);
  return r.body.job_id;
}

/** Calls of an activity in the histories of a job's orchestrations (the dev host's Postgres store). */
async function calls(jobId: string, activity: string = ACTIVITY.recordTransitions): Promise<number> {
  const events = await jobHistory(apps.schema.adminPool, `${apps.schema.schema}_dh`, jobId);
  // EventType 4: TaskScheduled.
  return events.filter((e) => e.EventType === 4 && e.Name === activity).length;
}

it('a job started by scheduler version 1 finishes on the newest with its old calls; a new job makes the new ones', async () => {
  onTestFailed(() => apps.markFailed());
  const v1 = await apps.startHost({ DAG_SCHEDULER_VERSION: '1' });
  // Version 1 also runs a max_parallel window in one runner call: 16 children 8 at a time, 2 calls.
  const oldFan = await submit(v1, 'upg_fan');
  expect((await waitForJobEnd(v1.url, oldFan, 60_000)).job.status).toBe('completed');
  expect(await calls(oldFan, ACTIVITY.runTasks)).toBe(2);
  const old = await submit(v1);
  // Killed while its task runs: the job's start was recorded the old way, one step per call.
  const until = Date.now() + 30_000;
  for (;;) {
    const d = await api<JobDetail>(v1.url, 'GET', `/api/jobs/${old}`);
    if (d.body.nodes?.find((n) => n.node_id === 'nap')?.status === 'running') break;
    if (Date.now() > until) throw new Error(`nap did not start: ${JSON.stringify(d.body)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  await killHard(v1);

  const v2 = await apps.startHost();
  const done = await waitForJobEnd(v2.url, old, 90_000);
  expect(done.job.status).toBe('completed');
  expect(done.nodes.map((n) => [n.node_id, n.status]).sort()).toEqual([
    ['end', 'completed'],
    ['nap', 'completed'],
    ['start', 'completed'],
  ]);
  // job started; start passed; end passed; job completed.
  expect(await calls(old)).toBe(4);

  const fresh = await submit(v2);
  expect((await waitForJobEnd(v2.url, fresh, 60_000)).job.status).toBe('completed');
  // job started with start passed; end passed with job completed.
  expect(await calls(fresh)).toBe(2);
  // Windows of 8 in runner calls of 2 children.
  const newFan = await submit(v2, 'upg_fan');
  expect((await waitForJobEnd(v2.url, newFan, 60_000)).job.status).toBe('completed');
  expect(await calls(newFan, ACTIVITY.runTasks)).toBe(8);
}, 240_000);
