// A handler's context for calling a handler directly in a unit test: ids of a job "j", node "n",
// checkpoints saved into the returned array, a signal that never fires, a silent log.
import type { Checkpoint, HandlerContext } from '../../handlers/handlerTypes';

export function handlerContext(over: Partial<HandlerContext> = {}): {
  c: HandlerContext;
  saved: Checkpoint[];
} {
  const saved: Checkpoint[] = [];
  const c: HandlerContext = {
    jobId: 'j',
    nodeId: 'n',
    taskId: 'j_n_0',
    attempt: 0,
    saveCheckpoint: async (phase, state) => {
      saved.push({ phase, state });
    },
    progress: async () => undefined,
    signal: new AbortController().signal,
    log: { info: () => undefined, warn: () => undefined, error: () => undefined },
    ...over,
  };
  return { c, saved };
}
