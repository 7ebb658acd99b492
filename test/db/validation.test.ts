import { describe, expect, it } from 'vitest';
import {
  appendEvent,
  createJob,
  getJob,
  getLatestCheckpoint,
  getNode,
  insertFanOutChildren,
  listEvents,
  listTaskResults,
  recordTaskResult,
  saveCheckpoint,
  setJobStatus,
  transitionNode,
  DbValidationError,
} from '../../db';
import { jobInput, NASTY_STRINGS, newJob, useDeployedSchema } from './helpers';

const db = useDeployedSchema();

describe('hostile and unusual strings are data', () => {
  it('round-trips SQL-injection strings and unusual Unicode through every text and JSON field', async () => {
    const { pool, schema } = db();
    for (const [i, s] of NASTY_STRINGS.entries()) {
      const jobId = `${i}:${s}`.slice(0, 64);
      const nodeId = `n${i}${s}`.slice(0, 64);
      const jsonDoc = { [s]: [s, { [s]: s }], n: i };
      const { job, created } = await createJob(pool, schema, {
        ...jobInput(),
        jobId,
        workflowId: s.slice(0, 64),
        idempotencyKey: `k${i}${s}`,
        correlationId: s.slice(0, 64),
        submittedBy: s.slice(0, 64),
        inputParams: jsonDoc,
        metadata: jsonDoc,
        workflowSnapshot: jsonDoc,
        nodes: [{ nodeId, nodeType: 'task' }],
        sourceApp: s.slice(0, 64),
      });
      expect(created).toBe(true);
      expect(job).toMatchObject({
        job_id: jobId,
        workflow_id: s.slice(0, 64),
        idempotency_key: `k${i}${s}`,
        correlation_id: s.slice(0, 64),
        submitted_by: s.slice(0, 64),
        input_params: jsonDoc,
        metadata: jsonDoc,
        workflow_snapshot: jsonDoc,
      });

      const taskId = `t${i}${s}`;
      const d = await transitionNode(pool, schema, {
        jobId,
        nodeId,
        from: ['pending'],
        to: 'dispatched',
        set: { taskId, inputParams: jsonDoc, workerId: s, progress: [s] },
      });
      expect(d).toMatchObject({
        kind: 'applied',
        node: { task_id: taskId, input_params: jsonDoc, worker_id: s, progress: [s] },
      });
      const cp = await saveCheckpoint(pool, schema, {
        jobId,
        nodeId,
        taskId,
        phaseName: s.slice(0, 64),
        progressMessage: s,
        stateData: jsonDoc,
        sourceApp: s.slice(0, 64),
      });
      expect(cp.kind).toBe('saved');
      expect(await getLatestCheckpoint(pool, schema, { jobId, nodeId })).toMatchObject({
        phase_name: s.slice(0, 64),
        progress_message: s,
        state_data: jsonDoc,
        task_id: taskId,
      });
      const r = await recordTaskResult(pool, schema, {
        taskId,
        jobId,
        nodeId,
        attempt: 0,
        status: 'failed',
        errorMessage: s,
        workerId: s,
        output: jsonDoc,
        retryable: false,
      });
      expect(r).toMatchObject({ kind: 'applied', node: { error_message: s, status: 'failed' } });
      expect((await listTaskResults(pool, schema, { jobId, nodeId }))[0]).toMatchObject({
        error_message: s,
        worker_id: s,
        output: jsonDoc,
      });
      const ev = await appendEvent(pool, schema, {
        jobId,
        nodeId,
        taskId,
        type: 'node_started',
        data: jsonDoc,
        errorMessage: s,
        sourceApp: s.slice(0, 64),
      });
      expect(ev).toMatchObject({
        node_id: nodeId,
        task_id: taskId,
        event_data: jsonDoc,
        error_message: s,
        source_app: s.slice(0, 64),
      });
      const fin = await setJobStatus(pool, schema, {
        jobId,
        from: ['pending'],
        to: 'failed',
        errorMessage: s,
        resultData: jsonDoc,
      });
      expect(fin).toMatchObject({ kind: 'applied', job: { error_message: s, result_data: jsonDoc } });
      const events = await listEvents(pool, schema, jobId);
      expect(events.items.length).toBeGreaterThanOrEqual(5);
      expect(events.items.every((e) => e.job_id === jobId)).toBe(true);
    }
    // The tables are intact and hold exactly what was written.
    const n = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".dag_jobs`);
    expect(n.rows[0].n).toBe(NASTY_STRINGS.length);
  });

  it('round-trips a fan-out parent id and child params with hostile content', async () => {
    const { pool, schema } = db();
    const job = await newJob(db());
    const parent = "f'); --🦀";
    await insertFanOutChildren(pool, schema, {
      jobId: job.job_id,
      parentNodeId: parent,
      children: NASTY_STRINGS.map((s, index) => ({ index, inputParams: { s, list: [s] } })),
      maxRetries: 1,
    });
    for (const [i, s] of NASTY_STRINGS.entries()) {
      expect(await getNode(pool, schema, job.job_id, `${parent}__${i}`)).toMatchObject({
        parent_node_id: parent,
        input_params: { s, list: [s] },
      });
    }
  });
});

