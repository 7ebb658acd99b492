// Storage connections as the Functions host resolves them: a binding's `connection` names an app
// setting (default AzureWebJobsStorage) whose value is a connection string. Only connection strings
// are supported (no identity-based `<name>__queueServiceUri` settings).
import type { QueueClient } from '@azure/storage-queue';
import { toBase64 } from '../lib/base64';
import { createQueueService, QueueDirectory } from '../lib/io/queueDirectory';
import { resolveAppSettings, type Env } from './appSettings';
import { DevHostError } from './devHostError';

export const defaultConnectionName = 'AzureWebJobsStorage';

export class StorageConnections {
  /** One directory of queue clients per connection string. */
  private readonly directories = new Map<string, QueueDirectory>();
  private readonly directoryOf = new WeakMap<QueueClient, QueueDirectory>();

  constructor(private readonly env: Env) {}

  connectionString(connectionName: string | undefined, where: string): string {
    const name = resolveAppSettings(connectionName || defaultConnectionName, this.env, where);
    const value = this.env[name];
    if (!value) {
      throw new DevHostError(
        'config',
        `${where}: the storage connection setting '${name}' is not set. Set it to a connection string ` +
          '(the dev host sets AzureWebJobsStorage from its storageConnectionString option, e.g. Azurite).',
      );
    }
    if (/^\s*UseDevelopmentStorage=true\s*;?\s*$/i.test(value)) {
      throw new DevHostError(
        'config',
        `${where}: '${name}' is "UseDevelopmentStorage=true"; pass the Azurite connection string (with its ports) instead.`,
      );
    }
    return value;
  }

  queue(connectionName: string | undefined, queueName: string, where: string): QueueClient {
    const cs = this.connectionString(connectionName, where);
    let dir = this.directories.get(cs);
    if (!dir) {
      dir = new QueueDirectory(createQueueService({ storageConnectionString: cs }));
      this.directories.set(cs, dir);
    }
    const client = dir.client(queueName);
    this.directoryOf.set(client, dir);
    return client;
  }

  /** Creates the queue once per process (the host creates trigger, output and poison queues). */
  async ensureQueue(client: QueueClient): Promise<void> {
    const dir = this.directoryOf.get(client);
    if (dir) await dir.ensure(client.name);
    else await client.createIfNotExists();
  }
}

export function encodeQueueMessage(text: string, encoding: 'base64' | 'none'): string {
  return encoding === 'base64' ? toBase64(text) : text;
}
