// Storage connections as the Functions host resolves them: a binding's `connection` names an app
// setting (default AzureWebJobsStorage) whose value is a connection string. Only connection strings
// are supported (no identity-based `<name>__queueServiceUri` settings).
import { QueueServiceClient, type QueueClient } from '@azure/storage-queue';
import { resolveAppSettings, type Env } from './appSettings';
import { DevHostError } from './devHostError';

export const defaultConnectionName = 'AzureWebJobsStorage';

export class StorageConnections {
  private readonly services = new Map<string, QueueServiceClient>();
  private readonly ensured = new Map<string, Promise<unknown>>();

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
    let svc = this.services.get(cs);
    if (!svc) {
      svc = QueueServiceClient.fromConnectionString(cs);
      this.services.set(cs, svc);
    }
    return svc.getQueueClient(queueName);
  }

  /** Creates the queue once per process (the host creates trigger, output and poison queues). */
  async ensureQueue(client: QueueClient): Promise<void> {
    let p = this.ensured.get(client.url);
    if (!p) {
      p = client.createIfNotExists().catch((err: unknown) => {
        this.ensured.delete(client.url);
        throw err;
      });
      this.ensured.set(client.url, p);
    }
    await p;
  }
}

export function encodeQueueMessage(text: string, encoding: 'base64' | 'none'): string {
  return encoding === 'base64' ? Buffer.from(text, 'utf8').toString('base64') : text;
}
