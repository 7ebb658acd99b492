import pg from 'pg';
import { describe, expect, it } from 'vitest';
import {
  createJob,
  deleteJobs,
  getJob,
  listEvents,
  listJobs,
  nodeSummary,
  requestCancel,
  rerunJob,
  setJobStatus,
  transitionNode,
  DbError,
  DbValidationError,
  listNodes,
  createDagStore,
} from '../../db';
import { jobInput, newJob, useDeployedSchema } from './helpers';

const db = useDeployedSchema();

describe('createJob', () => {
  it('creates the job, its nodes and one job_created event in one go', async () => {
    const { pool, schema } = db();
    const r = await createJob(
      pool,
      schema,
      jobInput({ correlationId: 'corr-1', submittedBy: 'alice', metadata: { team: 'geo' } }),
    );
    expect(r.created).toBe(true);
    const job = r.job;
    expect(job.job_id).toMatch(/^[0-9a-z]{26}$/);
    expect(job.status).toBe('pending');
    expect(job.version).toBe(1);
    expect(job.run_count).toBe(1);
    expect(job.workflow_snapshot).toEqual({
      workflow_id: 'wf',
      version: 1,
      nodes: { start: { type: 'start' } },
    });
    expect(job.created_at).toBeInstanceOf(Date);
    expect(job.metadata).toEqual({ team: 'geo' });
    const nodes = await listNodes(pool, schema, job.job_id);
    expect(nodes.items.map((n) => [n.node_id, n.status, n.max_retries, n.attempt])).toEqual([
      ['end', 'pending', 0, 0],
      ['fan', 'pending', 0, 0],
      ['gather', 'pending', 0, 0],
      ['start', 'ready', 0, 0],
      ['work', 'pending', 2, 0],
    ]);
    expect(nodes.items.find((n) => n.node_id === 'start')!.ready_at).toBeInstanceOf(Date);
    const ev = await listEvents(pool, schema, job.job_id);
    expect(ev.items.map((e) => e.event_type)).toEqual(['job_created']);
    expect(ev.items[0]!.event_data).toMatchObject({
      workflow_id: 'wf',
      node_count: 5,
      correlation_id: 'corr-1',
    });
  });

  it('returns the same job for the same idempotency key, even for concurrent submissions from two pools', async () => {
    const { pool, url, schema } = db();
    const other = new pg.Pool({ connectionString: url, max: 8 });
    try {
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          createJob(
            i % 2 ? pool : other,
            schema,
            jobInput({ idempotencyKey: 'key-123', inputParams: { i } }),
          ),
        ),
      );
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect(new Set(results.map((r) => r.job.job_id)).size).toBe(1);
      const count = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".dag_jobs`);
      expect(count.rows[0].n).toBe(1);
      const nodes = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".dag_node_states`);
      expect(nodes.rows[0].n).toBe(5);
      const events = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".dag_job_events`);
      expect(events.rows[0].n).toBe(1);
    } finally {
      await other.end();
    }
  });

  it('treats an explicit job id as idempotent and refuses a key clash on another id', async () => {
    const { pool, schema } = db();
    const a = await createJob(pool, schema, jobInput({ jobId: 'job-a' }));
    const b = await createJob(pool, schema, jobInput({ jobId: 'job-a' }));
    expect([a.created, b.created]).toEqual([true, false]);
    await createJob(pool, schema, jobInput({ jobId: 'job-b', idempotencyKey: 'k1' }));
    await expect(
      createJob(pool, schema, jobInput({ jobId: 'job-b', idempotencyKey: 'k2' })),
    ).rejects.toMatchObject({
      code: 'CONFLICT',
    });
  });

  it('rejects duplicate node ids and over-long values before touching the database', async () => {
    const { pool, schema } = db();
    await expect(
      createJob(
        pool,
        schema,
        jobInput({
          nodes: [
            { nodeId: 'a', nodeType: 'task' },
            { nodeId: 'a', nodeType: 'end' },
          ],
        }),
      ),
    ).rejects.toBeInstanceOf(DbValidationError);
    const err = await createJob(pool, schema, jobInput({ idempotencyKey: 'k'.repeat(129) })).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DbValidationError);
    expect(err).toMatchObject({
      code: 'VALIDATION',
      field: 'idempotency_key',
      limit: 128,
      table: 'dag_jobs',
    });
  });
});

