// Extra inputs and outputs around an invocation: the durable client input (the JSON the Durable
// extension passes to `df.input.durableClient()`) and storage queue outputs (`output.storageQueue`,
// also as a return binding). Other binding types fail loudly when used.
import { resolveAppSettings, type Env } from './appSettings';
import { DevHostError } from './devHostError';
import type { InputBinding } from './functionInvoker';
import type { RpcInvocationResponse, RpcTypedData } from './functionsCore';
import type { Registration } from './loadApp';
import { fromRpc } from './rpcData';
import { encodeQueueMessage, type StorageConnections } from './storageConnections';

export interface OutputBindingsOptions {
  env: Env;
  storage: StorageConnections;
  messageEncoding: 'base64' | 'none';
  /** The durable client binding data (computed once the HTTP server knows its port). */
  durableClientData(): unknown;
}

export class OutputBindings {
  constructor(private readonly o: OutputBindingsOptions) {}

  extraInputs(reg: Registration): InputBinding[] {
    const out: InputBinding[] = [];
    for (const [name, b] of Object.entries(reg.inputs)) {
      if (b.type === 'durableClient' || b.type === 'orchestrationClient') {
        out.push({ name, data: { json: JSON.stringify(this.o.durableClientData()) } });
      } else {
        throw new DevHostError(
          'unsupported',
          `Function '${reg.name}' declares an input binding of type '${b.type}' (${name}), which the dev host does not ` +
            'provide. Read the data with an SDK client inside the function instead.',
        );
      }
    }
    return out;
  }

  /** Writes the values the function set for its output bindings (after a successful invocation). */
  async write(reg: Registration, response: RpcInvocationResponse): Promise<void> {
    for (const [name, b] of Object.entries(reg.outputs)) {
      if (b.type === 'http') continue;
      const data: RpcTypedData | null | undefined =
        name === '$return' ? response.returnValue : response.outputData?.find((o) => o.name === name)?.data;
      const value = fromRpc(data);
      if (value === undefined || value === null) continue;
      if (b.type !== 'queue') {
        throw new DevHostError(
          'unsupported',
          `Function '${reg.name}' set output binding '${name}' of type '${b.type}', which the dev host does not write. ` +
            'Write it with an SDK client inside the function instead.',
        );
      }
      const where = `function '${reg.name}' output '${name}'`;
      const queueName = resolveAppSettings(String(b.queueName ?? ''), this.o.env, `${where} queueName`);
      const client = this.o.storage.queue(b.connection as string | undefined, queueName, where);
      await this.o.storage.ensureQueue(client);
      const items = Array.isArray(value) ? value : [value];
      for (const item of items) {
        const text =
          typeof item === 'string'
            ? item
            : Buffer.isBuffer(item)
              ? item.toString('utf8')
              : JSON.stringify(item);
        await client.sendMessage(encodeQueueMessage(text, this.o.messageEncoding));
      }
    }
  }
}
