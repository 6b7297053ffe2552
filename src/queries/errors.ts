import { DrizzleQueryError } from 'drizzle-orm';

/** Stable codes of the query layer's errors, for mapping to HTTP statuses or bot replies. */
export type QueryErrorCode = 'EMAIL_TAKEN' | 'INVALID_CREDENTIALS' | 'INVALID_RESET_TOKEN' | 'DATABASE';

/** Base class of the errors an app user can cause through the query layer: a stable `code`, a one-line message. */
export class QueryError extends Error {
  readonly code: QueryErrorCode;

  constructor(code: QueryErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** `createUser`: an account with this email (after trimming and lower-casing) already exists. */
export class EmailTakenError extends QueryError {
  constructor(readonly email: string) {
    super('EMAIL_TAKEN', 'an account with this email already exists');
  }
}

/**
 * `verifyPassword`: the email is unknown or the password is wrong. Deliberately the same error and message
 * for both, so that a login form cannot be used to find out which emails have accounts.
 */
export class InvalidCredentialsError extends QueryError {
  constructor() {
    super('INVALID_CREDENTIALS', 'invalid email or password');
  }
}

/** `resetPassword`: the token is unknown, already used, or expired (one error for all three, as for logins). */
export class InvalidResetTokenError extends QueryError {
  constructor() {
    super('INVALID_RESET_TOKEN', 'invalid or expired password reset token');
  }
}

/**
 * A query of the layer failed in the database (locked for too long, closed, a constraint or trigger, a full disk).
 * The message is the operation and the driver's first line. Drizzle's own error is dropped from the chain: its
 * message lists the query's parameters, which hold password and reset-token hashes and the token's expiry.
 */
export class DatabaseQueryError extends QueryError {
  constructor(operation: string, error: unknown) {
    const driverError = error instanceof DrizzleQueryError ? error.cause : error;
    const reason = driverError instanceof Error ? driverError.message : String(driverError ?? 'unknown error');
    super('DATABASE', `${operation}: database error: ${reason.split('\n')[0]}`, driverError === undefined ? undefined : { cause: driverError });
  }
}