describe('setJobStatus', () => {
  it('moves a job through its statuses with guarded, versioned writes and events', async () => {
    const { pool, schema } = db();
    const job = await newJob(db());
    const started = await setJobStatus(pool, schema, {
      jobId: job.job_id,
      from: ['pending'],
      to: 'running',
      expectedVersion: 1,
    });
    expect(started.kind).toBe('applied');
    if (started.kind !== 'applied') return;
    expect(started.job.version).toBe(2);
    expect(started.job.started_at).toBeInstanceOf(Date);
    // A second start loses: the job is no longer pending.
    const again = await setJobStatus(pool, schema, { jobId: job.job_id, from: ['pending'], to: 'running' });
    expect(again).toMatchObject({ kind: 'conflict', current: { status: 'running', version: 2 } });
    // Stale version.
    const stale = await setJobStatus(pool, schema, {
      jobId: job.job_id,
      from: ['running'],
      to: 'completed',
      expectedVersion: 1,
    });
    expect(stale.kind).toBe('conflict');
    const done = await setJobStatus(pool, schema, {
      jobId: job.job_id,
      from: ['running'],
      to: 'completed',
      expectedVersion: 2,
      resultData: { start: null, list: [1, 2, 3], _provenance: { job_id: job.job_id } },
    });
    expect(done).toMatchObject({
      kind: 'applied',
      job: { status: 'completed', version: 3, result_data: { list: [1, 2, 3] } },
    });
    if (done.kind === 'applied') expect(done.job.completed_at).toBeInstanceOf(Date);
    expect(await setJobStatus(pool, schema, { jobId: 'nope', from: ['pending'], to: 'running' })).toEqual({
      kind: 'not_found',
    });
    const ev = await listEvents(pool, schema, job.job_id);
    expect(ev.items.map((e) => e.event_type)).toEqual(['job_created', 'job_started', 'job_completed']);
    expect(ev.items[2]!.event_data).toMatchObject({ from: 'running', to: 'completed', version: 3 });
  });

  it('refuses transitions the state machine forbids', async () => {
    const { pool, schema } = db();
    const job = await newJob(db());
    await expect(
      setJobStatus(pool, schema, { jobId: job.job_id, from: ['completed'], to: 'running' }),
    ).rejects.toMatchObject({
      code: 'INVALID_TRANSITION',
    });
  });

  it('truncates a long error message instead of failing', async () => {
    const { pool, schema } = db();
    const job = await newJob(db());
    const r = await setJobStatus(pool, schema, {
      jobId: job.job_id,
      from: ['pending'],
      to: 'failed',
      errorMessage: '🦀'.repeat(3000),
    });
    expect(r.kind).toBe('applied');
    if (r.kind === 'applied') expect(r.job.error_message!.length).toBeLessThanOrEqual(2000);
  });
});

