// The actions an out-of-process orchestrator returns to the Durable extension (the OOProc protocol's
// JSON, schema V2/V3: durable-functions' actions serialized), as the replay shim reads them.

export interface RetryOptionsJson {
  firstRetryIntervalInMilliseconds?: number;
  maxNumberOfAttempts?: number;
  backoffCoefficient?: number;
  maxRetryIntervalInMilliseconds?: number;
  retryTimeoutInMilliseconds?: number;
}

export interface ActionJson {
  actionType: number;
  functionName?: string;
  input?: unknown;
  retryOptions?: RetryOptionsJson;
  instanceId?: string;
  version?: string;
  fireAt?: string;
  isCanceled?: boolean;
  externalEventName?: string;
  compoundActions?: ActionJson[];
}

export const ActionType = {
  CallActivity: 0,
  CallActivityWithRetry: 1,
  CallSubOrchestrator: 2,
  CallSubOrchestratorWithRetry: 3,
  ContinueAsNew: 4,
  CreateTimer: 5,
  WaitForExternalEvent: 6,
  CallEntity: 7,
  CallHttp: 8,
  SignalEntity: 9,
  ScheduledSignalEntity: 10,
  WhenAny: 11,
  WhenAll: 12,
  LockEntities: 13,
  ReleaseEntities: 14,
} as const;
