// The durable client of an invocation, as df.getClient(context) builds it, but built once per host:
// the client is made from its binding's data (task hub, the host's webhook and RPC URLs, key), the
// same for every invocation, and it keeps no state of its own. Building one per request (an axios
// instance, a URL check of every webhook) cost about as much CPU as the request it then makes.
import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';

const clients = new Map<string, df.DurableClient>();
/** More distinct binding data than this (keys rotated many times) starts the cache afresh. */
const MAX_CLIENTS = 16;

export function durableClient(context: InvocationContext): df.DurableClient {
  const binding = context.options.extraInputs.find(
    (i) => i.type === 'durableClient' || i.type === 'orchestrationClient',
  );
  // Without a binding (or its data) df.getClient throws its own explanation.
  const data = binding ? context.extraInputs.get(binding) : undefined;
  if (data === undefined || data === null) return df.getClient(context);
  // getClient rewrites the URLs unless WEBSITE_HOSTNAME is set: part of what the client is.
  const key = `${process.env.WEBSITE_HOSTNAME ?? ''}\n${JSON.stringify(data)}`;
  let client = clients.get(key);
  if (!client) {
    client = df.getClient(context);
    if (clients.size >= MAX_CLIENTS) clients.clear();
    clients.set(key, client);
  }
  return client;
}