describe('listJobs', () => {
  it('lists newest first with an opaque keyset cursor and filters', async () => {
    const { pool, schema } = db();
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const j = await newJob(db(), { workflowId: i % 2 ? 'odd' : 'even', correlationId: i < 3 ? 'c' : null });
      ids.push(j.job_id);
    }
    // Same-transaction timestamps: several jobs in one statement share created_at; the id breaks ties.
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await listJobs(pool, schema, { limit: 3, ...(cursor ? { cursor } : {}) });
      expect(page.items.length).toBeLessThanOrEqual(3);
      seen.push(...page.items.map((j) => j.job_id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
    expect((await listJobs(pool, schema, { workflowId: 'odd' })).items).toHaveLength(3);
    expect((await listJobs(pool, schema, { correlationId: 'c' })).items).toHaveLength(3);
    expect((await listJobs(pool, schema, { status: ['pending', 'running'] })).items).toHaveLength(7);
    expect((await listJobs(pool, schema, { status: 'completed' })).items).toHaveLength(0);
    expect('workflow_snapshot' in (await listJobs(pool, schema)).items[0]!).toBe(false);
  });

  it('filters by creation time: createdAfter inclusive, createdBefore exclusive', async () => {
    const { pool, schema } = db();
    const jobs = [];
    for (let i = 0; i < 3; i++) jobs.push(await newJob(db(), {}));
    // Spread them over three days (the app's login may not update created_at: the administrator does).
    const admin = db().adminPool;
    for (const [i, j] of jobs.entries()) {
      await admin.query(
        `UPDATE "${schema}".dag_jobs SET created_at = '2026-01-0${i + 1}T12:00:00Z' WHERE job_id = $1`,
        [j.job_id],
      );
    }
    const ids = async (input: { createdAfter?: Date; createdBefore?: Date }) =>
      (await listJobs(pool, schema, input)).items.map((j) => j.job_id);
    expect(await ids({ createdAfter: new Date('2026-01-02T12:00:00Z') })).toEqual([
      jobs[2]!.job_id,
      jobs[1]!.job_id,
    ]);
    expect(await ids({ createdBefore: new Date('2026-01-02T12:00:00Z') })).toEqual([jobs[0]!.job_id]);
    expect(
      await ids({
        createdAfter: new Date('2026-01-01T00:00:00Z'),
        createdBefore: new Date('2026-01-03T00:00:00Z'),
      }),
    ).toEqual([jobs[1]!.job_id, jobs[0]!.job_id]);
    expect(await ids({ createdAfter: new Date('2027-01-01T00:00:00Z') })).toEqual([]);
  });

  it('pages correctly when many jobs share one created_at', async () => {
    const { pool, schema } = db();
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      for (let i = 0; i < 5; i++) await createJob(client, schema, jobInput());
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    const all: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await listJobs(pool, schema, { limit: 2, ...(cursor ? { cursor } : {}) });
      all.push(...page.items.map((j) => j.job_id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(all).toHaveLength(5);
    expect(new Set(all).size).toBe(5);
  });

  it('rejects a forged cursor and a limit above 500', async () => {
    const { pool, schema } = db();
    await expect(listJobs(pool, schema, { cursor: 'not-a-cursor' })).rejects.toMatchObject({
      code: 'VALIDATION',
      field: 'cursor',
    });
    await expect(listJobs(pool, schema, { limit: 501 })).rejects.toMatchObject({
      code: 'VALIDATION',
      field: 'limit',
      limit: 500,
    });
  });
});

describe('cancel, summary, rerun, retention', () => {
  it('records a cancel request once and reports terminal jobs', async () => {
    const { pool, schema } = db();
    const job = await newJob(db());
    const r1 = await requestCancel(pool, schema, { jobId: job.job_id, reason: 'user' });
    expect(r1.kind).toBe('requested');
    if (r1.kind === 'requested') expect(r1.job.cancel_requested_at).toBeInstanceOf(Date);
    expect((await requestCancel(pool, schema, { jobId: job.job_id })).kind).toBe('already_requested');
    await setJobStatus(pool, schema, { jobId: job.job_id, from: ['pending'], to: 'cancelled' });
    expect((await requestCancel(pool, schema, { jobId: job.job_id })).kind).toBe('terminal');
    expect((await requestCancel(pool, schema, { jobId: 'missing' })).kind).toBe('not_found');
  });

  it('counts nodes by status', async () => {
    const { pool, schema } = db();
    const job = await newJob(db());
    expect(await nodeSummary(pool, schema, job.job_id)).toEqual({
      pending: 4,
      ready: 1,
      dispatched: 0,
      running: 0,
      completed: 0,
      failed: 0,
      skipped: 0,
      total: 5,
    });
  });

  it('reruns a failed job: failed and upstream-skipped nodes go back to pending with a new attempt', async () => {
    const { pool, schema } = db();
    const job = await newJob(db());
    const id = job.job_id;
    await setJobStatus(pool, schema, { jobId: id, from: ['pending'], to: 'running' });
    await transitionNode(pool, schema, {
      jobId: id,
      nodeId: 'start',
      from: ['ready'],
      to: 'completed',
      set: { output: { ok: true } },
    });
    await transitionNode(pool, schema, { jobId: id, nodeId: 'work', from: ['pending'], to: 'ready' });
    await transitionNode(pool, schema, { jobId: id, nodeId: 'work', from: ['ready'], to: 'dispatched' });
    await transitionNode(pool, schema, {
      jobId: id,
      nodeId: 'work',
      from: ['dispatched'],
      to: 'failed',
      set: { errorMessage: 'boom' },
    });
    for (const n of ['fan', 'gather', 'end']) {
      await transitionNode(pool, schema, {
        jobId: id,
        nodeId: n,
        from: ['pending'],
        to: 'skipped',
        set: { skipReason: 'upstream_failed' },
      });
    }
    expect((await rerunJob(pool, schema, { jobId: id })).kind).toBe('conflict'); // still running
    await setJobStatus(pool, schema, { jobId: id, from: ['running'], to: 'failed', errorMessage: 'boom' });
    const r = await rerunJob(pool, schema, { jobId: id });
    expect(r.kind).toBe('applied');
    if (r.kind !== 'applied') return;
    expect(r.job).toMatchObject({ status: 'running', run_count: 2, error_message: null, completed_at: null });
    expect(r.resetCount).toBe(4);
    expect(r.staticNodeIds).toEqual(['end', 'fan', 'gather', 'work']);
    const nodes = Object.fromEntries((await listNodes(pool, schema, id)).items.map((n) => [n.node_id, n]));
    expect(nodes.start).toMatchObject({ status: 'completed', output: { ok: true } });
    expect(nodes.work).toMatchObject({
      status: 'pending',
      attempt: 1,
      first_attempt: 1,
      task_id: null,
      error_message: null,
    });
    expect(nodes.end).toMatchObject({ status: 'pending', attempt: 0, skip_reason: null });
    const ev = await listEvents(pool, schema, id, { type: 'job_rerun' });
    expect(ev.items[0]!.event_data).toMatchObject({ run_count: 2, reset_count: 4 });
  });

  it('deletes ended jobs with everything that belongs to them', async () => {
    const { pool, schema } = db();
    const a = await newJob(db());
    const b = await newJob(db());
    await setJobStatus(pool, schema, { jobId: a.job_id, from: ['pending'], to: 'completed' });
    const r = await deleteJobs(pool, schema, { completedBefore: new Date(Date.now() + 60_000) });
    expect(r.deleted).toBe(1);
    expect(await getJob(pool, schema, a.job_id)).toBeNull();
    expect(await getJob(pool, schema, b.job_id)).not.toBeNull();
    const left = await pool.query(
      `SELECT count(*)::int AS n FROM "${schema}".dag_node_states WHERE job_id = $1`,
      [a.job_id],
    );
    expect(left.rows[0].n).toBe(0);
    await expect(
      deleteJobs(pool, schema, { completedBefore: new Date(), statuses: ['running'] }),
    ).rejects.toBeInstanceOf(DbError);
  });
});

describe('createDagStore', () => {
  it('binds every repository to one pool and schema', async () => {
    const { pool, schema } = db();
    const store = createDagStore(pool, schema);
    const { job } = await store.createJob(jobInput());
    expect((await store.getJob(job.job_id))!.job_id).toBe(job.job_id);
    expect((await store.nodeSummary(job.job_id)).total).toBe(5);
    expect(await store.tryWithLock('sweeper', async () => 'ran')).toEqual({ acquired: true, result: 'ran' });
  });
});
