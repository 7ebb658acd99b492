// The one error type the dev host throws for configuration and usage problems. `code` is stable
// (tests and the HTTP layer map it); the message says what, where and what to do.

export type DevHostErrorCode =
  | 'config'
  | 'app-load'
  | 'not-found'
  | 'conflict'
  | 'bad-request'
  | 'unsupported'
  | 'gone'
  | 'timeout'
  | 'store'
  | 'launcher'
  | 'internal';

export class DevHostError extends Error {
  constructor(
    readonly code: DevHostErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DevHostError';
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
