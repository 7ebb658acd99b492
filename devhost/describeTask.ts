// How a history event and a scheduled task are named in the dev host's messages (the replay shim's
// non-determinism errors, the dispatcher's logs).
import { eventTypeName, type HistoryEvent } from './historyEvents';
import type { TaskInfo } from './replayShim';

export function describeHistoryEvent(e: HistoryEvent): string {
  const name = eventTypeName(e.EventType);
  return e.Name !== undefined ? `${name} '${e.Name}'` : name;
}

export function describeTask(info: Pick<TaskInfo, 'kind' | 'name' | 'purpose'>): string {
  switch (info.kind) {
    case 'activity':
      return info.purpose === 'retryAttempt'
        ? `a retry of activity '${info.name}'`
        : `activity '${info.name}'`;
    case 'subOrchestration':
      return info.purpose === 'retryAttempt'
        ? `a retry of sub-orchestration '${info.name}'`
        : `sub-orchestration '${info.name}'`;
    case 'timer':
      return info.purpose === 'retryTimer'
        ? `the retry timer of '${info.name}'`
        : info.purpose === 'canceledTimer'
          ? 'a canceled timer'
          : 'a timer';
  }
}
