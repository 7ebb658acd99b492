// POST /api/handlers/{name}/test (the original's POST /api/v1/test/handler/{name}): runs one handler
// through the normal execution path — a one-task job (start → test → end) with the given params,
// placed and run like any other (activity or container queue), no retries — and answers with the
// original's {success, handler, output, error_message, duration_ms, test_id}. Off unless
// DAG_ENABLE_HANDLER_TESTING=true, and behind the admin key.
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { dump } from 'js-yaml';
import { durableClient } from './durableClient';
import { z } from 'zod';
import { AppError } from './appError';
import { loadWorkflow } from '../dag/loadWorkflow';
import { didYouMean } from '../dag/suggest';
import { createJob, getJob } from '../db';
import { json, param, parseBody } from './http';
import { ensureOrchestration, jobLinks, nodeSpecs } from './jobService';
import { services } from './services';
import { listNodes } from '../db';

const TestBody = z.strictObject({
  params: z.record(z.string(), z.unknown()).default({}),
  timeout_seconds: z.int().min(1).max(86400).optional(),
  queue: z.string().min(1).max(63).optional(),
  /** How long to wait for the result before answering 202 with the job's links (default 60 s). */
  wait_seconds: z.int().min(0).max(300).default(60),
});

export async function postHandlerTest(
  req: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const s = services();
  if (!s.config.DAG_ENABLE_HANDLER_TESTING)
    throw new AppError(
      'FORBIDDEN',
      'Handler testing is off: set DAG_ENABLE_HANDLER_TESTING=true to enable it.',
    );
  const name = param(req, 'name', 64);
  const b = await parseBody(req, TestBody);
  if (!s.registry.get(name)) {
    const hint = didYouMean(name, s.registry.names());
    throw new AppError(
      'NOT_FOUND',
      `Handler "${name}" is not registered${hint ? ` (${hint})` : ''}; GET /api/handlers lists them.`,
    );
  }
  await s.ready();
  const definition = {
    workflow_id: 'handler_test',
    name: `Handler test: ${name}`,
    nodes: {
      start: { type: 'start', next: 'test' },
      test: {
        type: 'task',
        handler: name,
        params: b.params,
        retry: { max_attempts: 0 },
        ...(b.timeout_seconds ? { timeout_seconds: b.timeout_seconds } : {}),
        ...(b.queue ? { queue: b.queue } : {}),
        next: 'end',
      },
      end: { type: 'end' },
    },
  };
  const loaded = loadWorkflow(dump(definition), undefined, {
    handlers: s.registry.catalog(),
    activityQueues: s.queueConfig.activityQueues,
    defaultContainerQueue: s.queueConfig.defaultContainerQueue,
  });
  if (!loaded.workflow || !loaded.plan) {
    throw new AppError(
      'VALIDATION',
      `The test cannot run: ${loaded.issues.map((i) => i.message).join('; ')}`,
      loaded.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    );
  }
  const started = Date.now();
  const r = await createJob(s.pool, s.schema, {
    workflowId: loaded.workflow.workflow_id,
    workflowVersion: loaded.workflow.version,
    workflowSnapshot: loaded.workflow as unknown as Record<string, unknown>,
    inputParams: {},
    idempotencyKey: null,
    correlationId: null,
    submittedBy: 'handler-test',
    nodes: nodeSpecs(loaded.workflow),
    sourceApp: 'functionapp',
  });
  await ensureOrchestration(durableClient(context), r.job, { created: r.created });
  const jobId = r.job.job_id;
  const until = started + b.wait_seconds * 1000;
  for (;;) {
    const job = await getJob(s.pool, s.schema, jobId);
    if (job && ['completed', 'failed', 'cancelled'].includes(job.status)) {
      const node = (await listNodes(s.pool, s.schema, jobId, { limit: 10 })).items.find(
        (n) => n.node_id === 'test',
      );
      return json(200, {
        success: job.status === 'completed',
        handler: name,
        output: node?.output ?? null,
        error_message: node?.error_message ?? job.error_message ?? null,
        duration_ms: Date.now() - started,
        test_id: jobId,
        job_id: jobId,
        links: jobLinks(jobId),
      });
    }
    if (Date.now() >= until) {
      return json(202, {
        success: null,
        handler: name,
        test_id: jobId,
        job_id: jobId,
        status: job?.status ?? 'pending',
        links: jobLinks(jobId),
      });
    }
    await new Promise((res) => setTimeout(res, 200));
  }
}
