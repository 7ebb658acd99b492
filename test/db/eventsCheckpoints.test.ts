import { describe, expect, it } from 'vitest';
import {
  appendEvent,
  appendEvents,
  getLatestCheckpoint,
  invalidateCheckpoints,
  listEvents,
  saveCheckpoint,
  transitionNode,
  DbValidationError,
} from '../../db';
import { newJob, useDeployedSchema } from './helpers';

const db = useDeployedSchema();

describe('events', () => {
  it('appends single and batch events and lists them oldest first with a keyset cursor', async () => {
    const { pool, schema } = db();
    const job = await newJob(db());
    const one = await appendEvent(pool, schema, {
      jobId: job.job_id,
      type: 'node_started',
      nodeId: 'work',
      data: { x: 1 },
      durationMs: 12.6,
    });
    expect(one).toMatchObject({
      event_type: 'node_started',
      event_status: 'info',
      event_data: { x: 1 },
      duration_ms: 13,
    });
    expect(typeof one.event_id).toBe('number');
    const many = await appendEvents(
      pool,
      schema,
      Array.from({ length: 20 }, (_, i) => ({
        jobId: job.job_id,
        type: 'node_ready' as const,
        nodeId: `n${i}`,
        status: 'success' as const,
      })),
    );
    expect(many.map((e) => e.node_id)).toEqual(Array.from({ length: 20 }, (_, i) => `n${i}`));
    const ids: number[] = [];
    let cursor: string | undefined;
    do {
      const page = await listEvents(pool, schema, job.job_id, { limit: 6, ...(cursor ? { cursor } : {}) });
      ids.push(...page.items.map((e) => e.event_id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(ids).toHaveLength(22); // job_created + 1 + 20
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    expect(
      (await listEvents(pool, schema, job.job_id, { type: ['node_started', 'job_created'] })).items,
    ).toHaveLength(2);
    expect((await listEvents(pool, schema, job.job_id, { nodeId: 'n3' })).items).toHaveLength(1);
  });

  it('rejects an unknown event type, a non-object data, and a bad cursor', async () => {
    const { pool, schema } = db();
    const job = await newJob(db());
    await expect(
      appendEvent(pool, schema, { jobId: job.job_id, type: 'nope' as never }),
    ).rejects.toBeInstanceOf(DbValidationError);
    await expect(
      appendEvent(pool, schema, { jobId: job.job_id, type: 'node_ready', data: [1] as never }),
    ).rejects.toBeInstanceOf(DbValidationError);
    await expect(listEvents(pool, schema, job.job_id, { cursor: 'eyJlIjotMX0' })).rejects.toMatchObject({
      field: 'cursor',
    });
  });

  it('an event for a job that does not exist is a typed error, not a raw database error', async () => {
    const { pool, schema } = db();
    await expect(appendEvent(pool, schema, { jobId: 'missing', type: 'node_ready' })).rejects.toMatchObject({
      code: 'CONFLICT',
    });
  });
});

describe('checkpoints', () => {
  it('saves, returns the latest valid one, invalidates, and writes checkpoint_saved', async () => {
    const { pool, schema } = db();
    const job = await newJob(db());
    const id = job.job_id;
    await transitionNode(pool, schema, { jobId: id, nodeId: 'work', from: ['pending'], to: 'dispatched' });
    const taskId = `${id}_work_0`;
    expect(await getLatestCheckpoint(pool, schema, { jobId: id, nodeId: 'work' })).toBeNull();
    const a = await saveCheckpoint(pool, schema, {
      jobId: id,
      nodeId: 'work',
      taskId,
      phaseName: 'download',
      phaseIndex: 0,
      totalPhases: 3,
      stateData: { step: 1 },
    });
    const b = await saveCheckpoint(pool, schema, {
      jobId: id,
      nodeId: 'work',
      taskId,
      phaseName: 'convert',
      phaseIndex: 1,
      totalPhases: 3,
      progressCurrent: 5,
      progressTotal: 10,
      progressMessage: 'half',
      stateData: [{ step: 2 }],
    });
    expect(a.kind).toBe('saved');
    expect(b).toMatchObject({ kind: 'saved', checkpoint: { attempt: 0, task_id: taskId, is_valid: true } });
    expect(await getLatestCheckpoint(pool, schema, { jobId: id, nodeId: 'work' })).toMatchObject({
      phase_name: 'convert',
      state_data: [{ step: 2 }],
    });
    if (b.kind !== 'saved') return;
    expect(
      await invalidateCheckpoints(pool, schema, {
        jobId: id,
        nodeId: 'work',
        checkpointId: b.checkpoint.checkpoint_id,
      }),
    ).toBe(1);
    expect(await getLatestCheckpoint(pool, schema, { jobId: id, nodeId: 'work' })).toMatchObject({
      phase_name: 'download',
    });
    expect(await invalidateCheckpoints(pool, schema, { jobId: id, nodeId: 'work' })).toBe(1);
    expect(await getLatestCheckpoint(pool, schema, { jobId: id, nodeId: 'work' })).toBeNull();
    const ev = await listEvents(pool, schema, id, { type: 'checkpoint_saved' });
    expect(ev.items.map((e) => e.event_data.phase_name)).toEqual(['download', 'convert']);
    await expect(
      invalidateCheckpoints(pool, schema, { jobId: id, nodeId: 'work', checkpointId: 'x' }),
    ).rejects.toBeInstanceOf(DbValidationError);
  });

  it('refuses a save from an attempt that is no longer current, and reports an unknown node', async () => {
    const { pool, schema } = db();
    const job = await newJob(db());
    await transitionNode(pool, schema, {
      jobId: job.job_id,
      nodeId: 'work',
      from: ['pending'],
      to: 'dispatched',
    });
    expect(
      await saveCheckpoint(pool, schema, {
        jobId: job.job_id,
        nodeId: 'work',
        taskId: 'old_task',
        phaseName: 'p',
      }),
    ).toEqual({ kind: 'stale' });
    expect(
      await saveCheckpoint(pool, schema, { jobId: job.job_id, nodeId: 'ghost', phaseName: 'p' }),
    ).toEqual({ kind: 'not_found' });
    expect(await getLatestCheckpoint(pool, schema, { jobId: job.job_id, nodeId: 'work' })).toBeNull();
  });
});
