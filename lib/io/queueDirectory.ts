// Storage queue clients for every process that sends or receives (the Function App, the container
// worker, the dev host's bindings, the CLI): the service client from a connection string (Azurite
// locally, or an account key) or from the queue service URL with DefaultAzureCredential (a managed
// identity on Azure), and one client per queue name, each created (createIfNotExists) once.
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import { QueueServiceClient, type QueueClient } from '@azure/storage-queue';

export interface QueueServiceOptions {
  storageConnectionString?: string;
  queueServiceUrl?: string;
  credential?: TokenCredential;
}

/** `missing`: what to say when neither is given (a process may name its own settings). */
export function createQueueService(
  o: QueueServiceOptions,
  missing = 'Queue storage is needed: pass storageConnectionString (Azurite locally) or queueServiceUrl (https://<account>.queue.core.windows.net, reached with the managed identity).',
): QueueServiceClient {
  if (o.storageConnectionString) return QueueServiceClient.fromConnectionString(o.storageConnectionString);
  if (o.queueServiceUrl)
    return new QueueServiceClient(o.queueServiceUrl, o.credential ?? new DefaultAzureCredential());
  throw new Error(missing);
}

/** Queue clients by name, each created (createIfNotExists) once; a failed create is retried next time. */
export class QueueDirectory {
  private readonly entries = new Map<string, { client: QueueClient; ready?: Promise<unknown> }>();

  constructor(private readonly service: QueueServiceClient) {}

  client(name: string): QueueClient {
    let e = this.entries.get(name);
    if (!e) {
      e = { client: this.service.getQueueClient(name) };
      this.entries.set(name, e);
    }
    return e.client;
  }

  /** The client, after making sure the queue exists. */
  async ensure(name: string): Promise<QueueClient> {
    const client = this.client(name);
    const e = this.entries.get(name)!;
    if (!e.ready) {
      // On Azure the queues are declared by the deployment and an identity may only send to some of
      // them (the worker to the result queue): a 403 on create means "exists, not ours to manage".
      e.ready = client.createIfNotExists().catch((err: unknown) => {
        if (storageStatus(err) === 403) return undefined;
        throw err;
      });
      e.ready.catch(() => (e.ready = undefined));
    }
    await e.ready;
    return client;
  }
}

/** The HTTP status of a Storage SDK error (404 when a pop receipt no longer matches, ...). */
export function storageStatus(err: unknown): number | undefined {
  const s = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof s === 'number' ? s : undefined;
}
