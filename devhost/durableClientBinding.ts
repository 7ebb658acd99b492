// The JSON the Durable extension gives a `durableClient` input (legacy HTTP mode, which
// durable-functions v3 speaks): creation/management URL templates on the public webhook base, and
// `rpcBaseUrl` for the local RPC listener the client actually calls.

export interface DurableClientBindingOptions {
  /** e.g. http://127.0.0.1:7071 */
  publicOrigin: string;
  /** e.g. http://127.0.0.1:40123/durabletask/ (trailing slash required) */
  rpcBaseUrl: string;
  taskHub: string;
  connectionName: string;
  /** Function/system key required on the public webhooks, if any. */
  key: string | undefined;
}

export const webhookPath = '/runtime/webhooks/durabletask';

export function durableClientBinding(o: DurableClientBindingOptions): Record<string, unknown> {
  const base = `${o.publicOrigin}${webhookPath}`;
  const code = o.key ? `code=${encodeURIComponent(o.key)}` : '';
  const q = `taskHub=${encodeURIComponent(o.taskHub)}&connection=${encodeURIComponent(o.connectionName)}${code ? `&${code}` : ''}`;
  return {
    taskHubName: o.taskHub,
    creationUrls: {
      createNewInstancePostUri: `${base}/orchestrators/{functionName}[/{instanceId}]${code ? `?${code}` : ''}`,
      createAndWaitOnNewInstancePostUri:
        `${base}/orchestrators/{functionName}[/{instanceId}]?timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}` +
        (code ? `&${code}` : ''),
    },
    managementUrls: managementUrls(base, 'INSTANCEID', q),
    baseUrl: base,
    requiredQueryStringParameters: code,
    rpcBaseUrl: o.rpcBaseUrl,
  };
}

/** The management URLs of one instance (HttpManagementPayload plus the id). */
export function managementUrls(base: string, instanceId: string, query: string): Record<string, string> {
  const inst = `${base}/instances/${instanceId}`;
  return {
    id: instanceId,
    statusQueryGetUri: `${inst}?${query}`,
    sendEventPostUri: `${inst}/raiseEvent/{eventName}?${query}`,
    terminatePostUri: `${inst}/terminate?reason={text}&${query}`,
    rewindPostUri: `${inst}/rewind?reason={text}&${query}`,
    purgeHistoryDeleteUri: `${inst}?${query}`,
    restartPostUri: `${inst}/restart?${query}`,
    suspendPostUri: `${inst}/suspend?reason={text}&${query}`,
    resumePostUri: `${inst}/resume?reason={text}&${query}`,
  };
}
