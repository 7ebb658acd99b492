// The one error type of db/: expected outcomes (conflicts, duplicates, not found) are returned as
// values by the repositories; these are thrown for invalid input and infrastructure faults only.

export type DbErrorCode =
  /** A value failed validation before reaching the database (too long, NUL character, bad JSON...). */
  | 'VALIDATION'
  /** The caller asked for something the state machine forbids (a programming error). */
  | 'INVALID_TRANSITION'
  /** A uniqueness or state conflict that the caller cannot resolve by retrying as is. */
  | 'CONFLICT'
  /** Bad configuration (environment variables, schema names). */
  | 'CONFIG'
  /** The database failed or returned something unexpected. */
  | 'DATABASE';

export class DbError extends Error {
  readonly code: DbErrorCode;
  readonly details?: Record<string, unknown>;

  constructor(code: DbErrorCode, message: string, details?: Record<string, unknown>, options?: ErrorOptions) {
    super(message, options);
    this.name = 'DbError';
    this.code = code;
    if (details) this.details = details;
  }
}

/** A value that cannot be stored: names the table, the field and (for lengths) the limit. */
export class DbValidationError extends DbError {
  readonly table: string | undefined;
  readonly field: string;
  readonly limit: number | undefined;

  constructor(args: { table?: string; field: string; message: string; limit?: number }) {
    super('VALIDATION', args.message, {
      ...(args.table ? { table: args.table } : {}),
      field: args.field,
      ...(args.limit !== undefined ? { limit: args.limit } : {}),
    });
    this.name = 'DbValidationError';
    this.table = args.table;
    this.field = args.field;
    this.limit = args.limit;
  }
}

export function isDbError(err: unknown): err is DbError {
  return err instanceof DbError;
}
