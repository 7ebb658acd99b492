// The worker's queue clients: a queue the deployment declared and the worker's identity may only send
// to (403 on create) is used as is; other errors are not swallowed. Azure RBAC cannot run here, so the
// queue service is a stub at the narrowest seam (the SDK client's createIfNotExists).
import type { QueueServiceClient } from '@azure/storage-queue';
import { describe, expect, it } from 'vitest';
import { QueueDirectory } from '../../lib/io/queueDirectory';

function service(fail: unknown) {
  const calls: string[] = [];
  const svc = {
    getQueueClient: (name: string) => ({
      name,
      createIfNotExists: () => {
        calls.push(name);
        return fail ? Promise.reject(fail) : Promise.resolve({ succeeded: true });
      },
    }),
  } as unknown as QueueServiceClient;
  return { svc, calls };
}

describe('QueueDirectory.ensure', () => {
  it('treats 403 on create (an identity with send rights only) as an existing queue', async () => {
    const { svc, calls } = service(
      Object.assign(new Error('AuthorizationPermissionMismatch'), { statusCode: 403 }),
    );
    const d = new QueueDirectory(svc);
    const c = await d.ensure('dag-task-results');
    expect((c as unknown as { name: string }).name).toBe('dag-task-results');
    await d.ensure('dag-task-results');
    expect(calls).toEqual(['dag-task-results']);
  });

  it('lets other failures through and retries the create next time', async () => {
    const { svc, calls } = service(Object.assign(new Error('boom'), { statusCode: 500 }));
    const d = new QueueDirectory(svc);
    await expect(d.ensure('q1')).rejects.toThrow('boom');
    await expect(d.ensure('q1')).rejects.toThrow('boom');
    expect(calls).toEqual(['q1', 'q1']);
  });
});
