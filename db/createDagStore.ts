// The repositories bound to one pool (or client) and one schema, for callers that do not want to pass
// (db, schema) on every call: `const store = createDagStore(pool, config.schema); await store.getJob(id)`.
import { acquireSessionLock, tryWithAdvisoryLock, withAdvisoryLock } from './advisoryLock';
import { getLatestCheckpoint, invalidateCheckpoints, saveCheckpoint } from './checkpointRepository';
import { appendEvent, appendEvents, listEvents } from './eventRepository';
import { childSummary, insertFanOutChildren, readChildOutputs, streamChildOutputs } from './fanOutRepository';
import { createJob, deleteJobs, requestCancel, rerunJob, setJobStatus } from './jobCommands';
import { getJob, listJobs, nodeSummary } from './jobQueries';
import {
  applyNodeTransitions,
  getNode,
  getNodeOutputs,
  listNodes,
  listOverdueNodes,
  transitionNode,
} from './nodeRepository';
import { type Queryable } from './queryable';
import {
  listTaskResults,
  markTaskStarted,
  recordHeartbeat,
  recordTaskResult,
  recordTaskResults,
} from './taskResultRepository';
import type pg from 'pg';

type Bound<F> = F extends (db: Queryable, schema: string, ...rest: infer A) => infer R
  ? (...args: A) => R
  : never;

function bind<F extends (db: Queryable, schema: string, ...rest: never[]) => unknown>(
  f: F,
  db: Queryable,
  schema: string,
): Bound<F> {
  return ((...args: never[]) => f(db, schema, ...args)) as Bound<F>;
}

export function createDagStore(db: Queryable, schema: string) {
  const b = <F extends (db: Queryable, schema: string, ...rest: never[]) => unknown>(f: F) =>
    bind(f, db, schema);
  return {
    db,
    schema,
    createJob: b(createJob),
    getJob: b(getJob),
    listJobs: b(listJobs),
    setJobStatus: b(setJobStatus),
    requestCancel: b(requestCancel),
    nodeSummary: b(nodeSummary),
    rerunJob: b(rerunJob),
    deleteJobs: b(deleteJobs),
    transitionNode: b(transitionNode),
    applyNodeTransitions: b(applyNodeTransitions),
    getNode: b(getNode),
    listNodes: b(listNodes),
    getNodeOutputs: b(getNodeOutputs),
    listOverdueNodes: b(listOverdueNodes),
    insertFanOutChildren: b(insertFanOutChildren),
    readChildOutputs: b(readChildOutputs),
    streamChildOutputs: b(streamChildOutputs),
    childSummary: b(childSummary),
    recordTaskResult: b(recordTaskResult),
    recordTaskResults: b(recordTaskResults),
    markTaskStarted: b(markTaskStarted),
    recordHeartbeat: b(recordHeartbeat),
    listTaskResults: b(listTaskResults),
    appendEvent: b(appendEvent),
    appendEvents: b(appendEvents),
    listEvents: b(listEvents),
    saveCheckpoint: b(saveCheckpoint),
    getLatestCheckpoint: b(getLatestCheckpoint),
    invalidateCheckpoints: b(invalidateCheckpoints),
    /** Transaction-level advisory lock; the key is namespaced with the schema. */
    withLock: <T>(key: string, fn: (tx: pg.PoolClient | pg.Client) => Promise<T>) =>
      withAdvisoryLock(db, `${schema}:${key}`, fn),
    tryWithLock: <T>(key: string, fn: (tx: pg.PoolClient | pg.Client) => Promise<T>) =>
      tryWithAdvisoryLock(db, `${schema}:${key}`, fn),
    /** Session-level lock for long-lived singletons; needs a pool. */
    acquireSessionLock: (key: string) => acquireSessionLock(db as pg.Pool, `${schema}:${key}`),
  };
}

export type DagStore = ReturnType<typeof createDagStore>;
