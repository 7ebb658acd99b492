// The render worker (a worker thread started by templateWorkerPool.ts): evaluates one node's templates
// per message with the full per-node limits and sends the result back. It shares nothing with the
// main thread but the messages, so a render here never blocks HTTP, timers or leases there.
import { parentPort } from 'node:worker_threads';
import { evaluateNodeTemplates } from '../dag/evaluateNode';
import { TemplateBudget } from '../dag/templateBudget';
import type { RenderReply, RenderMessage } from './templateWorkerPool';

const port = parentPort;
if (!port) throw new Error('activities/templateWorker runs in a worker thread (see templateWorkerPool.ts)');

port.on('message', (m: RenderMessage) => {
  let reply: RenderReply;
  try {
    const budget = new TemplateBudget(m.limits);
    const result = evaluateNodeTemplates(m.plan, m.kind, m.nodeId, m.ctx, budget);
    reply = { type: 'result', id: m.id, result };
  } catch (err) {
    reply = { type: 'error', id: m.id, message: err instanceof Error ? err.message : String(err) };
  }
  try {
    port.postMessage(reply);
  } catch (err) {
    port.postMessage({
      type: 'error',
      id: m.id,
      message: `the result could not be sent back: ${err instanceof Error ? err.message : String(err)}`,
    } satisfies RenderReply);
  }
});
port.postMessage({ type: 'ready' } satisfies RenderReply);
