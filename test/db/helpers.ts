// Shared setup for db tests: a fresh schema per test (test/support/pg.ts), migrated as in production,
// the repositories connected as the app's non-admin login.
import { useMigratedSchema, type TestSchema } from '../support/pg';
import { createJob, setJobStatus, transitionNode, type CreateJobInput, type NodeSpec } from '../../db';

export function useDeployedSchema(): () => TestSchema {
  return useMigratedSchema('db');
}

export const SNAPSHOT = { workflow_id: 'wf', version: 1, nodes: { start: { type: 'start' } } };

export const STD_NODES: NodeSpec[] = [
  { nodeId: 'start', nodeType: 'start', maxRetries: 0, status: 'ready' },
  { nodeId: 'work', nodeType: 'task', maxRetries: 2 },
  { nodeId: 'fan', nodeType: 'fan_out', maxRetries: 0 },
  { nodeId: 'gather', nodeType: 'fan_in', maxRetries: 0 },
  { nodeId: 'end', nodeType: 'end', maxRetries: 0 },
];

export function jobInput(over: Partial<CreateJobInput> = {}): CreateJobInput {
  return {
    workflowId: 'wf',
    workflowVersion: 1,
    workflowSnapshot: SNAPSHOT,
    inputParams: { a: 1 },
    nodes: STD_NODES,
    ...over,
  };
}

export async function newJob(t: TestSchema, over: Partial<CreateJobInput> = {}) {
  const r = await createJob(t.pool, t.schema, jobInput(over));
  return r.job;
}

/** Strings that must be stored as data: SQL injection attempts, quoting characters and unusual Unicode. */
export const NASTY_STRINGS = [
  "'; DROP TABLE dag_jobs; --",
  "Robert'); DELETE FROM dag_node_states WHERE ('1'='1",
  '" OR ""="',
  '$1 $2 $$ $tag$ ::jsonb',
  "\\ \\\\ \\x00 \\u0000 E'\\n'",
  '%s %d _ % LIKE',
  'emoji 🦀🚀👩‍👩‍👧 flags 🇫🇷',
  'RTL \u202Eevil\u202C عربى עברית',
  'combining e\u0301 a\u0308 zero\u200Bwidth \uFEFFBOM',
  'line\nbreak\ttab\r\u2028\u2029',
  '\uFFFF \uFFFD 𝔘𝔫𝔦𝔠𝔬𝔡𝔢',
  '{"json": [1, 2]}',
  '(SELECT pg_sleep(10))',
];

/** A running job (its `work` node pending at attempt 0); returns its id. */
export async function runningJob(t: TestSchema): Promise<string> {
  const job = await newJob(t);
  await setJobStatus(t.pool, t.schema, { jobId: job.job_id, from: ['pending'], to: 'running' });
  return job.job_id;
}

/** A job (running, unless `pending`) whose `work` node is dispatched at attempt 0, with that task id. */
export async function dispatchedWork(t: TestSchema, o: { pending?: boolean } = {}) {
  const jobId = o.pending ? (await newJob(t)).job_id : await runningJob(t);
  const r = await transitionNode(t.pool, t.schema, {
    jobId,
    nodeId: 'work',
    from: ['pending'],
    to: 'dispatched',
  });
  if (r.kind !== 'applied') throw new Error('setup: the work node could not be dispatched');
  return { jobId, taskId: r.node.task_id! };
}