describe('over-long and unstorable values are validation errors, not database errors', () => {
  const cases: Array<
    [string, string, number, (t: ReturnType<typeof db>, jobId: string) => Promise<unknown>]
  > = [
    [
      'createJob.jobId',
      'job_id',
      64,
      (t) => createJob(t.pool, t.schema, jobInput({ jobId: 'j'.repeat(65) })),
    ],
    [
      'createJob.workflowId',
      'workflow_id',
      64,
      (t) => createJob(t.pool, t.schema, jobInput({ workflowId: 'w'.repeat(65) })),
    ],
    [
      'createJob.idempotencyKey',
      'idempotency_key',
      128,
      (t) => createJob(t.pool, t.schema, jobInput({ idempotencyKey: 'k'.repeat(129) })),
    ],
    [
      'createJob.correlationId',
      'correlation_id',
      64,
      (t) => createJob(t.pool, t.schema, jobInput({ correlationId: 'c'.repeat(65) })),
    ],
    [
      'createJob.submittedBy',
      'submitted_by',
      64,
      (t) => createJob(t.pool, t.schema, jobInput({ submittedBy: 's'.repeat(65) })),
    ],
    [
      'createJob.nodes',
      'nodes[0].node_id',
      140,
      (t) =>
        createJob(t.pool, t.schema, jobInput({ nodes: [{ nodeId: 'n'.repeat(141), nodeType: 'task' }] })),
    ],
    [
      'transitionNode.taskId',
      'transitions[0].task_id',
      200,
      (t, jobId) =>
        transitionNode(t.pool, t.schema, {
          jobId,
          nodeId: 'work',
          from: ['pending'],
          to: 'dispatched',
          set: { taskId: 't'.repeat(201) },
        }),
    ],
    [
      'transitionNode.workerId',
      'transitions[0].worker_id',
      128,
      (t, jobId) =>
        transitionNode(t.pool, t.schema, {
          jobId,
          nodeId: 'work',
          from: ['pending'],
          to: 'running',
          set: { workerId: 'w'.repeat(129) },
        }),
    ],
    [
      'recordTaskResult.taskId',
      'results[0].task_id',
      200,
      (t, jobId) =>
        recordTaskResult(t.pool, t.schema, {
          taskId: 't'.repeat(201),
          jobId,
          nodeId: 'work',
          attempt: 0,
          status: 'completed',
        }),
    ],
    [
      'recordTaskResult.workerId',
      'results[0].worker_id',
      128,
      (t, jobId) =>
        recordTaskResult(t.pool, t.schema, {
          taskId: 't',
          jobId,
          nodeId: 'work',
          attempt: 0,
          status: 'completed',
          workerId: 'w'.repeat(129),
        }),
    ],
    [
      'appendEvent.sourceApp',
      'events[0].source_app',
      64,
      (t, jobId) => appendEvent(t.pool, t.schema, { jobId, type: 'node_started', sourceApp: 'a'.repeat(65) }),
    ],
    [
      'saveCheckpoint.phaseName',
      'phase_name',
      64,
      (t, jobId) => saveCheckpoint(t.pool, t.schema, { jobId, nodeId: 'work', phaseName: 'p'.repeat(65) }),
    ],
    [
      'saveCheckpoint.progressMessage',
      'progress_message',
      256,
      (t, jobId) =>
        saveCheckpoint(t.pool, t.schema, {
          jobId,
          nodeId: 'work',
          phaseName: 'p',
          progressMessage: 'm'.repeat(257),
        }),
    ],
    [
      'insertFanOutChildren.parentNodeId',
      'parent_node_id',
      64,
      (t, jobId) =>
        insertFanOutChildren(t.pool, t.schema, {
          jobId,
          parentNodeId: 'f'.repeat(65),
          children: [{ index: 0, inputParams: {} }],
          maxRetries: 0,
        }),
    ],
  ];

  it.each(cases)('%s over its limit names the field and the limit', async (_name, field, limit, call) => {
    const t = db();
    const job = await newJob(t);
    const err = await call(t, job.job_id).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DbValidationError);
    expect(err).toMatchObject({ code: 'VALIDATION', field, limit });
    expect((err as Error).message).toContain(String(limit));
    // Nothing was written.
    expect((await getJob(t.pool, t.schema, job.job_id))!.version).toBe(1);
  });

  it('a value exactly at the limit is accepted; limits count code points like varchar(n)', async () => {
    const t = db();
    const r = await createJob(
      t.pool,
      t.schema,
      jobInput({ idempotencyKey: 'k'.repeat(128), correlationId: '🦀'.repeat(64) }),
    );
    expect(r.job.idempotency_key).toHaveLength(128);
    await expect(
      createJob(t.pool, t.schema, jobInput({ correlationId: '🦀'.repeat(65) })),
    ).rejects.toBeInstanceOf(DbValidationError);
  });

  it('NUL characters and lone surrogates are rejected in text and JSON', async () => {
    const t = db();
    await expect(createJob(t.pool, t.schema, jobInput({ correlationId: 'a\u0000b' }))).rejects.toMatchObject({
      code: 'VALIDATION',
      field: 'correlation_id',
    });
    await expect(createJob(t.pool, t.schema, jobInput({ submittedBy: 'x\uD800y' }))).rejects.toBeInstanceOf(
      DbValidationError,
    );
    await expect(
      createJob(t.pool, t.schema, jobInput({ inputParams: { k: 'a\u0000' } })),
    ).rejects.toMatchObject({ field: 'input_params' });
    await expect(
      createJob(t.pool, t.schema, jobInput({ inputParams: { ['\uDC00']: 1 } })),
    ).rejects.toBeInstanceOf(DbValidationError);
  });
});
