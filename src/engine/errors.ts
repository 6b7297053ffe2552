/** Stable codes for every failure a user can cause; the CLI maps them to exit codes. */
export type ErrorCode =
  | 'BAD_URL'
  | 'UNSUPPORTED_URL'
  | 'BAD_TARGET'
  | 'UNKNOWN_REVISION'
  | 'AMBIGUOUS_REVISION'
  | 'NOTHING_TO_REVERT'
  | 'INVALID_TARGET'
  | 'JOURNAL'
  | 'MISSING_FILE'
  | 'MISSING_DOWN'
  | 'EMPTY_DOWN'
  | 'MIGRATION_FAILED'
  | 'FOREIGN_KEY_VIOLATION'
  | 'TRANSACTION_CONTROL'
  | 'HISTORY_PROBLEM'
  | 'SCHEMA_MISMATCH'
  | 'DATABASE'
  | 'CORRUPT'
  | 'GENERATE_FAILED'
  | 'GENERATED_MIGRATION_FAILS'
  | 'MODELS_SQL_FAILS'
  | 'ADOPT_REFUSED'
  | 'EXISTS'
  | 'LOCKED'
  | 'BACKUP'
  | 'SCHEMA_LOAD'
  | 'DRIZZLE_KIT_MISSING'
  | 'SOURCE_ONLY'
  | 'BAD_RENAME'
  | 'AMBIGUOUS_RENAME';

/** Codes that mean the command line itself was wrong (exit 2), not the work (exit 1). */
const USAGE_CODES: ReadonlySet<ErrorCode> = new Set(['BAD_TARGET']);

/** The one error type of the runner: a one-line message, a stable code, an optional cause. */
export class MigrateError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MigrateError';
    this.code = code;
  }

  get isUsage(): boolean {
    return USAGE_CODES.has(this.code);
  }
}

export function assertNever(value: never): never {
  throw new Error(`unexpected value: ${JSON.stringify(value)}`);
}
